// A worker's provided-buffer ring running dry (io_uring): every buffer is
// out, held by recv_buffers or queued for streams whose tasks do not read.
// A buffered read then waits for its socket with a poll and receives into a
// block of its own (the dry-ring fallback, src/io/multishot_queue.hpp), so no
// connection waits for buffers that others hold, and nothing is lost or
// reordered. Each test runs on one current-thread worker: the test's task
// and every stream's receive share that worker's ring, so "dry" is a state
// the test can reach and check (buffers_in_ring() == 0) before it goes on.
#include <weft/join_handle.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>
#include <weft/time.hpp>

#include "multishot_recv_support.hpp"
#include "support/tcp_pair.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <linux/net_tstamp.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::net::recv_buffer;
using weft::net::unix_stream;
using weft_test::buffers_in_ring;
using weft_test::bytes;
using weft_test::pattern;
using weft_test::text;
using weft_test::uring_current_thread;

constexpr std::size_t eight_mib = 8 * 1024 * 1024;  // more than a ring holds (256 x 16 KiB)

// Runs the worker's ring dry: a writer sends 8 MiB into a pair whose reader
// keeps every buffer it gets until none is left in the ring. release() gives
// them back and ends the writer.
struct ring_hoard {
  std::pair<unix_stream, unix_stream> p = unix_stream::pair().value();
  std::vector<std::byte> sent = pattern(eight_mib);
  std::vector<recv_buffer> held;
  std::optional<weft::join_handle<bool>> writer;

  task<bool> fill() {
    writer.emplace(
        weft::spawn([this]() -> task<bool> { co_return bool(co_await p.first.write_all(sent)); }));
    while (buffers_in_ring() != 0) {
      auto b = co_await weft::timeout(30s, p.second.read_buffered());
      if (!b || !*b || (*b)->empty()) co_return false;
      held.push_back(std::move(**b));
    }
    co_return true;
  }

  task<> release() {
    held.clear();
    p.second.close();  // the writer, blocked on the full socket, fails (EPIPE)
    if (writer) (void)co_await weft::timeout(30s, std::move(*writer));
  }
};

// A reader of `total` bytes that keeps every buffer it reads.
struct hoarding_reader {
  std::vector<std::byte> got;
  std::vector<recv_buffer> held;
  bool done = false;

  task<> run(unix_stream& s, std::size_t total) {
    while (got.size() < total) {
      auto b = co_await weft::timeout(30s, s.read_buffered());
      if (!b || !*b || (*b)->empty()) {
        ADD_FAILURE() << "read_buffered failed or timed out at " << got.size();
        co_return;
      }
      got.insert(got.end(), (*b)->data().begin(), (*b)->data().end());
      held.push_back(std::move(**b));
    }
    done = true;
  }
};

// A program that keeps every buffer it reads (as one that keeps them until
// a whole message has arrived) takes the whole ring and goes on reading:
// once the ring is dry each read waits for the socket and receives into a
// block of its own. All 8 MiB arrive, in order, while every buffer is still
// held. Once they are given back, a read is served from the ring again.
// (Before the fallback the read waited until a buffer came back: for ever
// here. Mutation-checked: with the poll arm disabled the read times out.)
TEST(MultishotRecvDry, AProgramHoldingEveryBufferGoesOnReadingIntoBlocksOfItsOwn) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    auto p = unix_stream::pair().value();
    const std::vector<std::byte> sent = pattern(eight_mib);
    auto writer =
        weft::spawn([&]() -> task<bool> { co_return bool(co_await p.first.write_all(sent)); });
    hoarding_reader r;
    co_await r.run(p.second, sent.size());
    EXPECT_TRUE(r.done);
    EXPECT_TRUE(r.got == sent) << "bytes lost or out of order (" << r.got.size() << " of "
                               << sent.size() << ")";
    EXPECT_EQ(buffers_in_ring(), 0) << "the reader did not hold the whole ring";
    EXPECT_GT(script.reached_count("uring_driver.receive_polls"), 0);
    EXPECT_GT(script.reached_count("multishot_queue.read_own_block"), 0);
    auto wrote = co_await weft::timeout(30s, std::move(writer));
    EXPECT_TRUE(wrote && *wrote);

    r.held.clear();  // on the ring's owner: straight back into the ring
    EXPECT_GT(buffers_in_ring(), 0);
    const int blocks_before = script.reached_count("multishot_queue.read_own_block");
    auto q = unix_stream::pair().value();
    EXPECT_TRUE(co_await q.first.write_all(bytes("after")));
    auto b = co_await weft::timeout(30s, q.second.read_buffered());
    EXPECT_TRUE(b && *b && text(**b) == "after");
    EXPECT_EQ(script.reached_count("multishot_queue.read_own_block"), blocks_before)
        << "read into a block although the ring had buffers";
  }());
}

