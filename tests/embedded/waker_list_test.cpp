// The per-interrupt waker lists: what a handler's walk polls, in which order,
// and what happens when entries come and go while it walks.
#include "sim.hpp"

namespace weft::embedded::test {
namespace {

constinit frame_pool<P, 2048, 8> frames;

class waker_list_test : public simulated_cpu {
 public:
  void TearDown() override {
    EXPECT_EQ(frames.in_use(), 0u) << "a test leaked a task";
    simulated_cpu::TearDown();
  }

  // Waits for `ev` `times` times, logging each wake-up and where it ran.
  task<frames> waiter(std::string name, irq_event<P>& ev, int times) {
    for (int i = 1; i <= times; ++i) {
      co_await ev.wait();
      log(name + " woke " + std::to_string(i) + " (" + context() + ")");
    }
  }

  // Handlers: log, signal, log.
  static void on_low(void* ctx) {
    auto& t = *static_cast<waker_list_test*>(ctx);
    t.log("low enter");
    t.ev_low.signal();
    t.log("low exit");
  }
  static void on_high(void* ctx) {
    auto& t = *static_cast<waker_list_test*>(ctx);
    t.log("high enter");
    t.ev_high.signal();
    t.log("high exit");
  }

  executor<P, 8> ex;
  irq_event<P> ev_low;
  irq_event<P> ev_high;
};

TEST_F(waker_list_test, an_interrupt_polls_every_waiter_once_in_the_order_they_linked) {
  P::attach(low_line, &on_low, this);
  ASSERT_TRUE(ex.spawn(waiter("a", ev_low, 1)));
  ASSERT_TRUE(ex.spawn(waiter("b", ev_low, 1)));
  ASSERT_TRUE(ex.spawn(waiter("c", ev_low, 1)));
  ex.run_until_idle();
  EXPECT_TRUE(events.empty());

  P::raise(low_line);
  EXPECT_EQ(events, (std::vector<std::string>{"low enter", "a woke 1 (irq)", "b woke 1 (irq)", "c woke 1 (irq)",
                                              "low exit"}));
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST_F(waker_list_test, a_waiter_destroyed_while_linked_unlinks_itself) {
  P::attach(low_line, &on_low, this);
  auto guarded = [this](const char* name) -> task<frames> {
    frame_guard guard{&events, name};
    co_await ev_low.wait();
    log(std::string(name) + " woke");
  };
  const spawn_result a = ex.spawn(guarded("a"));
  const spawn_result b = ex.spawn(guarded("b"));
  ASSERT_TRUE(a && b);
  ex.run_until_idle();

  EXPECT_TRUE(ex.cancel(a.handle));   // a's entry is linked in ev_low's list
  EXPECT_FALSE(ex.cancel(a.handle));  // stale now
  P::raise(low_line);
  EXPECT_EQ(events, (std::vector<std::string>{"a frame destroyed", "low enter", "b woke", "b frame destroyed",
                                              "low exit"}));
}

TEST_F(waker_list_test, a_walk_does_not_poll_an_entry_linked_during_it) {
  P::attach(low_line, &on_low, this);
  // a waits again on the same event right after waking: its entry goes
  // behind the walk's marker, so this signal does not wake it twice.
  ASSERT_TRUE(ex.spawn(waiter("a", ev_low, 2)));
  ex.run_until_idle();
  P::raise(low_line);
  EXPECT_EQ(events, (std::vector<std::string>{"low enter", "a woke 1 (irq)", "low exit"}));
  P::raise(low_line);
  EXPECT_EQ(events.size(), 6u);
  EXPECT_EQ(events[4], "a woke 2 (irq)");
}

// The nasty case: between two polls of the low-priority walk, a higher
// priority interrupt wakes the task whose entry the low walk would poll next
// (b, waiting in both lists) and b's select unlinks that entry.
TEST_F(waker_list_test, an_interrupt_during_a_list_walk_runs_between_two_polls) {
  P::attach(low_line, &on_low, this);
  P::attach(high_line, &on_high, this);
  auto starter = [this]() -> task<frames> {
    co_await ev_low.wait();
    log("a woke, starts the high source");
    P::raise(high_line);  // pending: a runs masked
    log("a suspends");
  };
  auto both = [this]() -> task<frames> {
    auto high = ev_high.wait();
    auto low = ev_low.wait();
    const auto which = co_await select(high, low);
    log("b woke by select " + std::to_string(which) + " (" + context() + ")");
  };
  ASSERT_TRUE(ex.spawn(starter()));
  ASSERT_TRUE(ex.spawn(both()));
  ASSERT_TRUE(ex.spawn(waiter("c", ev_high, 1)));
  ex.run_until_idle();

  P::raise(low_line);
  EXPECT_EQ(events, (std::vector<std::string>{"low enter", "a woke, starts the high source", "a suspends",
                                              "high enter", "b woke by select 0 (irq)", "c woke 1 (irq)",
                                              "high exit", "low exit"}));
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST_F(waker_list_test, a_signal_during_a_walk_of_the_same_list_makes_one_more_pass) {
  P::attach(low_line, &on_low, this);
  ASSERT_TRUE(ex.spawn(waiter("b", ev_low, 2)));
  auto resignal = [this]() -> task<frames> {
    co_await ev_low.wait();
    log("a woke, signals again");
    ev_low.signal();  // the walk of ev_low is under way: no nesting
    log("a done");
  };
  ASSERT_TRUE(ex.spawn(resignal()));
  ex.run_until_idle();

  P::raise(low_line);
  EXPECT_EQ(events, (std::vector<std::string>{"low enter", "b woke 1 (irq)", "a woke, signals again", "a done",
                                              "b woke 2 (irq)", "low exit"}));
}

TEST_F(waker_list_test, entries_destroyed_in_any_order_leave_the_list_consistent) {
  detail::task_header dummy{};
  waker_list<P> list;
  auto never = [](waker_entry<P>&) noexcept { return false; };
  {
    waker_entry<P> e1{never}, e2{never}, e3{never};
    e1.link(list, dummy);
    e2.link(list, dummy);
    e3.link(list, dummy);
    e2.unlink();
    EXPECT_FALSE(e2.linked());
    list.poll_waiters();  // nobody ready: order kept, nothing woken
    EXPECT_TRUE(e1.linked() && e3.linked());
  }  // e3, e1 destroyed while linked
  EXPECT_TRUE(list.empty());
}

}  // namespace
}  // namespace weft::embedded::test
