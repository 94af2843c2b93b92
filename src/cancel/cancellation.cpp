// cancellation — the shared state behind cancellation_source/token, the
// cancelled() awaiter, and the std::stop_token bridges.
//
// The protocol (list under one mutex per state, callbacks run unlocked with
// the running node recorded, withdrawal waits for a run on another thread) is
// described in include/weft/cancellation.hpp. Who touches what here:
//   - head_/tail_/count_/the nodes' links, running_, canceller_, waiting_ and
//     stop_source_ (the member, not the std state behind it): only under mu_;
//   - cancelled_: written once, under mu_; read anywhere (atomic);
//   - refs_: any holder (atomic);
//   - parent_link_.parent: written before the state is shared, then read only
//     by the thread dropping the last reference.
#include <weft/cancellation.hpp>

#include "cancel/cancellation_walk.hpp"

#include <stop_token>
#include <thread>
#include <utility>

namespace weft::detail {

namespace {

/// from_stop_token's state: a cancellation_state that also holds the
/// std::stop_callback cancelling it. One allocation for both. Destroying it
/// destroys the stop_callback first, which waits for a request_stop running
/// the bridge on another thread; the bridge finds the count at zero and does
/// nothing (cancel_from_bridge → try_ref fails).
class stop_bridged_state final : public cancellation_state {
 public:
  explicit stop_bridged_state(std::stop_token st)
      : watched_(st), callback_(std::move(st), bridge{this}) {}

  // Cancelled exactly when `watched_` is requested (nothing else can cancel
  // this state), so the round trip needs no std::stop_source of our own.
  std::stop_token stop_token() override { return watched_; }

 private:
  struct bridge {
    stop_bridged_state* state;
    void operator()() const noexcept { state->cancel_from_bridge(); }
  };
  const std::stop_token watched_;
  std::stop_callback<bridge> callback_;
};

/// The outermost cancel() walk running on this thread: bridged states whose
/// std::stop_callback ran during it (a request_stop of the walk) wait here,
/// each with a reference, to be cancelled by that walk after its current
/// tree. Only this thread touches it.
struct walk_queue {
  cancellation_state* head = nullptr;
  cancellation_state* tail = nullptr;
};
thread_local walk_queue* this_thread_walk = nullptr;

// Bridged cancels run synchronously, each as a walk of its own nested in the
// one that requested the stop, up to this depth; deeper ones are queued for
// the outermost walk. So a callback that calls request_stop() sees the
// bridged token cancelled when it returns (a std::jthread's
// request_stop(); join() works), and only a chain of bridges deeper than
// this, which would otherwise nest one walk per level, is deferred.
constexpr int max_nested_bridge_walks = 16;
thread_local int nested_bridge_walks = 0;

// Hides the walk running on this thread, so a cancel() started now is an
// outermost walk of its own.
struct hide_walk {
  walk_queue* saved = std::exchange(this_thread_walk, nullptr);
  hide_walk() = default;
  hide_walk(const hide_walk&) = delete;
  hide_walk& operator=(const hide_walk&) = delete;
  ~hide_walk() { this_thread_walk = saved; }
};

}  // namespace

cancellation_state::parent_link::parent_link(cancellation_state* c) noexcept
    : cancellation_node(&cancel_from_parent, /*run_locked=*/false), child(c) {}

cancellation_state* cancellation_state::create() {
  return new cancellation_state();
}

cancellation_state* cancellation_state::create_child(cancellation_state* parent) {
  cancellation_state* c = create();
  if (parent == nullptr) return c;
  parent->ref();  // the child's, dropped when the child goes
  c->parent_link_.parent = parent;
  if (parent->link(c->parent_link_)) return c;
  // The parent is cancelled already: so is the child, and it needs no link.
  c->parent_link_.parent = nullptr;
  parent->unref();  // not the last: the caller holds one
  // ORDERING: relaxed: `c` is not shared yet; handing it to the caller
  // publishes it.
  c->cancelled_.store(true, std::memory_order_relaxed);
  return c;
}

cancellation_state* cancellation_state::create_from_stop_token(std::stop_token st) {
  if (!st.stop_possible()) return nullptr;  // can never be requested
  // Stop requested already: the std::stop_callback runs the bridge in the
  // constructor, on this thread. It must cancel at once even inside a walk
  // (a callback making a token), not be queued for later: hide the walk.
  hide_walk hidden;
  return new stop_bridged_state(std::move(st));
}

void cancellation_state::unref() noexcept {
  // Iterative, so dropping the last reference to a deep chain of children
  // does not recurse.
  cancellation_state* s = this;
  // ORDERING: acq_rel: the release half publishes this holder's writes to the
  // thread that frees; the acquire half, on the thread that takes the count
  // to zero, sees every other holder's writes before the state is destroyed.
  while (s != nullptr && s->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    cancellation_state* parent = s->parent_link_.parent;
    // Withdraw from the parent first: it may be running our link right now
    // (then this waits for it, and the link finds our count at zero).
    if (parent != nullptr) parent->withdraw(s->parent_link_);
    delete s;
    s = parent;  // drop the reference the child held
  }
}

bool cancellation_state::try_ref() noexcept {
  // ORDERING: relaxed (load and CAS): as ref(); the memory is kept alive by
  // the caller's node (linked or running), and a zero count means it is being
  // destroyed — we must not bring it back.
  std::size_t n = refs_.load(std::memory_order_relaxed);
  do {
    if (n == 0) return false;
  } while (
      !refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed, std::memory_order_relaxed));
  return true;
}