// The HTTP example's bug 31, in the library: streams whose tasks stopped
// reading (blocked elsewhere) while their peers keep sending fill their
// queues, up to 16 buffers each, until 24 of them hold the worker's whole
// ring. Another connection's read_buffered() and read() still get their
// bytes at once, and the stalled streams, once their tasks read again, get
// every byte in order. (Before: both reads waited until a stalled stream's
// task read again, here for ever.)
TEST(MultishotRecvDry, StreamsWhoseTasksStopReadingDoNotStarveTheOthers) {
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    constexpr int stalled_count = 24;
    constexpr std::size_t each = 1024 * 1024;
    const std::vector<std::byte> sent = pattern(each);
    weft::event go;
    struct stalled {
      std::pair<unix_stream, unix_stream> p = unix_stream::pair().value();
      std::vector<std::byte> got;
    };
    std::vector<std::unique_ptr<stalled>> streams;
    std::vector<weft::join_handle<bool>> writers;
    std::vector<weft::join_handle<void>> readers;
    for (int i = 0; i < stalled_count; ++i) {
      streams.push_back(std::make_unique<stalled>());
      stalled& s = *streams.back();
      writers.push_back(
          weft::spawn([&]() -> task<bool> { co_return bool(co_await s.p.first.write_all(sent)); }));
      readers.push_back(weft::spawn([&]() -> task<> {
        bool waited = false;
        recv_buffer first;  // kept while the task is busy: every buffer is out
        while (s.got.size() < each) {
          auto b = co_await weft::timeout(30s, s.p.second.read_buffered());
          if (!b || !*b || (*b)->empty()) {
            ADD_FAILURE() << "a stalled stream's read failed at " << s.got.size();
            co_return;
          }
          s.got.insert(s.got.end(), (*b)->data().begin(), (*b)->data().end());
          if (!waited) {  // one read arms the receive; then the task is busy elsewhere
            waited = true;
            first = std::move(**b);
            (void)co_await weft::timeout(60s, go.wait());
            first.reset();
          }
        }
      }));
    }
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (buffers_in_ring() != 0 && std::chrono::steady_clock::now() < deadline)
      co_await weft::yield_now();
    EXPECT_EQ(buffers_in_ring(), 0) << "the stalled streams did not take the whole ring";

    auto fresh = unix_stream::pair().value();
    EXPECT_TRUE(co_await fresh.first.write_all(bytes("ping")));
    auto b = co_await weft::timeout(30s, fresh.second.read_buffered());
    EXPECT_TRUE(b && *b && text(**b) == "ping") << "a buffered read starved";
    auto plain = unix_stream::pair().value();
    (void)co_await weft::timeout(5ms, plain.second.read_buffered());  // gives the stream a queue
    EXPECT_TRUE(co_await plain.first.write_all(bytes("pong")));
    std::array<std::byte, 16> buf{};
    auto n = co_await weft::timeout(30s, plain.second.read(buf));
    EXPECT_TRUE(n && *n && **n == 4u && buf[0] == std::byte{'p'} && buf[1] == std::byte{'o'})
        << "a read() starved";

    go.set();
    for (auto& r : readers) EXPECT_TRUE((co_await weft::timeout(60s, std::move(r))).has_value());
    for (auto& w : writers) {
      auto wrote = co_await weft::timeout(60s, std::move(w));
      EXPECT_TRUE(wrote && *wrote);
    }
    for (const auto& s : streams)
      EXPECT_TRUE(s->got == sent) << "a stalled stream lost or reordered bytes";
  }());
}

