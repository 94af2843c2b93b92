// Model tests of the oneshot channel's state word (oneshot_state in
// include/weft/channel/oneshot.hpp), driven through oneshot_state's own
// functions the way sender, receiver and recv_awaiter call them. The
// receiver is a model task (a task_header with a counting scheduler) whose
// waker the state stores. Checked in every interleaving: the value is
// delivered or handed back (never lost, destroyed exactly once), a waiting
// receiver is woken exactly once, the shared state is freed exactly once and
// nothing touches its state word afterwards (a use after free here), and
// the receiver task's references all come back.
//
// The model defines the two library functions the header needs:
// frame_allocate/frame_deallocate (memory kept until the body ends, so a
// late access is reported by the checker rather than the allocator) and
// error_category.
#include "model_test_support.hpp"

#include <weft/channel/oneshot.hpp>

#include <cstdlib>
#include <new>
#include <vector>

namespace {

std::vector<void*> g_blocks;  // per execution; model threads run one at a time
int g_frees = 0;
int g_live_values = 0;

// A value that counts its live (owning) instances.
struct tracked {
  int v = 0;
  bool owns = false;
  explicit tracked(int x) : v(x), owns(true) { ++g_live_values; }
  tracked(tracked&& o) noexcept : v(o.v), owns(std::exchange(o.owns, false)) {}
  tracked& operator=(tracked&&) = delete;
  ~tracked() {
    if (owns) --g_live_values;
  }
};

}  // namespace

namespace weft {
const std::error_category& error_category() noexcept { return std::generic_category(); }
namespace detail {
void* frame_allocate(std::size_t size) {
  void* p = ::operator new(size);
  g_blocks.push_back(p);
  return p;
}
void frame_deallocate(void*, std::size_t) noexcept { ++g_frees; }
void cell_release(task_header*) noexcept {}
}  // namespace detail
}  // namespace weft

namespace {

using namespace weft::model_test;
using weft::waker;
using weft::detail::raw_waker;
using weft::detail::task_header;
using state = weft::chan_detail::oneshot_state<tracked>;

// The receiver's runtime: counts how often its task is handed over.
class counting_scheduler final : public weft::detail::scheduler {
 public:
  sync::atomic<int> scheduled{0};
  void schedule(task_header*) noexcept override { scheduled.fetch_add(1); }
  bool on_complete(task_header*) noexcept override { return false; }
  void retain() noexcept override {}
  void release() noexcept override {}
};

struct world {
  // First member: the per-execution counters start from zero before create().
  int reset_ = (g_blocks.clear(), g_frees = 0, g_live_values = 0, 0);
  counting_scheduler sched;
  task_header rx_task{task_header::running | task_header::ref_one};  // the runner's ref
  state* st = state::create();

  world() { rx_task.scheduler_ = &sched; }
  ~world() {
    for (void* p : g_blocks) ::operator delete(p);
  }
};

enum class outcome { value, closed };

// recv_awaiter's path: ready? else make a waker, register; if registered,
// end the step and wait to be scheduled, then finish.
outcome receive(world& w, int& woken) {
  state& st = *w.st;
  if ((st.load() & state::complete) == 0) {
    const std::uint32_t e = w.rx_task.begin_suspend(std::noop_coroutine());
    w.rx_task.ref();
    if (st.register_waker(waker(raw_waker{&w.rx_task, e}))) {
      if (w.rx_task.transition_to_idle() == task_header::idle_result::notified) {
        w.sched.scheduled.fetch_add(1);  // the runner re-queues it
      }
      while (w.sched.scheduled.load() == 0) sync::spin_hint();
      woken = w.sched.scheduled.load();
      model::require(w.rx_task.transition_to_running(), "the woken receiver runs");
    }
  }
  const std::uint32_t s = st.load();
  model::require((s & state::complete) != 0, "the receiver resumed before the sender finished");
  if ((s & state::value_sent) != 0) {
    tracked v = st.take();
    model::require(v.v == 42, "the sent value arrives");
    return outcome::value;
  }
  return outcome::closed;
}

void expect_clean_end(world& w) {
  model::require(g_frees == 1, "the shared state is freed exactly once");
  model::require(g_live_values == 0, "the value is destroyed exactly once");
  model::require(task_header::refs_of(w.rx_task.load_state()) == 1,
                 "every waker reference on the receiver's task was dropped");
}

TEST(OneshotModel, SendRacingReceiverRegistrationDeliversAndWakesExactlyOnce) {
  int waited = 0;
  expect_all_interleavings_pass("oneshot: send vs recv", [&waited] {
    world w;
    sync::thread tx([&w] {
      auto r = w.st->send(tracked(42));
      model::require(!r.error(), "a send to a live receiver succeeds");
    });
    int woken = 0;
    model::require(receive(w, woken) == outcome::value, "the receiver gets the value");
    model::require(woken <= 1, "the receiver is scheduled at most once");
    waited += woken;
    w.st->drop_receiver(/*closed=*/false);
    tx.join();
    expect_clean_end(w);
  });
  EXPECT_GT(waited, 0);  // some interleavings really waited and were woken
}

TEST(OneshotModel, SenderDroppedRacingReceiverRegistrationWakesWithClosed) {
  expect_all_interleavings_pass("oneshot: drop sender vs recv", [] {
    world w;
    sync::thread tx([&w] { w.st->drop_sender(); });
    int woken = 0;
    model::require(receive(w, woken) == outcome::closed, "the receiver sees the channel closed");
    model::require(woken <= 1, "the receiver is scheduled at most once");
    w.st->drop_receiver(/*closed=*/false);
    tx.join();
    expect_clean_end(w);
  });
}

// receiver::close() then drop, racing a send: the value is either received
// (sent before the close: close_rx reports it) and destroyed with the state,
// or handed back to the sender — never both, never lost.
TEST(OneshotModel, ReceiverCloseRacingSendHandsTheValueBackOrKeepsItNeverBoth) {
  int handed_back = 0;
  int kept = 0;
  expect_all_interleavings_pass("oneshot: close vs send", [&] {
    world w;
    bool back = false;
    sync::thread tx([&] {
      auto r = w.st->send(tracked(42));
      back = static_cast<bool>(r.error());
    });
    const bool value_was_sent = w.st->close_rx();
    w.st->drop_receiver(/*closed=*/true);
    tx.join();
    model::require(!(back && value_was_sent), "a value reported sent is not also handed back");
    handed_back += back;
    kept += value_was_sent;
    expect_clean_end(w);
  });
  EXPECT_GT(handed_back, 0);
  EXPECT_GT(kept, 0);
}

// A receive awaiter destroyed while waiting (withdraw_waker) races the send:
// the waker is either withdrawn or woken; the value stays in the state and
// is destroyed with it.
TEST(OneshotModel, WithdrawnWaiterRacingSendLosesNothing) {
  expect_all_interleavings_pass("oneshot: withdraw vs send", [] {
    world w;
    sync::thread tx([&w] { (void)w.st->send(tracked(42)); });
    const std::uint32_t e = w.rx_task.begin_suspend(std::noop_coroutine());
    w.rx_task.ref();
    if (w.st->register_waker(waker(raw_waker{&w.rx_task, e}))) {
      w.st->withdraw_waker();  // the awaiter is destroyed while waiting
    }
    w.st->drop_receiver(/*closed=*/false);
    tx.join();
    expect_clean_end(w);
  });
}

}  // namespace
