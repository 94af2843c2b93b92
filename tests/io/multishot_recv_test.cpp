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
#include "support/backends.hpp"
#include "support/flavors.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <future>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
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


std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + i / 251) & 0xff);
  return v;
}

std::span<const std::byte> bytes(const char* s) {
  return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}

std::string text(const recv_buffer& b) {
  return {reinterpret_cast<const char*>(b.data().data()), b.size()};
}

// One worker on io_uring: a test's task and its streams' receives share one
// ring and its provided buffers.
weft::runtime uring_current_thread() {
  return weft::runtime_builder{}
      .flavor(weft::runtime_flavor::current_thread)
      .io_backend(weft::io_backend_choice::io_uring)
      .build();
}

// The worker's provided buffers still in its ring (io_uring, on the worker
// this task runs on), or -1 where there are none.
int buffers_in_ring() {
  auto* d = dynamic_cast<uring_driver*>(weft::detail::current_io_driver());
  if (d == nullptr || d->provided() == nullptr) return -1;
  return static_cast<int>(d->provided()->in_ring());
}

TEST_P(MultishotRecv, ReadBufferedReturnsTheBytesInOrderThenEmptyAtEndOfStream) {
  rt.block_on([]() -> task<> {
    auto p = unix_stream::pair().value();
    EXPECT_TRUE(co_await p.first.write_all(bytes("hello ")));
    std::vector<std::byte> got = co_await read_all_buffered(p.second, 6);
    EXPECT_TRUE(co_await p.first.write_all(bytes("world")));
    const std::vector<std::byte> rest = co_await read_all_buffered(p.second, 5);
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), "hello world");
    EXPECT_TRUE(p.first.shutdown());
    auto end = co_await weft::timeout(30s, p.second.read_buffered());
    EXPECT_TRUE(end && *end && (*end)->empty()) << "no end of stream";
  }());
}

// 256 KiB through a stream read alternately with read() into a 100-byte
// buffer and read_buffered(): on io_uring a read() copies out of the front
// provided buffer and leaves the rest for the next reader, so the bytes come
// in order whichever call takes them.
TEST_P(MultishotRecv, ReadAndReadBufferedMixedKeepTheStreamInOrder) {
  rt.block_on([]() -> task<> {
    auto p = unix_stream::pair().value();
    const std::vector<std::byte> sent = pattern(256 * 1024);
    auto writer = weft::spawn([&]() -> task<bool> { co_return bool(co_await p.first.write_all(sent)); });
    std::vector<std::byte> got;
    bool buffered = false;
    while (got.size() < sent.size()) {
      if (buffered) {
        auto b = co_await weft::timeout(30s, p.second.read_buffered());
        if (!b || !*b || (*b)->empty()) {
          ADD_FAILURE() << "read_buffered failed at " << got.size();
          co_return;
        }
        got.insert(got.end(), (*b)->data().begin(), (*b)->data().end());
      } else {
        std::array<std::byte, 100> small{};
        auto n = co_await weft::timeout(30s, p.second.read(small));
        if (!n || !*n || **n == 0) {
          ADD_FAILURE() << "read failed at " << got.size();
          co_return;
        }
        got.insert(got.end(), small.begin(), small.begin() + static_cast<std::ptrdiff_t>(**n));
      }
      buffered = !buffered;
    }
    EXPECT_TRUE(co_await std::move(writer));
    EXPECT_TRUE(got == sent) << "the stream came out of order";
  }());
}

// A buffered read cancelled while it waits (its timeout wins) consumed
// nothing: the bytes sent afterwards are all read by the next one.
TEST_P(MultishotRecv, ACancelledBufferedReadConsumesNothing) {
  rt.block_on([]() -> task<> {
    auto p = unix_stream::pair().value();
    auto none = co_await weft::timeout(5ms, p.second.read_buffered());
    EXPECT_FALSE(none.has_value());
    EXPECT_TRUE(co_await p.first.write_all(bytes("abc")));
    auto b = co_await weft::timeout(30s, p.second.read_buffered());
    EXPECT_TRUE(b && *b && text(**b) == "abc");
  }());
}

