// weft::dispatcher: posting, spawning, threading options, builder misuse.
// The first four are ported from the Rust binding of the driver-runtime
// dispatcher (post_task_on_dispatcher, post_task_on_subdispatcher,
// async_ping_pong, mixed_executor_async_ping_pong).
#include <weft/channel.hpp>
#include <weft/dispatcher.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "dispatcher_support.hpp"
#include "support/flavors.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using dispatcher_test::chan;
using dispatcher_test::observe_into;
using dispatcher_test::recv_on;

class DispatcherOnEachFlavor : public weft_test::on_each_flavor {};

TEST_P(DispatcherOnEachFlavor, PostedCallbackRunsWithOkStatus) {
  chan<weft::status> got;
  chan<int> observed;
  {
    weft::dispatcher d = weft::dispatcher_builder{}
                             .name("testing task")
                             .shutdown_observer(observe_into(observed.tx))
                             .create(rt);
    const std::error_code ec = d.post_task([tx = got.tx](weft::status s) { (void)tx.send(s); });
    EXPECT_FALSE(ec) << ec.message();
    const weft::status s = recv_on(rt, got.rx);
    EXPECT_TRUE(s.ok());
    EXPECT_FALSE(s.canceled());
    EXPECT_EQ(s, weft::status::ok_status());
    EXPECT_EQ(d.name(), "testing task");
    EXPECT_FALSE(d.is_unsynchronized());
    EXPECT_FALSE(d.allows_thread_blocking());
  }
  EXPECT_EQ(recv_on(rt, observed.rx), 1);  // dropping the owner shut it down
}

TEST_P(DispatcherOnEachFlavor, DispatcherCreatedInCallbackRunsItsTaskAndIsObservedOnceWhenDropped) {
  chan<weft::status> got;
  chan<weft::dispatcher> inner_out;
  chan<int> inner_observed;
  chan<int> outer_observed;
  std::atomic<int> inner_observer_calls{0};
  {
    weft::dispatcher outer = weft::dispatcher_builder{}
                                 .name("testing task top level")
                                 .allow_thread_blocking()
                                 .shutdown_observer(observe_into(outer_observed.tx))
                                 .create(rt);
    auto make_inner = [&inner_observer_calls, got_tx = got.tx, out = inner_out.tx,
                       obs = inner_observed.tx](weft::status s) {
      EXPECT_TRUE(s.ok());
      // On the outer dispatcher's thread: create() finds the runtime there.
      weft::dispatcher inner =
          weft::dispatcher_builder{}
              .name("testing task second level")
              .scheduler_role("")
              .allow_thread_blocking()
              .shutdown_observer([&inner_observer_calls, obs](weft::dispatcher_ref r) {
                inner_observer_calls.fetch_add(1, std::memory_order_relaxed);
                EXPECT_EQ(r.name(), "testing task second level");
                EXPECT_TRUE(r.is_shut_down());
                (void)obs.send(1);
              })
              .create();
      const std::error_code ec = inner.post_task([got_tx](weft::status s2) {
        EXPECT_TRUE(s2.ok());
        (void)got_tx.send(s2);
      });
      EXPECT_FALSE(ec);
      // The inner dispatcher must live until its task ran: hand it out.
      (void)out.send(std::move(inner));
    };
    ASSERT_FALSE(outer.post_task(std::move(make_inner)));
    EXPECT_TRUE(recv_on(rt, got.rx).ok());
    weft::dispatcher inner = recv_on(rt, inner_out.rx);
    EXPECT_TRUE(inner.allows_thread_blocking());
  }  // both owners dropped: both shut down
  EXPECT_EQ(recv_on(rt, inner_observed.rx), 1);
  EXPECT_EQ(recv_on(rt, outer_observed.rx), 1);
  EXPECT_EQ(inner_observer_calls.load(), 1);
}

weft::task<> ping(weft::mpsc::sender<std::uint8_t> tx, weft::mpsc::receiver<std::uint8_t> rx) {
  if (!co_await tx.send(0)) co_return;
  while (auto next = co_await rx.recv()) {
    if (!co_await tx.send(static_cast<std::uint8_t>(*next + 1))) co_return;
  }
}

weft::task<> pong(weft::mpsc::unbounded_sender<int> fin, weft::mpsc::sender<std::uint8_t> tx,
                  weft::mpsc::receiver<std::uint8_t> rx, std::vector<int>* seen, bool slow) {
  while (auto next = co_await rx.recv()) {
    seen->push_back(*next);
    if (slow) co_await weft::sleep(1ms);
    if (*next > 10) break;
    if (!co_await tx.send(static_cast<std::uint8_t>(*next + 1))) break;
  }
  (void)fin.send(1);
}

