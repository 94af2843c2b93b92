// read_buffered_ready (the buffers a stream's receive has already queued,
// taken without waiting) and write_all_vectored, on both runtime flavours and
// both I/O backends: the bytes come in order whichever call takes them, what
// a read() copied out of the front buffer does not come again, the end of
// stream is left for read_buffered, and a write of many buffers sends them
// all in order.
//
// How the order is made deterministic: the sender writes the whole message
// before the receiver starts, so every byte is in the socket; on io_uring
// the receiver then yields (30 s deadline) until the queue has handed it all
// through read_buffered_ready, which the multishot receive fills as the
// worker reaps its CQEs. On epoll nothing is ever queued: read_buffered_ready
// must return 0 and read_buffered takes the rest.
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <span>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::net::recv_buffer;
using weft::net::unix_stream;

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 29) ^ (i >> 10));
  return v;
}

class BufferedBatch : public weft_test::on_each_backend {
 protected:
  bool uring() const { return std::get<1>(GetParam()) == weft::io_backend_choice::io_uring; }
};
INSTANTIATE_TEST_SUITE_P(Backends, BufferedBatch, weft_test::each_backend(),
                         weft_test::backend_name);
INSTANTIATE_TEST_SUITE_P(Simulated, BufferedBatch, weft_test::each_simulated_seed(),
                         weft_test::backend_name);

// Appends what read_buffered_ready gives; how many buffers.
std::size_t take_ready(unix_stream& s, std::vector<std::byte>& got) {
  std::array<recv_buffer, 3> bufs;  // fewer than a 64 KiB message's: several calls
  const std::size_t n = s.read_buffered_ready(bufs);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_FALSE(bufs[i].empty());
    got.insert(got.end(), bufs[i].data().begin(), bufs[i].data().end());
  }
  return n;
}

// Receives `size` bytes on `b` after `first` (the first read's bytes):
// through read_buffered_ready on io_uring (yielding until it has them all),
// through read_buffered on epoll (where read_buffered_ready gives nothing).
task<std::size_t> receive_rest(unix_stream& b, std::vector<std::byte>& got, std::size_t size,
                               bool uring) {
  std::size_t taken_ready = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (got.size() < size && std::chrono::steady_clock::now() < deadline) {
    const std::size_t n = take_ready(b, got);
    taken_ready += n;
    if (n > 0) continue;
    if (uring) {
      co_await weft::yield_now();  // the worker reaps the receive's CQEs
    } else {
      auto r = co_await b.read_buffered();
      EXPECT_TRUE(r && !r->empty());
      if (!r || r->empty()) break;
      got.insert(got.end(), r->data().begin(), r->data().end());
    }
  }
  co_return taken_ready;
}

// Writes all of `msg` on `a` (the socket holds it), then takes the first
// buffer of it on `b` with read_buffered into `got`; false if that failed.
task<bool> send_then_read_first(unix_stream& a, unix_stream& b, const std::vector<std::byte>& msg,
                                std::vector<std::byte>& got) {
  EXPECT_TRUE(co_await a.write_all(msg));
  auto first = co_await weft::timeout(30s, b.read_buffered());
  EXPECT_TRUE(first && *first && !(*first)->empty());
  if (!first || !*first) co_return false;
  got.assign((*first)->data().begin(), (*first)->data().end());
  co_return true;
}

TEST_P(BufferedBatch, ALargeMessageIsTakenInOrderWithoutWaiting) {
  constexpr std::size_t size = 64 * 1024;
  const auto msg = pattern(size);
  rt.block_on([&]() -> task<> {
    auto ends = unix_stream::pair();
    EXPECT_TRUE(ends.has_value());
    if (!ends) co_return;
    unix_stream& a = ends->first;
    unix_stream& b = ends->second;
    std::vector<std::byte> got;
    if (!co_await send_then_read_first(a, b, msg, got)) co_return;
    const std::size_t taken_ready = co_await receive_rest(b, got, size, uring());
    EXPECT_TRUE(got == msg) << "got " << got.size() << " bytes";
    if (uring()) {
      EXPECT_GE(taken_ready, 3u) << "a 64 KiB message is four 16 KiB buffers";
    } else {
      EXPECT_EQ(taken_ready, 0u) << "epoll queues nothing";
    }
  }());
}

