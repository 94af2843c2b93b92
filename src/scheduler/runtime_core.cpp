// The work-stealing scheduler. See runtime_core.hpp for the design.
#include "scheduler/runtime_core.hpp"

#include "io/epoll_driver.hpp"
#include "io/uring_driver.hpp"

#include <weft/detail/deadline.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>

#include <pthread.h>
#include <csignal>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <string>

namespace weft::detail {
namespace {
// The worker this thread is (and of which runtime). A thread is a worker of
// at most one runtime at a time.
thread_local worker* tl_worker = nullptr;
thread_local runtime_core* tl_worker_rt = nullptr;

std::uint64_t next_random(std::uint64_t& s) noexcept {
  // xorshift64: victim choice only needs to be cheap and spread out.
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

/// The I/O backend: the builder's choice, else WEFT_IO_BACKEND, else
/// automatic (io_uring where the kernel allows it, epoll otherwise).
driver_factory choose_drivers(const runtime_config& cfg) {
  const io_backend_choice choice = cfg.io_set_by_builder ? cfg.io : io_backend_from_env();
  driver_factory f = select_io_backend(choice);
  const char* log = std::getenv("WEFT_LOG");
  if (log != nullptr && std::string_view(log) == "debug") {
    std::fprintf(stderr, "weft: runtime I/O backend: %s\n", to_string(f.backend));
  }
  return f;
}

std::size_t worker_count_for(const runtime_config& cfg) {
  if (cfg.flavor == runtime_flavor::current_thread) return 1;
  if (cfg.worker_threads != 0) return cfg.worker_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

/// Makes this thread a worker of `rt` for the guard's lifetime.
class worker_scope {
 public:
  worker_scope(runtime_core* rt, worker* w) noexcept
      : prev_worker_(tl_worker),
        prev_rt_(tl_worker_rt),
        prev_current_(current_runtime()),
        prev_in_runner_(in_runner()) {
    tl_worker = w;
    tl_worker_rt = rt;
    current_runtime() = rt;
    in_runner() = true;
  }
  worker_scope(const worker_scope&) = delete;
  worker_scope& operator=(const worker_scope&) = delete;
  ~worker_scope() {
    tl_worker = prev_worker_;
    tl_worker_rt = prev_rt_;
    current_runtime() = prev_current_;
    in_runner() = prev_in_runner_;
  }

 private:
  worker* prev_worker_;
  runtime_core* prev_rt_;
  runtime_core* prev_current_;
  bool prev_in_runner_;
};
}  // namespace

runtime_core::runtime_core(const runtime_config& cfg)
    : cfg_(cfg),
      current_thread_(cfg.flavor == runtime_flavor::current_thread),
      drivers_(choose_drivers(cfg)),
      idle_(worker_count_for(cfg)),
      clock_(cfg.start_paused),
      blocking_(*this, blocking_pool::config{cfg.max_blocking_threads, cfg.blocking_keep_alive,
                                             cfg.thread_name_prefix, cfg.on_thread_start,
                                             cfg.on_thread_stop}) {
  const std::size_t n = worker_count_for(cfg);
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto w = std::make_unique<worker>();
    w->index = i;
    // xorshift must not start at 0; distinct per worker.
    w->rng = (cfg.rng_seed ^ (0x9e3779b97f4a7c15ull * (i + 1))) | 1;
    // A worker thread drives its ring alone for its whole life; a
    // current-thread runtime is driven by whichever thread calls block_on.
    w->driver = drivers_.make(/*single_owner=*/!current_thread_);
    w->io.uring = dynamic_cast<uring_driver*>(w->driver.get());
    w->io.epoll = dynamic_cast<epoll_driver*>(w->driver.get());
    workers_.push_back(std::move(w));
  }
}

runtime_core::~runtime_core() = default;

void runtime_core::start() {
  if (current_thread_) return;
  for (auto& wp : workers_) {
    worker& w = *wp;
    w.thread = std::thread([this, &w] { worker_main(w); });
    const std::string name = (cfg_.thread_name_prefix + "-" + std::to_string(w.index)).substr(0, 15);
    pthread_setname_np(w.thread.native_handle(), name.c_str());
  }
}

worker_io* current_worker_io() noexcept { return tl_worker != nullptr ? &tl_worker->io : nullptr; }
scheduler* current_worker_runtime() noexcept { return tl_worker_rt; }

worker* runtime_core::this_worker() const noexcept {
  return tl_worker_rt == this ? tl_worker : nullptr;
}

void runtime_core::retain() noexcept {
  // ORDERING: relaxed: made from a reference the caller holds.
  refs_.fetch_add(1, std::memory_order_relaxed);
}

void runtime_core::release() noexcept {
  // ORDERING: acq_rel: the last release sees every other holder's writes
  // before the core is destroyed.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

// ---- scheduling ----------------------------------------------------------------

void runtime_core::schedule(task_header* t) noexcept {
  worker* w = this_worker();
  if (w == nullptr) {
    push_remote(t);
    return;
  }
  // Woken by the task running here (or a timer this worker fired): run it
  // next. The task it displaces goes to the queue where others may steal it.
  if (task_header* prev = std::exchange(w->lifo, t)) push_local(*w, prev);
}

void runtime_core::enqueue_local(worker& w, task_header* t) {
  w.queue.push_back_or_overflow(t, [this](task_header* head, task_header* tail, std::size_t n) {
    // Closed only at shutdown, which destroys every owned task anyway.
    (void)inject_.push_batch(head, tail, n);
  });
}

void runtime_core::push_local(worker& w, task_header* t) {
  enqueue_local(w, t);
  notify_parked();
}

void runtime_core::push_remote(task_header* t) {
  if (!inject_.push(t)) return;  // shut down: the task is destroyed with the rest
  if (current_thread_) {
    workers_[0]->driver->unpark();
  } else {
    notify_parked();
  }
}

void runtime_core::notify_parked() {
  if (current_thread_) return;
  if (auto i = idle_.worker_to_notify()) workers_[*i]->driver->unpark();
}

void runtime_core::notify_if_work_pending() {
  for (auto& w : workers_) {
    if (w->queue.has_tasks()) {
      notify_parked();
      return;
    }
  }
  if (!inject_.is_empty()) notify_parked();
}

void runtime_core::spawn(task_header* t) {
  if (this_worker() == nullptr && closed_to_remote_.load(std::memory_order_acquire)) {
    throw_error(errc::runtime_shut_down, "spawn on a runtime that is shut down");
  }
  retain();  // the header's reference to its scheduler
  t->scheduler_ = this;
  t->prepare_unpublished(task_header::notified, 1);  // + the owned reference
  if (!owned_.insert(t)) {
    t->unref();  // the owned reference; the caller's handle frees the cell
    throw_error(errc::runtime_shut_down, "spawn on a runtime that is shut down");
  }
  schedule(t);
}

void runtime_core::spawn_blocking(task_header* t) {
  if (!blocking_.submit(t)) {
    throw_error(errc::runtime_shut_down, "spawn_blocking on a runtime that is shut down");
  }
}

bool runtime_core::on_complete(task_header* t) noexcept {
  owned_.remove(t);
  return true;  // the owned reference goes with completion
}

// ---- the worker loop -------------------------------------------------------------

void runtime_core::worker_main(worker& w) {
#if defined(WEFT_TSAN)
  // TSan runs a signal handler only inside a call it intercepts, and a worker
  // parks in raw io_uring_enter: a SIGINT/SIGTERM that the kernel hands to a
  // parked worker would never reach weft's signal driver. Under TSan only,
  // workers leave those two to other threads (futex_parker.hpp has the other
  // half: block_on waits in an intercepted call there).
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
#endif
  worker_scope scope(this, &w);
  if (cfg_.on_thread_start) cfg_.on_thread_start();
  run_loop(w, nullptr);
  // Before this thread goes: end the I/O it started (the kernel would cancel
  // it at thread exit, but the ops' completions must still be reaped).
  w.driver->quiesce();
  if (cfg_.on_thread_stop) cfg_.on_thread_stop();
}

void runtime_core::run_loop(worker& w, task_header* until) {
  for (;;) {
    if (until != nullptr ? until->is_complete() : is_shutting_down()) return;
    if (task_header* t = next_task(w)) {
      run_task(w, t);
      continue;
    }
    if (fire_timers(w)) continue;
    // Before running our own yielders again, help with others' work: a
    // worker whose only tasks yield would otherwise spin on them while
    // another worker's queue waits.
    if (task_header* t = steal_work(w)) {
      run_task(w, t);
      continue;
    }
    if (flush_deferred(w)) {
      end_search(w);
      continue;
    }
    park(w, until);
  }
}

task_header* runtime_core::next_task(worker& w) {
  if (--w.ticks_to_event == 0) {
    w.ticks_to_event = cfg_.event_interval;
    // Fairness: the inject queue, the timers and I/O get a turn even when
    // local work never runs out. poll() also hands the I/O queued since the
    // last park to the kernel.
    fire_timers(w);
    (void)w.driver->poll();
    if (task_header* t = inject_.pop()) return t;
  }
  if (w.lifo != nullptr) {
    if (w.lifo_polls < cfg_.max_lifo_polls) {
      ++w.lifo_polls;
      return std::exchange(w.lifo, nullptr);
    }
    // The slot ran max_lifo_polls times in a row: queue it behind the rest.
    push_local(w, std::exchange(w.lifo, nullptr));
  }
  w.lifo_polls = 0;
  if (task_header* t = w.queue.pop()) return t;
  // Refill from the global queue: one to run, up to half a queue to keep.
  task_header* first = nullptr;
  inject_.pop_n(w.queue.remaining_slots() / 2 + 1, [&](task_header* t) {
    if (first == nullptr) {
      first = t;
    } else {
      enqueue_local(w, t);
    }
  });
  return first;
}

task_header* runtime_core::steal_work(worker& w) {
  if (current_thread_) return inject_.pop();
  if (!w.searching) {
    if (!idle_.transition_worker_to_searching()) return nullptr;
    w.searching = true;
  }
  const std::size_t n = workers_.size();
  const std::size_t start = static_cast<std::size_t>(next_random(w.rng) % n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t victim = (start + i) % n;
    if (victim == w.index) continue;
    if (task_header* t = workers_[victim]->queue.steal_into(w.queue)) return t;
  }
  return inject_.pop();
}

void runtime_core::end_search(worker& w) {
  if (!w.searching) return;
  // Found work: stop searching. If we were the last searcher, wake another
  // worker to look for more (there may be more where this came from).
  w.searching = false;
  if (idle_.transition_worker_from_searching()) notify_parked();
}

void runtime_core::run_task(worker& w, task_header* t) {
  end_search(w);
  if (!t->transition_to_running()) return;
  budget() = initial_budget;
  if (run_step(t) == step_result::notified) {
    // Woken during its own step (yield_now, or a wake that raced its
    // suspension): it runs again once the queues here are empty.
    w.deferred.push_back(t);
  }
}

bool runtime_core::flush_deferred(worker& w) {
  if (w.deferred.empty()) return false;
  for (task_header* t : w.deferred) enqueue_local(w, t);
  // One task we pop at once; only a batch leaves work for others to steal.
  if (w.deferred.size() > 1) notify_parked();
  w.deferred.clear();
  return true;
}

bool runtime_core::fire_timers(worker& w) {
  if (w.timers.due_hint == timer_shard::no_timer) return false;  // no clock read, no lock
  const std::uint64_t now = clock_.now_tick();
  if (now < w.timers.due_hint) return false;
  return w.timers.fire_due(now) > 0;
}

void runtime_core::park(worker& w, task_header* until) {
  if (has_local_work(w)) return;
  auto timeout_for_next_timer = [&]() -> std::optional<std::chrono::nanoseconds> {
    auto next = w.timers.next_expiration();
    if (!next) return std::nullopt;
    return time_left(clock_.time_of(*next), clock_.now());
  };
  if (current_thread_) {
    // One worker: nobody to coordinate with. Remote wakes unpark us directly.
    if (until != nullptr && until->is_complete()) return;
    if (!inject_.is_empty()) return;
    if (clock_.paused()) {
      // Every task waits: jump virtual time to the next timer (the loop
      // fires it). With no timer, wait for a wake from outside.
      if (auto next = w.timers.next_expiration()) {
        clock_.advance_to(clock_.time_of(*next));
        return;
      }
      w.driver->park(std::nullopt);
      return;
    }
    w.driver->park(timeout_for_next_timer());
    return;
  }
  const bool was_searching = std::exchange(w.searching, false);
  if (idle_.transition_worker_to_parked(w.index, was_searching)) {
    // We were the last searcher: work pushed while we decided to park would
    // otherwise wait for the next push to be noticed.
    notify_if_work_pending();
  }
  for (;;) {
    if (is_shutting_down()) {
      (void)idle_.unpark_worker_by_id(w.index);
      return;
    }
    w.driver->park(timeout_for_next_timer());
    const bool io_done = has_local_work(w);  // completions delivered in park woke tasks here
    const bool fired = fire_timers(w);
    if (idle_.was_notified(w.index)) {
      w.searching = true;  // the notifier counted us as searching
      return;
    }
    if ((fired || io_done) && has_local_work(w)) {
      // Our own timers or I/O produced work: leave the parked set ourselves.
      if (!idle_.unpark_worker_by_id(w.index)) w.searching = true;
      return;
    }
  }
}

void runtime_core::run_until_complete(task_header* root) {
  sync::lock_guard<sync::mutex> lock(driver_mu_);
  worker_scope scope(this, workers_[0].get());
  // Tasks may install a park hook for this block_on (weft/park_hook.hpp):
  // the driver then parks in it. It goes when block_on returns.
  park_hook_scope hooks(&workers_[0]->driver->hooks);
  run_loop(*workers_[0], root);
}

bool runtime_core::timer_register(timer_node& n, timer_shard*& shard) {
  worker* w = this_worker();
  if (w == nullptr) throw_error(errc::no_runtime, "a timer was set outside a runtime worker");
  if (!w->timers.insert(n)) return false;
  shard = &w->timers;
  return true;
}

// ---- shutdown --------------------------------------------------------------------

void runtime_core::shutdown(std::chrono::nanoseconds timeout) noexcept {
  // ORDERING: acq_rel: the first caller does the work; later calls return.
  if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  // Saturating: shutdown(nanoseconds::max()) waits for the tasks, unbounded.
  const auto deadline = steady_deadline_after(timeout);
  // 1. Refuse work from outside.
  // ORDERING: release: pairs with the acquire in spawn.
  closed_to_remote_.store(true, std::memory_order_release);
  // 2. Let tasks finish. A current-thread runtime runs only inside block_on,
  //    so drive it here meanwhile.
  if (current_thread_) {
    sync::lock_guard<sync::mutex> lock(driver_mu_);
    worker_scope scope(this, workers_[0].get());
    worker& w = *workers_[0];
    while (!owned_.all_empty() && std::chrono::steady_clock::now() < deadline) {
      if (task_header* t = next_task(w)) {
        run_task(w, t);
        continue;
      }
      if (fire_timers(w)) continue;
      if (flush_deferred(w)) continue;
      if (task_header* t = inject_.pop()) {
        run_task(w, t);
        continue;
      }
      if (auto next = w.timers.next_expiration(); next && clock_.paused()) {
        clock_.advance_to(clock_.time_of(*next));  // virtual time: jump, as in park
        continue;
      }
      std::chrono::nanoseconds left = time_left(deadline, std::chrono::steady_clock::now());
      if (auto next = w.timers.next_expiration()) {
        left = std::min(left, time_left(clock_.time_of(*next), clock_.now()));
      }
      w.driver->park(left);
    }
  } else {
    (void)owned_.wait_idle(timeout);
  }
  // 3. No more spawns; stop the workers.
  owned_.close();
  // ORDERING: release: workers acquire it in is_shutting_down.
  shutting_down_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->driver->unpark();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  sync::unique_lock<sync::mutex> driver_lock(driver_mu_);  // a current-thread block_on ends first
  // The current-thread runtime's driver: end its I/O before tasks go.
  if (current_thread_) {
    worker_scope scope(this, workers_[0].get());
    workers_[0]->driver->quiesce();
  }
  // 4. Forget queued entries (each is also owned).
  inject_.close();
  inject_.drain([](task_header*) {});
  for (auto& w : workers_) {
    w->lifo = nullptr;
    w->deferred.clear();
    while (w->queue.pop() != nullptr) {
    }
  }
  // 5. Destroy what is left.
  while (task_header* t = owned_.pop()) {
    cell_cancel(t);
    t->unref();  // the owned reference
  }
  // Destructors may have woken tasks: those entries are dropped too.
  inject_.drain([](task_header*) {});
  // 6. The blocking pool.
  blocking_.shutdown(deadline);
}

// ---- the runtime API ---------------------------------------------------------------

runtime_core* runtime_create(const runtime_config& cfg) {
  auto* rt = new runtime_core(cfg);
  rt->start();
  return rt;
}

void runtime_release(runtime_core* rt) noexcept { rt->release(); }

const runtime_config& runtime_get_config(const runtime_core* rt) noexcept { return rt->config(); }

io_backend runtime_io_backend(const runtime_core* rt) noexcept { return rt->backend(); }

void runtime_spawn(runtime_core* rt, task_header* t) { rt->spawn(t); }

void runtime_spawn_blocking(runtime_core* rt, task_header* t) { rt->spawn_blocking(t); }

void runtime_run_until_complete(runtime_core* rt, task_header* t) { rt->run_until_complete(t); }

void runtime_shutdown(runtime_core* rt, std::chrono::nanoseconds timeout) noexcept {
  rt->shutdown(timeout);
}

bool runtime_wait_idle(runtime_core* rt, std::chrono::nanoseconds timeout) noexcept {
  return rt->wait_idle(timeout);
}

std::chrono::steady_clock::time_point runtime_now() noexcept {
  if (runtime_core* rt = current_runtime()) return rt->now();
  return std::chrono::steady_clock::now();
}

runtime_core& runtime_for(const char* what) {
  if (runtime_core* rt = current_runtime()) return *rt;
  const std::string msg = std::string(what) +
                          " needs a weft runtime: call it from a task running on one "
                          "(runtime::block_on, runtime::spawn, WEFT_MAIN)";
  throw_error(errc::no_runtime, msg.c_str());
}

bool timer_register(runtime_core& rt, timer_entry& e, timer_shard*& shard) {
  return rt.timer_register(static_cast<timer_node&>(e), shard);
}

bool timer_cancel(timer_shard* shard, timer_entry& e) noexcept {
  return shard->cancel(static_cast<timer_node&>(e));
}

std::uint64_t timer_tick_for(const runtime_core& rt, std::chrono::steady_clock::time_point tp) {
  return rt.tick_for(tp);
}

}  // namespace weft::detail