void cancellation_state::cancel_if_alive() noexcept {
  if (!try_ref()) return;
  cancel();
  unref();
}

void cancellation_state::cancel_from_bridge() noexcept {
  walk_queue* q = this_thread_walk;
  if (q == nullptr) {
    cancel_if_alive();
    return;
  }
  if (nested_bridge_walks < max_nested_bridge_walks) {
    hide_walk hidden;
    ++nested_bridge_walks;
    cancel_if_alive();
    --nested_bridge_walks;
    return;
  }
  if (!try_ref()) return;  // being destroyed: nobody can observe it
  deferred_next_ = nullptr;
  (q->tail != nullptr ? q->tail->deferred_next_ : q->head) = this;
  q->tail = this;
}

void cancellation_state::cancel_from_parent(cancellation_node& n) noexcept {
  // cancel()'s walk enters a child itself (run_registrations); this is the
  // link's run function for anything that runs it directly.
  static_cast<parent_link&>(n).child->cancel_if_alive();
}

bool cancellation_state::begin_cancel() noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  // ORDERING: relaxed: the flag is only written under mu_, which we hold.
  if (cancelled_.load(std::memory_order_relaxed)) return false;
  // ORDERING: release: pairs with the acquire load in is_cancelled(); a
  // reader that sees the flag sees what this thread wrote before cancel().
  cancelled_.store(true, std::memory_order_release);
  canceller_ = std::this_thread::get_id();
  return true;
}

cancellation_state* cancellation_state::run_registrations(bool resuming) noexcept {
  sync::unique_lock<sync::mutex> lock(mu_);
  if (resuming) {
    // The child entered through running_ (our link to it) is cancelled.
    running_ = nullptr;
    if (waiting_ != 0) running_done_.notify_all();
  }
  while (head_ != nullptr) {
    cancellation_node* n = head_;
    unlink_locked(*n);
    if (n->run_locked_) {
      n->run_(*n);  // a wake: short, touches no cancellation state
      continue;
    }
    running_ = n;
    lock.unlock();
    if (n->run_ == &cancel_from_parent) {
      // A child: enter it instead of calling into it (no recursion). Its
      // reference (try_ref) is the walk's; finish_cancel drops it.
      cancellation_state* child = static_cast<parent_link&>(*n).child;
      if (child->try_ref()) {
        if (child->begin_cancel()) {
          child->walk_parent_ = this;
          return child;  // running_ stays our link until the child is done
        }
        child->unref();  // cancelled already; may free it (and `n` with it)
      }
    } else {
      n->run_(*n);  // `n` may be gone when this returns: never touch it again
    }
    lock.lock();
    running_ = nullptr;
    if (waiting_ != 0) running_done_.notify_all();
  }
  canceller_ = std::thread::id{};
  // stop_source_ is only assigned while it has no state, under mu_; once it
  // has one it is only read, so it may be used after unlocking.
  walk_has_stop_source_ = stop_source_.stop_possible();
  return nullptr;
}

void cancellation_state::finish_cancel() noexcept {
  if (walk_has_stop_source_) stop_source_.request_stop();
  unref();  // the walk's reference; may free *this
}

namespace {
// Cancellation walks under way on this thread (nested ones included).
thread_local int tl_cancel_walks = 0;
struct counted_walk {
  counted_walk() noexcept { ++tl_cancel_walks; }
  counted_walk(const counted_walk&) = delete;
  counted_walk& operator=(const counted_walk&) = delete;
  ~counted_walk() { --tl_cancel_walks; }
};
}  // namespace

bool cancellation_walk_on_this_thread() noexcept { return tl_cancel_walks != 0; }

bool cancellation_state::cancel() noexcept {
  if (!begin_cancel()) return false;
  const counted_walk counted;
  // A reference of our own for the walk: a callback may drop the last other
  // one (destroy its registration and the last source).
  ref();
  // Depth first over the tree of children, with no recursion: `s` is the
  // state whose registrations run now; a child's link makes its child the
  // current state, and a state whose list is empty hands back to the state
  // that entered it (walk_parent_), which goes on after the link.
  //
  // The outermost walk on a thread also cancels, one after another as roots
  // of their own, the bridged states (from_stop_token) whose std callback ran
  // in its request_stop calls (cancel_from_bridge queues them).
  walk_queue queue;
  const bool outermost = this_thread_walk == nullptr;
  if (outermost) this_thread_walk = &queue;
  cancellation_state* s = this;
  bool resuming = false;
  for (;;) {
    if (cancellation_state* child = s->run_registrations(resuming)) {
      s = child;
      resuming = false;
      continue;
    }
    cancellation_state* up = s->walk_parent_;  // read before s may be freed
    s->finish_cancel();
    if (up != nullptr) {
      s = up;
      resuming = true;
      continue;
    }
    // A root is done: the next queued bridged state, if any, is the next root.
    s = nullptr;
    while (outermost && queue.head != nullptr && s == nullptr) {
      cancellation_state* d = queue.head;
      queue.head = d->deferred_next_;
      if (queue.head == nullptr) queue.tail = nullptr;
      if (d->begin_cancel()) {
        s = d;  // its queued reference is the walk's
      } else {
        d->unref();
      }
    }
    if (s == nullptr) break;
    resuming = false;
  }
  if (outermost) this_thread_walk = nullptr;
  return true;
}

