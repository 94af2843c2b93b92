// read_buffered() on both backends and both flavours. On io_uring one
// multishot receive per stream fills the worker's provided buffers
// (src/io/multishot_queue.hpp, buffer_ring.hpp); on epoll, or where the
// kernel refuses provided buffers, each read_buffered() is one recv into a
// block the recv_buffer owns. The bytes, their order, end of stream and
// cancellation behave the same everywhere.
#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "io/buffer_ring.hpp"
#include "io/io_driver.hpp"
#include "io/multishot_queue.hpp"
#include "io/uring_driver.hpp"
#include "multishot_recv_support.hpp"
#include "support/backends.hpp"
#include "support/flavors.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::detail::multishot_kind;
using weft::detail::multishot_queue;
using weft::detail::uring_driver;
using weft::net::recv_buffer;
using weft::net::unix_stream;
using weft_test::buffers_in_ring;
using weft_test::bytes;
using weft_test::pattern;
using weft_test::text;
using weft_test::uring_current_thread;

class MultishotRecv : public weft_test::on_each_backend {};

task<std::vector<std::byte>> read_all_buffered(unix_stream& s, std::size_t n) {
  std::vector<std::byte> got;
  while (got.size() < n) {
    auto b = co_await weft::timeout(30s, s.read_buffered());
    if (!b || !*b || (*b)->empty()) {
      ADD_FAILURE() << "read_buffered failed at " << got.size();
      break;
    }
    got.insert(got.end(), (*b)->data().begin(), (*b)->data().end());
  }
  co_return got;
}

class MultishotRecvOnUring : public weft_test::on_uring_each_flavor {};

// Closing a stream whose queue holds received bytes gives their buffers
// back to the worker's ring.
TEST(MultishotRecvBuffers, ClosingAStreamGivesItsQueuedBuffersBack) {
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    auto p = unix_stream::pair().value();
    {
      auto first = co_await weft::timeout(5ms, p.second.read_buffered());  // arms the receive
      EXPECT_FALSE(first.has_value());
    }
    const int full = buffers_in_ring();
    EXPECT_GT(full, 0);
    for (int i = 0; i < 8; ++i) {
      EXPECT_TRUE(co_await p.first.write_all(bytes("some bytes")));
      co_await weft::yield_now();
    }
    for (int i = 0; i < 200; ++i) co_await weft::yield_now();  // the ring reaps them
    EXPECT_LT(buffers_in_ring(), full);  // queued in the stream, in buffers
    p.second.close();
    EXPECT_EQ(buffers_in_ring(), full);
  }());
}

// close() on a thread that does not drive the ring holding the stream's
// armed receive (after block_on returned): the peer sees the end at once,
// not when a ring is next driven.
TEST_P(MultishotRecvOnUring, ClosingAStreamOffItsRingEndsItForThePeerAtOnce) {
  auto p = unix_stream::pair().value();
  rt.block_on([&]() -> task<> {
    EXPECT_TRUE(co_await p.first.write_all(bytes("x")));
    auto b = co_await weft::timeout(30s, p.second.read_buffered());  // arms the receive
    EXPECT_TRUE(b && *b && text(**b) == "x");
  }());
  p.second.close();  // on the test's thread, outside the runtime
  pollfd pfd{p.first.native_handle(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 30'000), 1) << "the peer saw nothing within 30 s";
  char c = 0;
  EXPECT_EQ(::recv(p.first.native_handle(), &c, 1, MSG_DONTWAIT), 0);  // end of stream
}

// Fallbacks: provided buffers refused (a kernel before 5.19), and the
// multishot receive refused (before 6.0): read_buffered reads all the same.
struct provided_refusal {
  provided_refusal() { uring_driver::force_provided_buffer_refusal_for_test(true); }
  ~provided_refusal() { uring_driver::force_provided_buffer_refusal_for_test(false); }
  provided_refusal(const provided_refusal&) = delete;
  provided_refusal& operator=(const provided_refusal&) = delete;
};
struct recv_multishot_refusal {
  recv_multishot_refusal() {
    multishot_queue::force_multishot_refusal_for_test(multishot_kind::recv, true);
  }
  ~recv_multishot_refusal() {
    multishot_queue::force_multishot_refusal_for_test(multishot_kind::recv, false);
  }
  recv_multishot_refusal(const recv_multishot_refusal&) = delete;
  recv_multishot_refusal& operator=(const recv_multishot_refusal&) = delete;
};

// 64 KiB written by one task and read with read_buffered() by another.
task<void> sixty_four_kib_through_read_buffered() {
    auto p = unix_stream::pair().value();
    const std::vector<std::byte> sent = pattern(64 * 1024);
    auto writer = weft::spawn([&]() -> task<bool> { co_return bool(co_await p.first.write_all(sent)); });
    EXPECT_TRUE(co_await read_all_buffered(p.second, sent.size()) == sent);
    EXPECT_TRUE(co_await std::move(writer));
}

TEST_P(MultishotRecvOnUring, WithoutProvidedBuffersReadBufferedUsesOwnedBlocks) {
  provided_refusal forced;
  rt.block_on([]() -> task<> {
    co_await sixty_four_kib_through_read_buffered();
    EXPECT_EQ(buffers_in_ring(), -1);
  }());
  EXPECT_TRUE(uring_driver::provided_buffers_refused());
}

TEST_P(MultishotRecvOnUring, AKernelRefusingMultishotRecvFallsBackToOneShotReceives) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  recv_multishot_refusal forced;
  rt.block_on(sixty_four_kib_through_read_buffered());
  EXPECT_TRUE(multishot_queue::multishot_refused(multishot_kind::recv));
  EXPECT_GE(script.reached_count("multishot_queue.armed"), 3);  // refused, retried, one per read
}

// A stream read buffered on one runtime's worker, then read() on a worker
// that has never registered provided buffers, with the queue unarmed (one-shot
// arms: each ends with its result). The second worker must arm with buffers
// of its own (found by review: it armed on a ring without any, which answers
// -ENOBUFS for ever, and the read never ended).
TEST(MultishotRecvWorkers, AReadOnAWorkerWithoutProvidedBuffersYetGetsItsBytes) {
  recv_multishot_refusal one_shot;
  weft::runtime first = uring_current_thread();
  weft::runtime second = uring_current_thread();
  auto p = unix_stream::pair().value();
  first.block_on([&]() -> task<> {
    EXPECT_TRUE(co_await p.first.write_all(bytes("a")));
    auto b = co_await weft::timeout(30s, p.second.read_buffered());
    EXPECT_TRUE(b && *b && text(**b) == "a");
  }());
  second.block_on([&]() -> task<> {
    EXPECT_TRUE(co_await p.first.write_all(bytes("b")));
    std::array<std::byte, 8> buf{};
    auto n = co_await weft::timeout(30s, p.second.read(buf));
    EXPECT_TRUE(n && *n && **n == 1u && buf[0] == std::byte{'b'}) << "the read did not end";
  }());
}

INSTANTIATE_TEST_SUITE_P(Flavors, MultishotRecvOnUring, weft_test::each_flavor(),
                         weft_test::flavor_name);

}  // namespace