INSTANTIATE_TEST_SUITE_P(Backends, MultishotRecv, weft_test::each_backend(),
                         weft_test::backend_name);

// io_uring only: the provided buffers themselves (epoll has none).
class MultishotRecvOnUring : public weft_test::on_uring_each_flavor {};

// A reader of `total` bytes that keeps every buffer it gets while `hold` is
// true, so the worker's ring runs dry; `waiting`: it is inside
// read_buffered. `on_read_after_hold` runs at its first read once `hold` is
// false. Lives in the awaiting task's frame, which awaits run() to its end.
struct hoarding_reader {
  std::vector<std::byte> got;
  std::vector<recv_buffer> held;
  bool hold = true;
  bool waiting = false;
  bool done = false;
  std::function<void()> on_read_after_hold;

  task<> run(unix_stream& s, std::size_t total) {
    bool told = false;
    while (got.size() < total) {
      waiting = true;
      auto b = co_await weft::timeout(60s, s.read_buffered());
      waiting = false;
      if (!b || !*b || (*b)->empty()) {
        ADD_FAILURE() << "read_buffered failed or timed out at " << got.size();
        break;
      }
      got.insert(got.end(), (*b)->data().begin(), (*b)->data().end());
      if (hold) {
        held.push_back(std::move(**b));
      } else if (!told && on_read_after_hold) {
        told = true;
        on_read_after_hold();
      }
    }
    done = true;
  }
};

// The worker's ring runs dry while the program holds every buffer: the next
// read waits (the bytes stay in the socket), and once the buffers are given
// back it goes on; all 8 MiB arrive, in order. Current-thread: one worker, so
// the test's task and the stream's receive share one ring.
TEST(MultishotRecvDry, ARingRunningDryMakesTheReadWaitAndLosesNothing) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    auto p = unix_stream::pair().value();
    // More than the ring holds (256 buffers of 16 KiB).
    const std::vector<std::byte> sent = pattern(8 * 1024 * 1024);
    auto writer = weft::spawn([&]() -> task<bool> { co_return bool(co_await p.first.write_all(sent)); });
    hoarding_reader r;
    auto reader = weft::spawn([&]() -> task<> { co_await r.run(p.second, sent.size()); });
    // The reader waits with every buffer held: the ring is dry, the queue
    // empty (else the reader would have taken from it).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!(r.waiting && buffers_in_ring() == 0) && std::chrono::steady_clock::now() < deadline) {
      co_await weft::yield_now();
    }
    EXPECT_EQ(buffers_in_ring(), 0);
    EXPECT_TRUE(r.waiting);
    const int arms_before = script.reached_count("multishot_queue.armed");
    for (int i = 0; i < 500; ++i) co_await weft::yield_now();
    EXPECT_FALSE(r.done) << "the reader went on with every buffer held";
    EXPECT_TRUE(r.waiting);
    r.hold = false;
    r.held.clear();  // the buffers go back: the receive is armed again
    auto finished = co_await weft::timeout(60s, std::move(reader));
    EXPECT_TRUE(finished.has_value());
    EXPECT_TRUE(r.done);
    EXPECT_GT(script.reached_count("multishot_queue.armed"), arms_before);
    EXPECT_TRUE(co_await std::move(writer));
    EXPECT_TRUE(r.got == sent) << "bytes lost or out of order (" << r.got.size() << " of " << sent.size() << ")";
  }());
}