const std::vector<int> expected_pongs = {0, 2, 4, 6, 8, 10, 12};

/// The reference binding's ping-pong: ping runs on an observed dispatcher;
/// pong (started by the test, wherever it likes) gets these ends.
struct ping_pong {
  chan<int> fin;
  chan<int> observed;
  std::vector<int> seen;
  std::pair<weft::mpsc::sender<std::uint8_t>, weft::mpsc::receiver<std::uint8_t>> to_ping =
      weft::mpsc::channel<std::uint8_t>(10);
  std::pair<weft::mpsc::sender<std::uint8_t>, weft::mpsc::receiver<std::uint8_t>> to_pong =
      weft::mpsc::channel<std::uint8_t>(10);

  /// A dispatcher whose observer reports on `observed`, with ping spawned.
  weft::dispatcher start_ping(weft::runtime& rt) {
    weft::dispatcher d = weft::dispatcher_builder{}
                             .name("async ping pong")
                             .shutdown_observer(observe_into(observed.tx))
                             .create(rt);
    EXPECT_FALSE(d.spawn_task(ping(std::move(to_pong.first), std::move(to_ping.second))));
    return d;
  }
  weft::task<> pong_task(bool slow) {
    return pong(fin.tx, std::move(to_ping.first), std::move(to_pong.second), &seen, slow);
  }
};

TEST_P(DispatcherOnEachFlavor, AsyncPingPongBetweenTwoTasksOnOneDispatcher) {
  ping_pong pp;
  {
    weft::dispatcher d = pp.start_ping(rt);
    ASSERT_FALSE(d.spawn_task(pp.pong_task(/*slow=*/false)));
    EXPECT_EQ(recv_on(rt, pp.fin.rx), 1);
  }
  EXPECT_EQ(recv_on(rt, pp.observed.rx), 1);
  EXPECT_EQ(pp.seen, expected_pongs);
}

INSTANTIATE_TEST_SUITE_P(Flavors, DispatcherOnEachFlavor, weft_test::each_flavor(),
                         weft_test::flavor_name);

TEST(Dispatcher, PingPongWithATaskOnAnotherRunner) {
  weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();
  ping_pong pp;
  {
    // ping on the dispatcher, pong (which also sleeps) on a current-thread
    // runtime driven by this thread.
    weft::dispatcher d = pp.start_ping(rt);
    weft::runtime local =
        weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
    local.block_on(pp.pong_task(/*slow=*/true));
    EXPECT_EQ(local.block_on(pp.fin.rx.recv()).value(), 1);
  }
  EXPECT_EQ(recv_on(rt, pp.observed.rx), 1);
  EXPECT_EQ(pp.seen, expected_pongs);
}

TEST(Dispatcher, UnsynchronizedDispatcherRunsCallbacksInParallel) {
  weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();
  weft::dispatcher d = weft::dispatcher_builder{}.name("parallel").unsynchronized().create(rt);
  EXPECT_TRUE(d.is_unsynchronized());
  std::latch meet(2);  // both callbacks must be inside at once, or this deadlocks
  std::latch done(2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_FALSE(d.post_task([&](weft::status s) {
      EXPECT_TRUE(s.ok());
      meet.arrive_and_wait();
      done.count_down();
    }));
  }
  done.wait();
}

TEST_P(DispatcherOnEachFlavor, BlockingCallbackDoesNotStallTheWorkers) {
  // On a one-worker (or current-thread) runtime: the callback blocks until a
  // task on the runtime's worker releases it — a deadlock unless the
  // callback runs on a thread of its own.
  weft::runtime one = GetParam() == weft::runtime_flavor::multi_thread
                          ? weft::runtime_builder{}.worker_threads(1).build()
                          : weft::runtime_builder{}.flavor(GetParam()).build();
  weft::dispatcher d =
      weft::dispatcher_builder{}.name("blocking").allow_thread_blocking().create(one);
  std::latch release(1);
  chan<std::thread::id> ran_on;
  ASSERT_FALSE(d.post_task([&release, tx = ran_on.tx](weft::status s) {
    EXPECT_TRUE(s.ok());
    release.wait();  // blocks this thread
    (void)tx.send(std::this_thread::get_id());
  }));
  std::thread::id worker;
  one.block_on([&]() -> weft::task<> {
    worker = std::this_thread::get_id();
    release.count_down();
    co_return;
  }());
  EXPECT_NE(recv_on(one, ran_on.rx), worker);
}