// A read waiting through the fallback and cancelled (its timeout wins) has
// consumed nothing: the poll that ends after it reads nothing, and the next
// read gets every byte.
TEST(MultishotRecvDry, AReadCancelledWhileItPollsConsumesNothing) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    ring_hoard hoard;
    EXPECT_TRUE(co_await hoard.fill()) << "the ring never ran dry";
    auto p = unix_stream::pair().value();
    const int polls = script.reached_count("uring_driver.receive_polls");
    auto none = co_await weft::timeout(5ms, p.second.read_buffered());
    EXPECT_FALSE(none.has_value());
    EXPECT_EQ(script.reached_count("uring_driver.receive_polls"), polls + 1);
    const int blocks = script.reached_count("multishot_queue.read_own_block");
    EXPECT_TRUE(co_await p.first.write_all(bytes("abc")));
    for (int i = 0; i < 100; ++i) co_await weft::yield_now();  // the orphaned poll ends
    EXPECT_EQ(script.reached_count("multishot_queue.read_own_block"), blocks)
        << "read with no reader";
    auto b = co_await weft::timeout(30s, p.second.read_buffered());
    EXPECT_TRUE(b && *b && text(**b) == "abc");
    co_await hoard.release();
  }());
}

// A read() into a small buffer takes a fallback block's bytes in pieces
// (the rest stays queued); a read_buffered() then takes what is left of the
// block, from its start; the end of stream follows.
TEST(MultishotRecvDry, AFallbackBlockIsTakenInPiecesInOrder) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    ring_hoard hoard;
    EXPECT_TRUE(co_await hoard.fill()) << "the ring never ran dry";
    auto p = unix_stream::pair().value();
    (void)co_await weft::timeout(5ms, p.second.read_buffered());  // gives the stream a queue
    const std::vector<std::byte> sent = pattern(1000);
    EXPECT_TRUE(co_await p.first.write_all(sent));
    EXPECT_TRUE(p.first.shutdown());
    std::array<std::byte, 10> small{};
    auto n = co_await weft::timeout(30s, p.second.read(small));
    EXPECT_TRUE(n && *n && **n == small.size());
    std::vector<std::byte> got(small.begin(), small.end());
    auto b = co_await weft::timeout(30s, p.second.read_buffered());
    EXPECT_TRUE(b && *b);
    if (b && *b) got.insert(got.end(), (*b)->data().begin(), (*b)->data().end());
    EXPECT_TRUE(got == sent) << got.size() << " bytes, or out of order";
    EXPECT_EQ(script.reached_count("multishot_queue.read_own_block"), 1);
    auto end = co_await weft::timeout(30s, p.second.read_buffered());
    EXPECT_TRUE(end && *end && (*end)->empty()) << "no end of stream";
    co_await hoard.release();
  }());
}

