// Batching on io_uring: starting an operation queues its SQE and enters no
// system call; the scheduler's next turn at the driver (poll() every
// event_interval ticks, or park() when it runs out of tasks) hands every SQE
// queued since to the kernel in one io_uring_enter(2). Read from the driver's
// own counters (uring_driver::enters() and turns(), owner thread).
#include "io/io_driver.hpp"
#include "io/uring_driver.hpp"

#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "support/scoped_env.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::detail::uring_driver;
using weft::net::unix_stream;

uring_driver* current_uring() {
  return dynamic_cast<uring_driver*>(weft::detail::current_io_driver());
}

weft::runtime uring_current_thread() {
  return weft::runtime_builder{}
      .flavor(weft::runtime_flavor::current_thread)
      .io_backend(weft::io_backend_choice::io_uring)
      .build();
}

// 200 reads started by 200 tasks, all in the ticks between two turns of the
// scheduler at the driver, cost no io_uring_enter of their own: the enters
// while they start are at most the turns (one each). Then every read gets
// its byte, and the completions too are reaped at most one enter per turn.
// Without batching (an enter per started operation) the first count would
// be ≥ 200 against a handful of turns.
TEST(UringBatching, OperationsStartedBetweenTwoTurnsShareOneEnter) {
  constexpr int n = 200;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    uring_driver* d = current_uring();
    EXPECT_NE(d, nullptr);
    if (d == nullptr) co_return;
    std::vector<std::pair<unix_stream, unix_stream>> pairs;
    for (int i = 0; i < n; ++i) pairs.push_back(unix_stream::pair().value());
    int started = 0;
    int done = 0;
    const std::uint64_t enters0 = d->enters();
    const std::uint64_t turns0 = d->turns();
    std::vector<weft::join_handle<void>> readers;
    for (int i = 0; i < n; ++i) {
      readers.push_back(weft::spawn([&, i]() -> task<> {
        ++started;
        std::array<std::byte, 1> b{};
        auto r = co_await weft::timeout(30s, pairs[static_cast<std::size_t>(i)].second.read(b));
        EXPECT_TRUE(r && *r && **r == 1u);
        ++done;
      }));
    }
    // Every reader runs (and queues its read's SQE) before this task runs
    // again: the tasks it spawned are ahead of it in the queue.
    co_await weft::yield_now();
    EXPECT_EQ(started, n);
    const std::uint64_t enters1 = d->enters();
    const std::uint64_t turns1 = d->turns();
    EXPECT_LE(enters1 - enters0, turns1 - turns0)
        << n << " reads started in " << (turns1 - turns0) << " turns took " << (enters1 - enters0)
        << " enters";
    EXPECT_LT(turns1 - turns0, static_cast<std::uint64_t>(n / 10));
    for (auto& p : pairs) {
      const std::array<std::byte, 1> one{std::byte{1}};
      EXPECT_TRUE(co_await p.first.write_all(one));
    }
    for (auto& h : readers) EXPECT_TRUE(co_await weft::timeout(30s, std::move(h)));
    EXPECT_EQ(done, n);
    const std::uint64_t enters2 = d->enters();
    const std::uint64_t turns2 = d->turns();
    EXPECT_LE(enters2 - enters1, turns2 - turns1)
        << n << " reads completed in " << (turns2 - turns1) << " turns took " << (enters2 - enters1)
        << " enters";
  }());
}

// 100 messages written and read back; how many operations went to the ring
// (test point "uring_driver.op_started"). By default a send is a send(2)
// first, so the writes start no SQE while the socket buffer has room; with
// WEFT_URING_SEND=ring (the measurement knob) every write is an SQE. The
// bytes are the same either way.
int ring_ops_for_100_messages(weft_test::point_script& script) {
  weft::runtime rt = uring_current_thread();
  const int before = script.reached_count("uring_driver.op_started");
  rt.block_on([&]() -> task<> {
    auto p = unix_stream::pair().value();
    for (int i = 0; i < 100; ++i) {
      const std::array<std::byte, 3> msg{std::byte{1}, std::byte{2}, static_cast<std::byte>(i)};
      EXPECT_TRUE(co_await p.first.write_all(msg));
      std::array<std::byte, 3> got{};
      EXPECT_TRUE(co_await weft::timeout(30s, p.second.read_exact(got)));
      EXPECT_EQ(got, msg);
    }
  }());
  return script.reached_count("uring_driver.op_started") - before;
}

TEST(UringSend, SendsGoThroughTheRingOnlyWhenAskedTo) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  int by_default = 0;
  int ring = 0;
  {
    weft_test::scoped_env env("WEFT_URING_SEND", nullptr);
    by_default = ring_ops_for_100_messages(script);
  }
  {
    weft_test::scoped_env env("WEFT_URING_SEND", "ring");
    ring = ring_ops_for_100_messages(script);
  }
  EXPECT_GE(ring, by_default + 100) << "default " << by_default << ", ring " << ring;
}

TEST(UringSend, AnUnknownSendModeIsRefusedWithTheAllowedValues) {
  weft_test::scoped_env env("WEFT_URING_SEND", "sometimes");
  try {
    weft::runtime rt = uring_current_thread();
    ADD_FAILURE() << "the runtime was built with WEFT_URING_SEND=sometimes";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("allowed values: syscall (default), ring"), std::string::npos)
        << e.what();
    // Reported as itself, not as io_uring being unavailable (the knob is
    // read before the probe; found by review).
    EXPECT_EQ(std::string(e.what()).find("unavailable"), std::string::npos) << e.what();
  }
}

}  // namespace