TEST_P(DispatcherOnEachFlavor, DroppingARefDoesNotShutDownButReleasedLivesOn) {
  chan<int> got;
  chan<int> observed;
  weft::dispatcher d = weft::dispatcher_builder{}
                           .name("released")
                           .shutdown_observer(observe_into(observed.tx))
                           .create(rt);
  { weft::dispatcher_ref copy = d.as_ref(); }  // dropping a ref: nothing happens
  EXPECT_FALSE(d.is_shut_down());
  weft::dispatcher_ref r = d.release();
  // The moved-from owner owns nothing now.
  EXPECT_EQ(d.post_task([](weft::status) {}), weft::errc::dispatcher_shut_down);  // NOLINT
  EXPECT_EQ(d.name(), "");                                                        // NOLINT
  EXPECT_FALSE(r.is_shut_down());
  ASSERT_FALSE(r.post_task([tx = got.tx](weft::status s) { (void)tx.send(s.ok() ? 1 : 0); }));
  EXPECT_EQ(recv_on(rt, got.rx), 1);
  weft::dispatcher_ref r2 = r;
  EXPECT_TRUE(r2 == r);
  r2.shutdown();  // a ref may still shut it down explicitly
  r2.shutdown();  // idempotent
  EXPECT_EQ(recv_on(rt, observed.rx), 1);
  EXPECT_TRUE(r.is_shut_down());
}

TEST_P(DispatcherOnEachFlavor, CreateInsideATaskUsesThatTasksRuntime) {
  chan<int> got;
  rt.block_on([&]() -> weft::task<> {
    weft::dispatcher d = weft::dispatcher_builder{}.name("inside").create();
    EXPECT_FALSE(d.post_task([tx = got.tx](weft::status s) { (void)tx.send(s.ok() ? 1 : 0); }));
    auto v = co_await got.rx.recv();
    EXPECT_EQ(v.value(), 1);
  }());
}

// ---- builder misuse ---------------------------------------------------------------

TEST(DispatcherBuilder, UnsynchronizedWithAllowThreadBlockingThrowsAtTheSecondCall) {
  {
    weft::dispatcher_builder b;
    b.unsynchronized();
    try {
      b.allow_thread_blocking();
      FAIL() << "expected invalid_builder_setting";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::invalid_builder_setting);
      EXPECT_NE(std::string(e.what()).find("choose one"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(b.is_unsynchronized());
    EXPECT_FALSE(b.allows_thread_blocking());
  }
  {
    weft::dispatcher_builder b;
    b.allow_thread_blocking();
    try {
      b.unsynchronized();
      FAIL() << "expected invalid_builder_setting";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::invalid_builder_setting);
    }
    EXPECT_TRUE(b.allows_thread_blocking());
    EXPECT_FALSE(b.is_unsynchronized());
  }
}

TEST(DispatcherBuilder, UnknownRoleThrowsNamingTheRole) {
  weft::runtime rt = weft::runtime_builder{}.worker_threads(1).build();
  try {
    (void)weft::dispatcher_builder{}.scheduler_role("no-such-role").create(rt);
    FAIL() << "expected unknown_scheduler_role";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::unknown_scheduler_role);
    EXPECT_NE(std::string(e.what()).find("no-such-role"), std::string::npos) << e.what();
  }
}

TEST(DispatcherBuilder, CreateOutsideARuntimeThrowsNoRuntime) {
  try {
    (void)weft::dispatcher_builder{}.create();
    FAIL() << "expected no_runtime";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::no_runtime);
    EXPECT_NE(std::string(e.what()).find("create(rt)"), std::string::npos) << e.what();
  }
}

TEST(DispatcherBuilder, CreateAfterRuntimeShutdownThrowsRuntimeShutDown) {
  weft::runtime rt = weft::runtime_builder{}.worker_threads(1).build();
  rt.shutdown(std::chrono::milliseconds(100));
  try {
    (void)weft::dispatcher_builder{}.create(rt);
    FAIL() << "expected runtime_shut_down";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::runtime_shut_down);
  }
}

TEST(Status, OkAndCanceledAreDistinctValues) {
  const weft::status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_FALSE(ok.canceled());
  EXPECT_EQ(ok.message(), "ok");
  const weft::status c = weft::status::canceled_status();
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(c.canceled());
  EXPECT_EQ(c.code(), weft::errc::operation_canceled);
  EXPECT_NE(ok, c);
  EXPECT_EQ(c, weft::status{weft::make_error_code(weft::errc::operation_canceled)});
  const weft::status other{weft::make_error_code(weft::errc::timed_out)};
  EXPECT_FALSE(other.ok());
  EXPECT_FALSE(other.canceled());
}

}  // namespace