// Closing a stream whose read waits through the fallback ends that read
// (operation_canceled) and leaks nothing (the sanitizer builds check).
TEST(MultishotRecvDry, ClosingAStreamWhoseReadPollsEndsTheRead) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    ring_hoard hoard;
    EXPECT_TRUE(co_await hoard.fill()) << "the ring never ran dry";
    auto p = unix_stream::pair().value();
    const int polls = script.reached_count("uring_driver.receive_polls");
    auto reader = weft::spawn([&]() -> task<bool> {
      auto b = co_await weft::timeout(30s, p.second.read_buffered());
      co_return b.has_value() && !b->has_value() && b->error() == weft::errc::operation_canceled;
    });
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (script.reached_count("uring_driver.receive_polls") == polls &&
           std::chrono::steady_clock::now() < deadline) {
      co_await weft::yield_now();
    }
    p.second.close();
    auto ended = co_await weft::timeout(30s, std::move(reader));
    EXPECT_TRUE(ended && *ended) << "the read did not end with operation_canceled";
    co_await hoard.release();
  }());
}

// Buffers given back on a thread with no runtime go to the ring's return
// list; the next read on the owner takes them back before it arms, so it is
// served from the ring, not through the fallback.
TEST(MultishotRecvDry, BuffersGivenBackFromAnotherThreadAreUsedByTheNextRead) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    ring_hoard hoard;
    EXPECT_TRUE(co_await hoard.fill()) << "the ring never ran dry";
    std::vector<recv_buffer> away = std::move(hoard.held);
    std::thread([&away] { away.clear(); }).join();
    const int blocks = script.reached_count("multishot_queue.read_own_block");
    const int polls = script.reached_count("uring_driver.receive_polls");
    auto p = unix_stream::pair().value();
    EXPECT_TRUE(co_await p.first.write_all(bytes("back")));
    auto b = co_await weft::timeout(30s, p.second.read_buffered());
    EXPECT_TRUE(b && *b && text(**b) == "back");
    EXPECT_EQ(script.reached_count("multishot_queue.read_own_block"), blocks);
    EXPECT_EQ(script.reached_count("uring_driver.receive_polls"), polls);
    EXPECT_GT(buffers_in_ring(), 0);
    co_await hoard.release();
  }());
}

// A socket whose error queue is not empty (here a TX timestamp of a byte it
// sent) is readable for poll(2) for ever (POLLERR) while recv(2) finds
// nothing. With the ring dry, its read polls once, finds nothing, and then
// waits in a receive into a block of its own: one poll, not one per
// iteration of the owner's loop (found by outside review: 15,000 polls and
// a whole core in 100 ms). The count is exact whatever the timing: the
// receive that follows the empty poll waits in the kernel until bytes come.
// The read's timeout ends it; the bytes sent after are the next read's.
TEST(MultishotRecvDry, ASocketWithAnErrorQueueDoesNotSpinTheFallback) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  weft::runtime rt = uring_current_thread();
  rt.block_on([&]() -> task<> {
    ring_hoard hoard;
    EXPECT_TRUE(co_await hoard.fill()) << "the ring never ran dry";
    weft_test::tcp_pair pair;
    const int stamping = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    EXPECT_EQ(::setsockopt(pair.writer, SOL_SOCKET, SO_TIMESTAMPING, &stamping, sizeof stamping),
              0);
    weft::net::tcp_stream s(pair.take_writer());
    EXPECT_TRUE(co_await s.write_all(bytes("x")));  // its timestamp goes to s's error queue
    char c = 0;
    EXPECT_EQ(::recv(pair.peer, &c, 1, 0), 1);
    const int polls = script.reached_count("uring_driver.receive_polls");
    const int blocks = script.reached_count("uring_driver.receive_into_block");
    auto none = co_await weft::timeout(100ms, s.read_buffered());
    EXPECT_FALSE(none.has_value()) << "the read ended without bytes";
    EXPECT_EQ(script.reached_count("uring_driver.receive_polls") - polls, 1) << "the fallback spun";
    EXPECT_EQ(script.reached_count("uring_driver.receive_into_block") - blocks, 1);
    EXPECT_EQ(::send(pair.peer, "data", 4, MSG_NOSIGNAL), 4);
    auto b = co_await weft::timeout(30s, s.read_buffered());
    EXPECT_TRUE(b && *b && text(**b) == "data");
    co_await hoard.release();
  }());
}

}  // namespace