bool cancellation_state::link(cancellation_node& n) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  // ORDERING: relaxed: written only under mu_, which we hold.
  if (cancelled_.load(std::memory_order_relaxed)) return false;
  n.prev_ = tail_;
  n.next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = &n;
  } else {
    head_ = &n;
  }
  tail_ = &n;
  n.linked_ = true;
  ++count_;
  return true;
}

void cancellation_state::unlink_locked(cancellation_node& n) noexcept {
  if (n.prev_ != nullptr) {
    n.prev_->next_ = n.next_;
  } else {
    head_ = n.next_;
  }
  if (n.next_ != nullptr) {
    n.next_->prev_ = n.prev_;
  } else {
    tail_ = n.prev_;
  }
  n.prev_ = nullptr;
  n.next_ = nullptr;
  n.linked_ = false;
  --count_;
}

void cancellation_state::withdraw(cancellation_node& n) noexcept {
  sync::unique_lock<sync::mutex> lock(mu_);
  if (n.linked_) {
    unlink_locked(n);
    return;
  }
  // Not linked: it ran, is running, or never was registered. Only a run on
  // another thread needs waiting for; a run on this thread is our caller
  // (the callback withdrawing itself), and the loop will not touch `n` again.
  if (running_ != &n || canceller_ == std::this_thread::get_id()) return;
  ++waiting_;
  running_done_.wait(lock, [&] { return running_ != &n; });
  --waiting_;
}

std::stop_token cancellation_state::stop_token() {
  sync::lock_guard<sync::mutex> lock(mu_);
  if (!stop_source_.stop_possible()) {
    stop_source_ = std::stop_source{};
    // ORDERING: relaxed: written only under mu_, which we hold. If cancel()
    // ran already it saw no std::stop_source, so the request is ours to make.
    if (cancelled_.load(std::memory_order_relaxed)) stop_source_.request_stop();
  }
  return stop_source_.get_token();
}

std::size_t cancellation_state::registrations() noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  return count_;
}

std::size_t cancellation_registrations(const cancellation_token& t) noexcept {
  return t.state() == nullptr ? 0 : t.state()->registrations();
}

}  // namespace weft::detail

namespace weft {

cancelled_awaiter::cancelled_awaiter(detail::cancellation_state* s) noexcept
    : cancellation_node(&wake, /*run_locked=*/true), state_(s) {
  if (state_ != nullptr) state_->ref();
}

cancelled_awaiter::~cancelled_awaiter() {
  if (state_ == nullptr) return;
  // Destroyed while waiting (weft::timeout, shutdown): unlink. A locked run
  // is over once we hold the mutex, so this never waits.
  if (registered_) state_->withdraw(*this);
  state_->unref();
}

bool cancelled_awaiter::await_ready() noexcept {
  if (state_ == nullptr || !state_->is_cancelled()) return false;
  // Ready: go on unless this step's budget is spent.
  yield_ = !detail::consume_budget();
  return !yield_;
}

bool cancelled_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (yield_) {
    detail::suspend_current_and_reschedule(h);  // budget spent: let others run
    return true;
  }
  waker w = suspend_current(h);
  // Never cancelled: wait until the coroutine is destroyed. Dropping the
  // waker leaves nothing that could resume it.
  if (state_ == nullptr) return true;
  waker_ = std::move(w);  // before linking: a cancel may run the node at once
  registered_ = true;
  if (state_->link(*this)) return true;
  // Cancelled since await_ready: drop the waker and go on.
  registered_ = false;
  waker_ = waker{};
  return false;
}

void cancelled_awaiter::wake(cancellation_node& n) noexcept {
  // Under the state's mutex (run_locked), so a destructor racing this run
  // waits for it. The cancel loop unlinked the node first and never touches
  // it after this returns: once woken, the task may resume on another thread
  // and free the awaiter at once (await_resume cleared registered_, so its
  // destructor takes no lock). The wake itself never runs the task inline.
  waker w = std::move(static_cast<cancelled_awaiter&>(n).waker_);
  w.wake();
}

std::stop_token to_stop_token(const cancellation_token& t) {
  return t.state() == nullptr ? std::stop_token{} : t.state()->stop_token();
}

cancellation_token from_stop_token(std::stop_token st) {
  return cancellation_token{detail::cancellation_state::create_from_stop_token(std::move(st))};
}

}  // namespace weft
