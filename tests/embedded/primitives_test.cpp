// sleep, the interrupt-signalled event, the interrupt-to-task channel, and
// select — each driven by simulated interrupts, checked event by event.
#include "sim.hpp"

namespace weft::embedded::test {
namespace {

constinit frame_pool<P, 2048, 8> frames;

class primitives_test : public simulated_cpu {
 public:
  void SetUp() override {
    simulated_cpu::SetUp();
    P::attach(systick_line, &on_systick, this);
    P::attach(low_line, &on_uart, this);
  }
  void TearDown() override {
    EXPECT_EQ(frames.in_use(), 0u) << "a test leaked a task";
    simulated_cpu::TearDown();
  }
  void tick(int n = 1) {
    for (int i = 0; i < n; ++i) P::raise(systick_line);
  }
  // The "UART" delivers the next byte of `incoming` through the channel.
  void byte_arrives(std::uint8_t b) {
    incoming = b;
    P::raise(low_line);
  }

  static void on_systick(void* ctx) {
    P::on_systick();
    static_cast<primitives_test*>(ctx)->clock.on_tick();
  }
  static void on_uart(void* ctx) {
    auto& t = *static_cast<primitives_test*>(ctx);
    t.log("uart irq " + std::to_string(t.incoming));
    if (!t.rx.try_send(t.incoming)) t.log("uart overrun");
  }

  std::string at() const { return " @" + std::to_string(P::now()); }

  executor<P, 8> ex;
  timer<P> clock;
  irq_channel<P, std::uint8_t, 2> rx;
  std::uint8_t incoming = 0;
};

// Equal deadlines wake in list order; a walk keeps that order, because the
// entries it polls and leaves pending go behind its marker one by one.
TEST_F(primitives_test, sleepers_wake_at_their_deadline) {
  auto sleeper = [this](std::string name, tick_type every, int times) -> task<frames> {
    for (int i = 0; i < times; ++i) {
      co_await sleep(clock, every);
      log(name + at());
    }
  };
  ASSERT_TRUE(ex.spawn(sleeper("a", 2, 3)));
  ASSERT_TRUE(ex.spawn(sleeper("b", 3, 2)));
  ex.run_until_idle();
  tick(6);
  EXPECT_EQ(events, (std::vector<std::string>{"a @2", "b @3", "a @4", "a @6", "b @6"}));
}

TEST_F(primitives_test, an_event_signal_is_counted_not_lost_before_the_await) {
  irq_event<P> ev;
  auto waiter = [&]() -> task<frames> {
    auto w = ev.wait();
    ev.signal();  // after the awaiter exists, before it is awaited
    co_await w;   // completes at once
    log("first");
    co_await w;  // the signal was consumed: waits for a new one
    log("second");
  };
  ASSERT_TRUE(ex.spawn(waiter()));
  ex.run_until_idle();
  EXPECT_EQ(events, (std::vector<std::string>{"first"}));
  ev.signal();
  EXPECT_EQ(events, (std::vector<std::string>{"first", "second"}));
}

TEST_F(primitives_test, a_channel_delivers_interrupt_data_in_order_and_reports_overrun) {
  auto reader = [this]() -> task<frames> {
    for (int i = 0; i < 3; ++i) {
      const std::uint8_t b = co_await rx.receive();
      log("read " + std::to_string(b) + " (" + context() + ")");
    }
  };
  byte_arrives(1);  // before anyone reads: buffered
  ASSERT_TRUE(ex.spawn(reader()));
  ex.run_until_idle();
  byte_arrives(2);
  EXPECT_EQ(events, (std::vector<std::string>{"uart irq 1", "read 1 (thread)", "uart irq 2", "read 2 (irq)"}));

  events.clear();
  {
    critical_section<P> masked;  // two bytes while the handler cannot run:
    byte_arrives(3);             // the line is pending once, so the handler
    byte_arrives(5);             // runs once and sees the last byte (5)
  }
  EXPECT_EQ(events, (std::vector<std::string>{"uart irq 5", "read 5 (irq)"}));
  EXPECT_EQ(ex.live_tasks(), 0u);

  events.clear();  // nobody reads now: the third byte overruns the 2 slots
  byte_arrives(4);
  byte_arrives(6);
  byte_arrives(8);
  EXPECT_EQ(events, (std::vector<std::string>{"uart irq 4", "uart irq 6", "uart irq 8", "uart overrun"}));
  std::uint8_t b = 0;
  ASSERT_TRUE(rx.try_receive(b));
  EXPECT_EQ(b, 4);
  ASSERT_TRUE(rx.try_receive(b));
  EXPECT_EQ(b, 6);
  EXPECT_FALSE(rx.try_receive(b));
}

class select_test : public primitives_test {
 public:
  // Waits for a byte or a timeout of 3 ticks, twice, logging which won.
  task<frames> byte_or_timeout() {
    for (int round = 0; round < 2; ++round) {
      auto byte = rx.receive();
      auto timeout = clock.sleep(3);
      if (co_await select(byte, timeout) == 0) {
        const std::uint8_t b = co_await byte;  // the winner stays ready
        log("byte " + std::to_string(b) + at());
      } else {
        log("timeout" + at());
      }
    }
  }
};

TEST_F(select_test, a_task_waiting_on_two_sources_is_woken_by_the_first) {
  ASSERT_TRUE(ex.spawn(byte_or_timeout()));
  ex.run_until_idle();
  tick();
  byte_arrives(7);  // round 1: the byte wins at tick 1
  tick(3);          // round 2: the timeout wins at tick 4
  EXPECT_EQ(events, (std::vector<std::string>{"uart irq 7", "byte 7 @1", "timeout @4"}));
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST_F(select_test, both_sources_firing_back_to_back_wake_the_task_once) {
  ASSERT_TRUE(ex.spawn(byte_or_timeout()));
  ex.run_until_idle();
  tick(2);
  {
    critical_section<P> masked;  // the byte and the deadline tick are both pending
    P::raise(systick_line);
    byte_arrives(9);
  }
  // The UART (higher priority) goes first, at tick 2, and wins round 1. The
  // tick handler then runs (tick 3) and finds round 2's fresh timeout
  // (deadline 5) not due: the task was woken exactly once, by the byte.
  tick(3);
  EXPECT_EQ(events, (std::vector<std::string>{"uart irq 9", "byte 9 @2", "timeout @5"}));
}

}  // namespace
}  // namespace weft::embedded::test