TEST_P(BufferedBatch, WhatAReadCopiedOutOfTheFrontBufferDoesNotComeAgain) {
  constexpr std::size_t size = 64 * 1024;
  const auto msg = pattern(size);
  rt.block_on([&]() -> task<> {
    auto ends = unix_stream::pair();
    EXPECT_TRUE(ends.has_value());
    if (!ends) co_return;
    unix_stream& a = ends->first;
    unix_stream& b = ends->second;
    std::vector<std::byte> got;
    if (!co_await send_then_read_first(a, b, msg, got)) co_return;  // b now has a queue
    std::array<std::byte, 7> few{};
    auto n = co_await weft::timeout(30s, b.read(few));  // copies from the front buffer
    EXPECT_TRUE(n && *n && **n > 0);
    if (n && *n) got.insert(got.end(), few.begin(), few.begin() + static_cast<long>(**n));
    co_await receive_rest(b, got, size, uring());
    EXPECT_TRUE(got == msg) << "got " << got.size() << " bytes";
  }());
}

TEST_P(BufferedBatch, TheEndOfStreamIsLeftForReadBuffered) {
  const auto msg = pattern(100);
  rt.block_on([&]() -> task<> {
    auto ends = unix_stream::pair();
    EXPECT_TRUE(ends.has_value());
    if (!ends) co_return;
    unix_stream& b = ends->second;
    {
      unix_stream a = std::move(ends->first);
      EXPECT_TRUE(co_await a.write_all(msg));
    }  // closed: the end of stream follows the bytes
    auto first = co_await weft::timeout(30s, b.read_buffered());
    EXPECT_TRUE(first && *first && (*first)->size() == msg.size());
    // 100 yields pass at least one poll of the ring (one every 61 ticks),
    // which reaps the end's CQE, posted when `a` closed: the queue then
    // holds the end of stream, which read_buffered_ready must leave.
    for (int i = 0; i < 100; ++i) co_await weft::yield_now();
    std::array<recv_buffer, 4> bufs;
    EXPECT_EQ(b.read_buffered_ready(bufs), 0u) << "the end of stream is not a buffer";
    auto end = co_await weft::timeout(30s, b.read_buffered());
    EXPECT_TRUE(end && *end && (*end)->empty()) << "read_buffered returns the end";
  }());
}

TEST_P(BufferedBatch, WriteAllVectoredSendsEveryBufferInOrder) {
  // 12 buffers (more than one sendmsg takes), some empty, 3 MiB in all (more
  // than the socket holds: partial writes).
  std::vector<std::vector<std::byte>> parts;
  std::vector<std::byte> all;
  for (std::size_t i = 0; i < 12; ++i) {
    const std::size_t n = i % 4 == 3 ? 0 : (i + 1) * 48 * 1024;
    auto p = pattern(n + i);
    all.insert(all.end(), p.begin(), p.end());
    parts.push_back(std::move(p));
  }
  std::vector<std::span<const std::byte>> spans(parts.begin(), parts.end());
  rt.block_on([&]() -> task<> {
    auto ends = unix_stream::pair();
    EXPECT_TRUE(ends.has_value());
    if (!ends) co_return;
    unix_stream& a = ends->first;
    unix_stream& b = ends->second;
    auto reader = weft::spawn([&b, n = all.size()]() -> task<std::vector<std::byte>> {
      std::vector<std::byte> got(n);
      auto r = co_await weft::timeout(30s, b.read_exact(got));
      EXPECT_TRUE(r && *r);
      co_return got;
    });
    auto w = co_await weft::timeout(30s, a.write_all_vectored(spans));
    EXPECT_TRUE(w && *w);
    auto got = co_await weft::timeout(30s, std::move(reader));
    EXPECT_TRUE(got && *got == all);
  }());
}

}  // namespace
