// weft::with_cancellation: any awaitable — I/O on both backends, a sleep, a
// nested timeout — ends with operation_canceled when its token fires.
#include <weft/cancellation.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/udp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>

namespace {

using namespace std::chrono_literals;
using weft::cancellation_source;
using weft::result;
using weft::task;
using weft::net::socket_address;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

class WithCancellation : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, WithCancellation, weft_test::each_backend(),
                         weft_test::backend_name);

const socket_address loopback{weft::net::ip_address::v4_loopback(), 0};

TEST_P(WithCancellation, AcceptEndsWhenAnotherTaskCancels) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback).value();
    cancellation_source stop;
    auto canceller = weft::spawn([stop]() mutable -> task<void> {
      co_await weft::sleep(2ms);
      stop.cancel();
    });
    result<result<tcp_stream>> r = co_await weft::with_cancellation(stop.token(), l.accept());
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    co_await canceller;
    // The listener still accepts.
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    EXPECT_TRUE((co_await l.accept()).has_value());
  }());
}

TEST_P(WithCancellation, ReadCancelledFromAPlainThreadLeavesTheStreamUsable) {
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    cancellation_source stop;
    std::atomic<bool> waiting{false};
    std::thread canceller([&] {
      while (!waiting.load()) std::this_thread::yield();
      stop.cancel();  // from a thread that is no worker: the remote path
    });
    std::array<std::byte, 16> buf{};
    waiting.store(true);
    result<result<std::size_t>> r = co_await weft::with_cancellation(stop.token(), s.read(buf));
    canceller.join();
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    const std::array<std::byte, 1> one{std::byte{42}};
    (co_await c.write_all(one)).value();
    EXPECT_EQ((co_await s.read(buf)).value(), 1u);
  }());
}

TEST_P(WithCancellation, ANestedTimeoutIsCancelledAllTheWayDown) {
  rt.block_on([]() -> task<void> {
    weft::net::udp_socket u = weft::net::udp_socket::bind(loopback).value();
    cancellation_source stop;
    auto canceller = weft::spawn([stop]() mutable -> task<void> {
      co_await weft::sleep(2ms);
      stop.cancel();
    });
    std::array<std::byte, 16> buf{};
    auto r = co_await weft::with_cancellation(stop.token(), weft::timeout(1h, u.recv_from(buf)));
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    co_await canceller;
  }());
}

TEST_P(WithCancellation, AnAlreadyCancelledTokenDoesNotStartTheOperation) {
  rt.block_on([]() -> task<void> {
    cancellation_source stop;
    stop.cancel();
    bool started = false;
    auto op = [&started]() -> task<int> {
      started = true;
      co_return 1;
    };
    result<int> r = co_await weft::with_cancellation(stop.token(), op());
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    EXPECT_FALSE(started);
  }());
}

TEST_P(WithCancellation, AFinishedOperationKeepsItsValue) {
  rt.block_on([]() -> task<void> {
    cancellation_source stop;
    result<int> r = co_await weft::with_cancellation(stop.token(), []() -> task<int> {
      co_return 7;
    }());
    stop.cancel();
    EXPECT_EQ(r.value(), 7);
  }());
}

TEST_P(WithCancellation, SleepEndsAtTheCancelNotTheDeadline) {
  rt.block_on([]() -> task<void> {
    cancellation_source stop;
    auto canceller = weft::spawn([stop]() mutable -> task<void> {
      co_await weft::sleep(1ms);
      stop.cancel();
    });
    result<void> r = co_await weft::with_cancellation(stop.token(), weft::sleep(1h));
    EXPECT_EQ(r.error(), weft::errc::operation_canceled);
    co_await canceller;
  }());
}

}  // namespace
