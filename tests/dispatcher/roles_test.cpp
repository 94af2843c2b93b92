// Scheduler roles: worker groups declared on the runtime, chosen by
// dispatchers.
#include <weft/channel.hpp>
#include <weft/dispatcher.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "dispatcher_support.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using dispatcher_test::chan;
using dispatcher_test::observe_into;
using dispatcher_test::recv_on;

/// The threads a role's on_thread_start/on_thread_stop saw.
struct thread_record {
  std::mutex mu;
  std::set<std::thread::id> started;
  int stopped = 0;

  weft::role_options options(std::size_t threads) {
    weft::role_options o;
    o.threads = threads;
    o.on_thread_start = [this] {
      std::lock_guard<std::mutex> lock(mu);
      started.insert(std::this_thread::get_id());
    };
    o.on_thread_stop = [this] {
      std::lock_guard<std::mutex> lock(mu);
      ++stopped;
    };
    return o;
  }
  bool has(std::thread::id id) {
    std::lock_guard<std::mutex> lock(mu);
    return started.count(id) != 0;
  }
};

weft::task<> sleep_then_report(weft::mpsc::unbounded_sender<std::thread::id> tx) {
  co_await weft::sleep(2ms);
  (void)tx.send(std::this_thread::get_id());
}

/// Reads back, through a socket pair, what it wrote: I/O on the role's driver.
weft::task<> socket_round_trip(weft::mpsc::unbounded_sender<int> tx) {
  auto p = weft::net::unix_stream::pair();
  if (!p) {
    (void)tx.send(-1);
    co_return;
  }
  weft::net::unix_stream a = std::move(p->first);
  weft::net::unix_stream b = std::move(p->second);
  const std::array<std::byte, 3> out{std::byte{1}, std::byte{2}, std::byte{3}};
  std::array<std::byte, 3> in{};
  auto w = co_await a.write_all(std::span<const std::byte>(out));
  if (!w) {
    (void)tx.send(-2);
    co_return;
  }
  auto r = co_await b.read_exact(std::span<std::byte>(in));
  (void)tx.send(r && in == out ? 3 : -3);
}

class RoleOnEachFlavor : public ::testing::TestWithParam<weft::runtime_flavor> {};

TEST_P(RoleOnEachFlavor, RoleDispatcherRunsOnTheRoleThreadsAndItsTasksCanSleep) {
  thread_record audio;
  {
    weft::runtime rt = weft::runtime_builder{}
                           .flavor(GetParam())
                           .scheduler_role("audio", audio.options(2))
                           .build();
    chan<std::thread::id> ran_on;
    chan<int> observed;
    for (bool unsync : {false, true}) {
      weft::dispatcher_builder b;
      b.name("mixer").scheduler_role("audio").shutdown_observer(observe_into(observed.tx));
      if (unsync) b.unsynchronized();
      weft::dispatcher d = b.create(rt);
      EXPECT_EQ(d.scheduler_role(), "audio");
      ASSERT_FALSE(d.post_task([tx = ran_on.tx](weft::status s) {
        EXPECT_TRUE(s.ok());
        (void)tx.send(std::this_thread::get_id());
      }));
      EXPECT_TRUE(audio.has(recv_on(rt, ran_on.rx)));
      ASSERT_FALSE(d.spawn_task(sleep_then_report(ran_on.tx)));
      EXPECT_TRUE(audio.has(recv_on(rt, ran_on.rx)));  // woken by its timer, on the role
      chan<int> io_done;
      ASSERT_FALSE(d.spawn_task(socket_round_trip(io_done.tx)));
      EXPECT_EQ(recv_on(rt, io_done.rx), 3);
      d.shutdown();
      EXPECT_EQ(recv_on(rt, observed.rx), 1);
    }
  }
  std::lock_guard<std::mutex> lock(audio.mu);
  EXPECT_EQ(audio.started.size(), 2u);
  EXPECT_EQ(audio.stopped, 2);  // the role's threads stopped with the runtime
}