// Buffers given back from a thread that is not the ring's owner, while the
// owner is parked with a stream starved of buffers, wake the owner: its
// receive is armed again and the reader goes on. Found by review (the owner
// slept until something else woke it).
//
// How the order is forced: the runtime runs on its own thread; its reader
// keeps every buffer until the ring is dry and its receive waits for buffers
// (test point "uring_driver.receive_starved"). The main task then hands the
// buffers to the test's thread, asks the script to hold the owner at
// "uring_driver.parked" (inside the park, the token already says PARKED) and
// waits for the reader. Nothing else can wake the owner: the writer is
// blocked on the full socket and every deadline of the runtime's is minutes
// away. Only once the owner is held there does the test's thread drop the
// buffers (each goes through the ring's return list), then release it, and
// wait (30 s at most) for the reader to go on. If it does not, the test fails
// and spawns a task onto the runtime, which wakes it, so that it ends. Every
// wait of the runtime's has a 60 s deadline, so a failure of another kind
// (the buffers back but the receive never armed again) ends too.
TEST(MultishotRecvDry, BuffersGivenBackFromAnotherThreadWakeTheParkedOwner) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  std::mutex handed_mu;
  std::vector<recv_buffer> handed;  // the reader's buffers, for the test's thread
  std::promise<void> went_on;  // the reader read again after the hand-off
  std::future<void> reader_went_on = went_on.get_future();
  std::promise<bool> hold_set;  // true: the owner is to be held; false: it never ran dry
  std::future<bool> owner_starved = hold_set.get_future();
  bool finished = false;
  std::size_t received = 0;
  const std::vector<std::byte> sent = pattern(8 * 1024 * 1024);  // more than the ring holds
  std::thread owner([&] {
    rt.block_on([&]() -> task<> {
      auto p = unix_stream::pair().value();
      auto writer = weft::spawn([&]() -> task<bool> { co_return bool(co_await p.first.write_all(sent)); });
      hoarding_reader r;
      r.on_read_after_hold = [&went_on] { went_on.set_value(); };
      auto reader = weft::spawn([&]() -> task<> { co_await r.run(p.second, sent.size()); });
      // Dry, and a receive with a waiter ended (-ENOBUFS) and was put aside
      // until buffers come back: nothing of the stream's is in the kernel,
      // so no completion of its can end the park below. (An earlier
      // -ENOBUFS, with results still queued, ends the arm without a waiter;
      // the read that empties the queue then arms once more.)
      auto starved = [&] {
        return r.waiting && buffers_in_ring() == 0 && script.reached_count("uring_driver.receive_starved") >= 1;
      };
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (!starved() && std::chrono::steady_clock::now() < deadline) co_await weft::yield_now();
      const bool dry = starved();
      EXPECT_TRUE(dry) << "the ring never ran dry";
      r.hold = false;
      if (dry) {
        {
          std::lock_guard lk(handed_mu);
          handed = std::move(r.held);
        }
        script.hold("uring_driver.parked");  // this thread's next park
      } else {
        r.held.clear();  // given back here: the rest of the test still ends
      }
      hold_set.set_value(dry);
      auto done = co_await weft::timeout(60s, std::move(reader));
      EXPECT_TRUE(done.has_value());
      auto wrote = co_await weft::timeout(60s, std::move(writer));
      EXPECT_TRUE(wrote && *wrote) << "the writer did not finish";
      received = r.got.size();
      EXPECT_TRUE(r.got == sent) << "bytes lost or out of order";
      finished = true;
    }());
  });
  // The owner's wait for a dry ring has a 30 s deadline; then it says
  // whether it set the hold.
  const bool held_there =
      owner_starved.wait_for(60s) == std::future_status::ready && owner_starved.get();
  if (held_there) {
    EXPECT_TRUE(script.wait_held("uring_driver.parked"));
    {
      std::lock_guard lk(handed_mu);
      EXPECT_FALSE(handed.empty());
      handed.clear();  // on a thread with no runtime: the ring's return list
    }
    script.release("uring_driver.parked");
    if (reader_went_on.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "the owner slept through the buffers' return";
      (void)rt.spawn([]() -> task<> { co_return; });  // wakes it, so the test ends
    }
  }
  owner.join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(received, sent.size());
  EXPECT_FALSE(script.held_too_long());
}

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
