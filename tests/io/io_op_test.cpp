// I/O operations racing a socket's close and a cancel (src/io/io_op.cpp,
// src/io/io_source.cpp). The windows are forced with weft's test points
// (tests/support/test_points.hpp), not left to luck.
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/with_cancellation.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <system_error>
#include <thread>

#include "support/flavors.hpp"
#include "support/test_points.hpp"

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::unix_stream;

constexpr const char* op_linked = "io_source.op_linked";
constexpr const char* before_retire = "io_handle.close.before_retire";

class EpollCloseRace : public ::testing::TestWithParam<weft::runtime_flavor> {
 protected:
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(GetParam())
                         .io_backend(weft::io_backend_choice::epoll)
                         .build();
};
INSTANTIATE_TEST_SUITE_P(Flavors, EpollCloseRace, weft_test::each_flavor(),
                         weft_test::flavor_name);

// Waits (yielding, so a current-thread runtime goes on) until `name` was
// reached once; false after 30 s.
task<bool> reached(weft_test::point_script& script, const char* name) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (script.reached_count(name) == 0) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await weft::yield_now();
  }
  co_return true;
}

// A read of `a` under `tok`: its error (operation_canceled when the token
// won, or the read's own), or none when it read something.
task<std::error_code> cancellable_read(unix_stream& a, weft::cancellation_token tok) {
  std::array<std::byte, 8> buf{};
  result<result<std::size_t>> r = co_await weft::with_cancellation(std::move(tok), a.read(buf));
  if (!r) co_return r.error();
  co_return r->has_value() ? std::error_code{} : r->error();
}

// Bug 8: io_request_cancel found the op's source through op.handle->source,
// which io_handle::close nulls before retire() completes the waiting ops: a
// cancel in that gap dereferenced null. Now the op names its own source and
// the cancel completes it (operation_canceled) once; retire() then finds
// nothing waiting.
//
// How the order is forced: the read is linked on the source (counted at
// io_source.op_linked); a plain thread closes the socket and is held at
// io_handle.close.before_retire, after the handle's source pointer is nulled
// and before retire(); only then is the read's token cancelled (the read's
// branch is destroyed on a runtime thread, which runs the cancel path); the
// closing thread is released after the read has finished.
TEST_P(EpollCloseRace, AReadCancelledWhileItsSocketIsBeingClosedCompletesCanceledOnce) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;  // outlives the runtime: its threads reach points
  script.on(op_linked, [] {});     // counted only
  script.hold(before_retire);
  // Named, not a structured binding: clang 14 cannot capture those in lambdas.
  auto a_b = unix_stream::pair().value();
  auto& a = a_b.first;
  std::thread closer;
  const std::error_code ec = rt.block_on([&]() -> task<std::error_code> {
    weft::cancellation_source stop;
    auto reader = weft::spawn(cancellable_read(a, stop.token()));
    EXPECT_TRUE(co_await reached(script, op_linked));  // the read waits on the socket
    closer = std::thread([&a] { a.close(); });
    EXPECT_TRUE(script.wait_held(before_retire));  // the handle no longer names the source
    stop.cancel();
    std::error_code r = co_await reader;  // the read's branch was cancelled
    script.release(before_retire);
    co_return r;
  }());
  closer.join();
  EXPECT_EQ(ec, weft::errc::operation_canceled);
  EXPECT_FALSE(script.held_too_long());
  EXPECT_EQ(script.reached_count(before_retire), 1);
}

// The other side of the same window: the close finishes first (retire()
// completes the read with operation_canceled) and a cancel arriving after
// finds the op completed.
TEST_P(EpollCloseRace, AReadWaitingOnASocketClosedByAnotherThreadCompletesCanceled) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  script.on(op_linked, [] {});
  auto a_b = unix_stream::pair().value();
  auto& a = a_b.first;
  const std::error_code ec = rt.block_on([&]() -> task<std::error_code> {
    weft::cancellation_source stop;
    auto reader = weft::spawn(cancellable_read(a, stop.token()));
    EXPECT_TRUE(co_await reached(script, op_linked));
    std::thread([&a] { a.close(); }).join();
    stop.cancel();
    co_return co_await reader;
  }());
  EXPECT_EQ(ec, weft::errc::operation_canceled);
}

}  // namespace