TEST_P(RoleOnEachFlavor, BlockingDispatcherOnARoleRunsTheRoleThreadHooks) {
  thread_record io;
  {
    weft::runtime rt =
        weft::runtime_builder{}.flavor(GetParam()).scheduler_role("io", io.options(1)).build();
    chan<std::thread::id> ran_on;
    chan<int> observed;
    weft::dispatcher d = weft::dispatcher_builder{}
                             .name("disk")
                             .scheduler_role("io")
                             .allow_thread_blocking()
                             .shutdown_observer(observe_into(observed.tx))
                             .create(rt);
    ASSERT_FALSE(
        d.post_task([tx = ran_on.tx](weft::status) { (void)tx.send(std::this_thread::get_id()); }));
    const std::thread::id dedicated = recv_on(rt, ran_on.rx);
    EXPECT_TRUE(io.has(dedicated));
    ASSERT_FALSE(d.spawn_task(sleep_then_report(ran_on.tx)));
    EXPECT_EQ(recv_on(rt, ran_on.rx), dedicated);  // its own single thread
  }
  std::lock_guard<std::mutex> lock(io.mu);
  EXPECT_EQ(io.started.size(), 2u);  // the role's worker and the dedicated thread
  EXPECT_EQ(io.stopped, 2);
}

INSTANTIATE_TEST_SUITE_P(Flavors, RoleOnEachFlavor,
                         ::testing::Values(weft::runtime_flavor::multi_thread,
                                           weft::runtime_flavor::current_thread),
                         [](const ::testing::TestParamInfo<weft::runtime_flavor>& info) {
                           return std::string(info.param == weft::runtime_flavor::multi_thread
                                                  ? "multi_thread"
                                                  : "current_thread");
                         });

TEST(Role, ReleasedRoleDispatcherIsShutDownWithTheRuntime) {
  std::atomic<int> observed{0};
  chan<int> ran;
  weft::dispatcher_ref r = [&] {
    weft::runtime rt = weft::runtime_builder{}
                           .worker_threads(1)
                           .scheduler_role("net", weft::role_options{})
                           .build();
    weft::dispatcher_ref released =
        weft::dispatcher_builder{}
            .scheduler_role("net")
            .shutdown_observer([&observed](weft::dispatcher_ref) { observed.fetch_add(1); })
            .create_released(rt);
    EXPECT_FALSE(released.post_task([tx = ran.tx](weft::status) { (void)tx.send(1); }));
    EXPECT_EQ(recv_on(rt, ran.rx), 1);
    return released;
  }();  // the runtime is gone
  EXPECT_EQ(observed.load(), 1);
  EXPECT_TRUE(r.is_shut_down());
  EXPECT_EQ(r.post_task([](weft::status) {}), weft::errc::dispatcher_shut_down);
}

TEST(RoleBuilder, BadRoleDeclarationsThrowAtTheCall) {
  auto expect_bad = [](auto&& call, const char* needle) {
    try {
      call();
      ADD_FAILURE() << "expected invalid_builder_setting";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), weft::errc::invalid_builder_setting);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  weft::runtime_builder b;
  expect_bad([&] { b.scheduler_role("", weft::role_options{}); }, "must not be empty");
  weft::role_options none;
  none.threads = 0;
  expect_bad([&] { b.scheduler_role("zero", none); }, "between 1 and 64");
  weft::role_options many;
  many.threads = 65;
  expect_bad([&] { b.scheduler_role("many", many); }, "between 1 and 64");
  b.scheduler_role("audio", weft::role_options{});
  expect_bad([&] { b.scheduler_role("audio", weft::role_options{}); }, "already declared");
}

}  // namespace

namespace {

/// The error a runtime::shutdown called from inside a dispatcher callback
/// gets (0 if it was not refused).
int shutdown_from_callback(weft::runtime& rt, weft::dispatcher_builder b) {
  chan<int> seen;
  weft::dispatcher d = b.create(rt);
  EXPECT_FALSE(d.post_task([&rt, tx = seen.tx](weft::status) mutable {
    int code = 0;
    try {
      rt.shutdown(std::chrono::milliseconds(0));
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
    (void)tx.send(code);
  }));
  return recv_on(rt, seen.rx);
}

TEST(Role, ShutdownOfTheRuntimeFromItsRoleOrBlockingThreadsIsRefusedNotADeadlock) {
  weft::runtime rt =
      weft::runtime_builder{}.worker_threads(1).scheduler_role("io", weft::role_options{}).build();
  const int refused = static_cast<int>(weft::errc::nested_runtime);
  EXPECT_EQ(shutdown_from_callback(rt, weft::dispatcher_builder{}.scheduler_role("io")), refused);
  EXPECT_EQ(shutdown_from_callback(rt, weft::dispatcher_builder{}.allow_thread_blocking()),
            refused);
  EXPECT_EQ(shutdown_from_callback(rt, weft::dispatcher_builder{}), refused);
  rt.shutdown(std::chrono::milliseconds(1000));  // from the owner's thread: fine
}

}  // namespace
