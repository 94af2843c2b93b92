// The executor: spawning into static slots, where tasks run (ready queue in
// thread mode, inline in a handler), sleeping when idle, cancellation.
#include "sim.hpp"

namespace weft::embedded::test {
namespace {

constinit frame_pool<P, 2048, 8> frames;
constinit frame_pool<P, 2048, 2> two_frames;
constinit frame_pool<P, 16, 2> tiny_frames;  // no coroutine frame fits 16 bytes

class executor_test : public simulated_cpu {
 public:
  void TearDown() override {
    EXPECT_EQ(frames.in_use() + two_frames.in_use() + tiny_frames.in_use(), 0u) << "a test leaked a task";
    simulated_cpu::TearDown();
  }

  task<frames> note(std::string name) {
    log(name + " runs (" + context() + ")");
    co_return;
  }
  task<two_frames> parked(irq_event<P>& event) { co_await event.wait(); }
  task<tiny_frames> too_big() { co_return; }

  static void on_systick(void* ctx) {
    P::on_systick();
    static_cast<executor_test*>(ctx)->clock.on_tick();
  }

  executor<P, 8> ex;
  timer<P> clock;
  irq_event<P> ev;
};

TEST_F(executor_test, a_task_does_not_start_until_the_executor_runs_it) {
  ASSERT_TRUE(ex.spawn(note("a")));
  ASSERT_TRUE(ex.spawn(note("b")));
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(ex.live_tasks(), 2u);
  ex.run_until_idle();
  EXPECT_EQ(events, (std::vector<std::string>{"a runs (thread)", "b runs (thread)"}));
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST_F(executor_test, spawn_on_a_full_pool_reports_pool_exhausted_and_recovers) {
  const spawn_result a = ex.spawn(parked(ev));
  const spawn_result b = ex.spawn(parked(ev));
  const spawn_result c = ex.spawn(parked(ev));
  EXPECT_EQ(a.status, spawn_status::spawned);
  EXPECT_EQ(b.status, spawn_status::spawned);
  EXPECT_EQ(c.status, spawn_status::pool_exhausted);
  EXPECT_EQ(two_frames.in_use(), 2u);

  ex.run_until_idle();
  ev.signal();  // outside any task: both are polled right here and finish
  EXPECT_EQ(two_frames.in_use(), 0u);
  const spawn_result d = ex.spawn(parked(ev));
  EXPECT_EQ(d.status, spawn_status::spawned);
  ex.run_until_idle();
  EXPECT_TRUE(ex.cancel(d.handle));
}

TEST_F(executor_test, spawn_of_a_frame_larger_than_its_slot_reports_frame_too_large) {
  const spawn_result r = ex.spawn(too_big());
  EXPECT_EQ(r.status, spawn_status::frame_too_large);
  EXPECT_GT(tiny_frames.largest_request(), tiny_frames.slot_bytes);
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST_F(executor_test, spawn_on_a_full_executor_reports_executor_full_and_frees_the_frame) {
  executor<P, 1> small;
  const spawn_result a = small.spawn(parked(ev));
  const spawn_result b = small.spawn(parked(ev));
  EXPECT_EQ(a.status, spawn_status::spawned);
  EXPECT_EQ(b.status, spawn_status::executor_full);
  EXPECT_EQ(two_frames.in_use(), 1u);
  EXPECT_TRUE(small.cancel(a.handle));
}

TEST_F(executor_test, a_task_woken_by_a_task_is_queued_not_run_inside_it) {
  auto waiter = [this]() -> task<frames> {
    co_await ev.wait();
    log("waiter woke (" + context() + ")");
  };
  auto signaller = [this]() -> task<frames> {
    log("signaller signals");
    ev.signal();
    log("signaller done");
    co_return;
  };
  ASSERT_TRUE(ex.spawn(waiter()));
  ASSERT_TRUE(ex.spawn(signaller()));
  ex.run_until_idle();
  EXPECT_EQ(events, (std::vector<std::string>{"signaller signals", "signaller done", "waiter woke (thread)"}));
}

TEST_F(executor_test, cancel_of_a_queued_task_destroys_it_before_it_runs) {
  ASSERT_TRUE(ex.spawn(note("a")));
  const spawn_result g = ex.spawn(note("g"));
  ASSERT_TRUE(ex.spawn(note("b")));
  EXPECT_EQ(frames.in_use(), 3u);
  EXPECT_TRUE(ex.cancel(g.handle));
  EXPECT_EQ(frames.in_use(), 2u);  // g's frame went back to its pool
  ex.run_until_idle();
  EXPECT_EQ(events, (std::vector<std::string>{"a runs (thread)", "b runs (thread)"}));
}

TEST_F(executor_test, run_sleeps_until_an_interrupt_and_returns_when_no_task_is_left) {
  P::attach(systick_line, &on_systick, this);
  // Each time run() would sleep, "the hardware" delivers one SysTick.
  P::on_idle([](void*) { P::raise(systick_line); });
  auto sleeper = [this](const char* name, tick_type ticks) -> task<frames> {
    co_await sleep(clock, ticks);
    log(std::string(name) + " at tick " + std::to_string(P::now()) + " (" + context() + ")");
  };
  ASSERT_TRUE(ex.spawn(sleeper("slow", 3)));
  ASSERT_TRUE(ex.spawn(sleeper("fast", 2)));
  ex.run();
  EXPECT_EQ(events, (std::vector<std::string>{"fast at tick 2 (irq)", "slow at tick 3 (irq)"}));
  EXPECT_EQ(P::sleeps(), 3u);
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST_F(executor_test, a_million_ready_awaits_do_not_grow_the_stack) {
  auto spinner = [this]() -> task<frames> {
    int n = 0;
    for (; n < 1'000'000; ++n) co_await sleep(clock, 0);  // ready at once: no suspension
    log("spun " + std::to_string(n));
  };
  ASSERT_TRUE(ex.spawn(spinner()));
  ex.run_until_idle();
  EXPECT_EQ(events, (std::vector<std::string>{"spun 1000000"}));
}

}  // namespace
}  // namespace weft::embedded::test
