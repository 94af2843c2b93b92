// stream_socket::write_all_zero_copy: on io_uring a SEND_ZC whose buffer the
// kernel keeps reading after the send's result has come, until its
// notification; elsewhere plain sends. The behaviours: the buffer comes back
// only after every notification; a write ended by a cancellation or by
// shutdown does not wait for a peer that does not read, and the runtime
// keeps the buffer until the kernel lets it go (or for the process's life);
// the copying fallbacks (Unix sockets, a kernel without SEND_ZC, epoll).
//
// How the orders are forced: the peer is a plain blocking socket with a tiny
// window that the test reads only when it chooses, so "the send's result has
// come, its notification has not" holds for as long as the test wants
// (support/tcp_pair.hpp, held_back, says why); the test waits for
// that state through the driver's counters (zero_copy_stats), with a 30 s
// deadline, before it cancels or shuts down.
#include <weft/detail/zero_copy_send.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include "io/uring_driver.hpp"
#include "support/backends.hpp"
#include "support/flavors.hpp"
#include "support/require_send_zc.hpp"
#include "support/tcp_pair.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::detail::zero_copy_stats;
using weft::net::tcp_stream;

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = static_cast<std::byte>((i * 13 + seed * 7 + i / 509) & 0xff);
  }
  return v;
}

// Yield until `done()` holds; false after 30 s.
template <class Done>
task<bool> until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await weft::yield_now();
  }
  co_return true;
}

using write_outcome = result<result<std::vector<std::byte>>>;

// A zero-copy write of `data` on `s`, spawned; cancelling `tok` ends it.
auto spawn_cancellable_write(std::shared_ptr<tcp_stream> s, const std::vector<std::byte>& data,
                             weft::cancellation_token tok) {
  return weft::spawn([s = std::move(s), &data, tok = std::move(tok)]() -> task<write_outcome> {
    co_return co_await weft::with_cancellation(tok, s->write_all_zero_copy(data));
  });
}

// `writer` was cancelled: it ends, within 30 s, with operation_canceled.
template <class Handle>
task<> expect_cancelled(Handle writer) {
  auto r = co_await weft::timeout(30s, std::move(writer));
  EXPECT_TRUE(r.has_value()) << "the cancelled write did not end";
  if (!r) co_return;
  EXPECT_FALSE(r->has_value()) << "cancelled, yet it completed";
  if (!r->has_value()) {
    EXPECT_EQ(r->error(), weft::errc::operation_canceled);
  }
}

bool zero_copy_here(weft::io_backend_choice backend) {
  return backend == weft::io_backend_choice::io_uring &&
         weft::detail::uring_driver::zero_copy_available();
}

class ZeroCopySend : public weft_test::on_each_backend {
 protected:
  bool zero_copy() const { return zero_copy_here(std::get<1>(GetParam())); }
};
INSTANTIATE_TEST_SUITE_P(Backends, ZeroCopySend, weft_test::each_backend(),
                         weft_test::backend_name);

class ZeroCopySendOnUring : public weft_test::on_uring_each_flavor {
 protected:
  void SetUp() override {
    WEFT_REQUIRE_SEND_ZC();
  }
};
INSTANTIATE_TEST_SUITE_P(Flavors, ZeroCopySendOnUring, weft_test::each_flavor(),
                         weft_test::flavor_name);

TEST_P(ZeroCopySend, TheBufferComesBackUnchangedOnlyAfterEveryNotification) {
  constexpr std::size_t size = 256 * 1024;
  constexpr unsigned messages = 8;
  weft_test::tcp_pair pair;
  std::vector<std::byte> expected;
  for (unsigned m = 0; m < messages; ++m) {
    const auto p = pattern(size, m);
    expected.insert(expected.end(), p.begin(), p.end());
  }
  std::vector<std::byte> got;
  std::thread reader([&] { got = pair.read_peer(expected.size()); });
  const auto before = zero_copy_stats();
  rt.block_on([&]() -> task<> {
    tcp_stream s(pair.take_writer());
    std::vector<std::byte> buf(size);
    for (unsigned m = 0; m < messages; ++m) {
      const auto p = pattern(size, m);
      std::copy(p.begin(), p.end(), buf.begin());  // the same allocation, refilled
      const std::byte* const where = buf.data();
      auto r = co_await weft::timeout(30s, s.write_all_zero_copy(std::move(buf)));
      EXPECT_TRUE(r && *r) << "message " << m;
      if (!r || !*r) co_return;
      buf = std::move(**r);
      EXPECT_EQ(buf.data(), where) << "not the caller's buffer";
      EXPECT_TRUE(buf == p) << "the buffer changed";
      // Every SEND_ZC's notification had come when the write returned: the
      // caller may refill the buffer now.
      const auto now = zero_copy_stats();
      EXPECT_EQ(now.notifications - before.notifications,
                now.zero_copy_sends - before.zero_copy_sends)
          << "message " << m;
    }
  }());
  reader.join();
  EXPECT_TRUE(got == expected) << "the peer got " << got.size() << " bytes";
  const auto after = zero_copy_stats();
  if (zero_copy()) {
    EXPECT_GE(after.zero_copy_sends - before.zero_copy_sends, messages);
  } else {
    EXPECT_EQ(after.zero_copy_sends, before.zero_copy_sends);
    EXPECT_GE(after.copied_sends - before.copied_sends, messages);
  }
  EXPECT_EQ(after.records_alive, before.records_alive);
}

TEST_P(ZeroCopySend, AnEmptyBufferComesBackAtOnce) {
  weft_test::tcp_pair pair;
  const auto before = zero_copy_stats();
  rt.block_on([&]() -> task<> {
    tcp_stream s(pair.take_writer());
    auto r = co_await s.write_all_zero_copy({});
    EXPECT_TRUE(r && r->empty());
  }());
  const auto after = zero_copy_stats();
  EXPECT_EQ(after.zero_copy_sends + after.copied_sends,
            before.zero_copy_sends + before.copied_sends);
  EXPECT_EQ(after.records_alive, before.records_alive);
}

TEST_P(ZeroCopySend, AWriteBlockedOnAPeerThatDoesNotReadIsCancelledAndWhatWentIsAPrefix) {
  // 64 MiB cannot fit in loopback's socket buffers (at most a few MiB each
  // way), so the write is still under way when it is cancelled.
  constexpr std::size_t size = 64u << 20;
  const auto data = pattern(size, 3);
  weft_test::tcp_pair pair;
  const auto before = zero_copy_stats();
  std::vector<std::byte> got;
  rt.block_on([&]() -> task<> {
    auto s = std::make_shared<tcp_stream>(pair.take_writer());
    weft::cancellation_source src;
    auto writer = spawn_cancellable_write(s, data, src.token());
    EXPECT_TRUE(co_await until([&] {
      const auto now = zero_copy_stats();
      return now.zero_copy_sends + now.copied_sends >
             before.zero_copy_sends + before.copied_sends;
    })) << "the write never started";
    for (int i = 0; i < 100; ++i) co_await weft::yield_now();  // let it fill the buffers
    src.cancel();
    co_await expect_cancelled(std::move(writer));
    s->close();  // the peer reads what went, then end of stream
    std::thread reader([&] { got = pair.read_peer(size); });
    // The runtime reaps the notification of what was sent once it is read.
    const bool freed = co_await until([&] {
      return zero_copy_stats().records_alive == before.records_alive;
    });
    reader.join();
    EXPECT_TRUE(freed) << "the record was never freed";
  }());
  EXPECT_LT(got.size(), size);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()))
      << "the " << got.size() << " bytes that went are not the buffer's first ones";
}

TEST_P(ZeroCopySend, AUnixStreamSocketGetsCopiesAndIsRememberedToRefuse) {
  constexpr std::size_t size = 256 * 1024;
  const auto before = zero_copy_stats();
  rt.block_on([&]() -> task<> {
    auto ends = weft::net::unix_stream::pair();
    EXPECT_TRUE(ends.has_value());
    if (!ends) co_return;
    weft::net::unix_stream& a = ends->first;
    weft::net::unix_stream& b = ends->second;
    for (unsigned m = 0; m < 2; ++m) {
      const auto p = pattern(size, m);
      auto reader = weft::spawn([&b]() -> task<std::vector<std::byte>> {
        std::vector<std::byte> got(256 * 1024);
        auto r = co_await weft::timeout(30s, b.read_exact(got));
        EXPECT_TRUE(r && *r);
        co_return got;
      });
      auto w = co_await weft::timeout(30s, a.write_all_zero_copy(p));
      EXPECT_TRUE(w && *w);
      if (w && *w) {
        EXPECT_TRUE(**w == p);
      }
      auto got = co_await weft::timeout(30s, std::move(reader));
      EXPECT_TRUE(got && *got == p) << "write " << m;
      // One refused SEND_ZC at most, on the first write; none after it.
      EXPECT_LE(zero_copy_stats().zero_copy_sends - before.zero_copy_sends, 1u);
    }
    EXPECT_TRUE(co_await until([&] {
      return zero_copy_stats().records_alive == before.records_alive;
    })) << "a record was never freed";
  }());
  const auto after = zero_copy_stats();
  EXPECT_EQ(after.zero_copy_sends - before.zero_copy_sends, zero_copy() ? 1u : 0u);
  EXPECT_GE(after.copied_sends - before.copied_sends, 2u);
}

// The op ends at the cancellation although its notification has not come;
// the record (and the buffer in it) lives until the notification.
TEST_P(ZeroCopySendOnUring, ACancelledWriteEndsWithoutWaitingForItsNotification) {
  constexpr std::size_t size = 128 * 1024;  // more than the peer's window
  const auto data = pattern(size, 5);
  weft_test::tcp_pair pair{weft_test::tcp_pair::held_back_t{}};
  const auto before = zero_copy_stats();
  std::vector<std::byte> got;
  rt.block_on([&]() -> task<> {
    auto s = std::make_shared<tcp_stream>(pair.take_writer());
    weft::cancellation_source src;
    auto writer = spawn_cancellable_write(s, data, src.token());
    EXPECT_TRUE(co_await until([&] {
      return zero_copy_stats().results_before_notification > before.results_before_notification;
    })) << "the SEND_ZC's result never came";
    src.cancel();
    co_await expect_cancelled(std::move(writer));  // without waiting for the notification
    auto now = zero_copy_stats();
    EXPECT_EQ(now.notifications, before.notifications) << "the peer has not read: no notification";
    EXPECT_EQ(now.records_alive, before.records_alive + 1) << "the record must outlive the op";
    {
      // Had the buffer been freed, allocations of its size would reuse it
      // and the peer would read 0xee.
      std::vector<std::vector<std::byte>> scribble;
      for (int i = 0; i < 64; ++i) scribble.emplace_back(size, std::byte{0xee});
    }
    std::thread reader([&] { got = pair.read_peer(size); });
    const bool freed = co_await until([&] {
      return zero_copy_stats().records_alive == before.records_alive;
    });
    reader.join();
    EXPECT_TRUE(freed) << "the notification never freed the record";
    now = zero_copy_stats();
    EXPECT_EQ(now.notifications - before.notifications, 1u);
  }());
  EXPECT_TRUE(got == data) << "the peer read " << got.size() << " bytes, not the buffer's";
}

TEST_P(ZeroCopySendOnUring, ShutdownWithANotificationOutstandingKeepsTheBuffer) {
  constexpr std::size_t size = 128 * 1024;  // more than the peer's window
  const auto data = pattern(size, 9);
  weft_test::tcp_pair pair{weft_test::tcp_pair::held_back_t{}};
  const auto before = zero_copy_stats();
  {
    // A runtime of its own, destroyed here: its drivers go with it.
    weft::runtime local = weft::runtime_builder{}
                              .flavor(GetParam())
                              .io_backend(weft::io_backend_choice::io_uring)
                              .build();
    local.block_on([&]() -> task<> {
      auto s = std::make_shared<tcp_stream>(pair.take_writer());
      auto writer = weft::spawn([s, &data]() -> task<> {
        auto r = co_await s->write_all_zero_copy(data);
        ADD_FAILURE() << "the write completed: " << (r ? "ok" : r.error().message());
      });
      EXPECT_TRUE(co_await until([&] {
        return zero_copy_stats().results_before_notification > before.results_before_notification;
      })) << "the SEND_ZC's result never came";
    }());  // the writer still waits for its notification
    // No wait for the writer: it would wait for the peer.
    local.shutdown(0s);
  }
  const auto after = zero_copy_stats();
  EXPECT_EQ(after.notifications, before.notifications);
  EXPECT_EQ(after.quarantined - before.quarantined, 1u);
  EXPECT_EQ(after.records_alive - before.records_alive, 1u) << "kept for the process's life";
  // The runtime is gone; the kernel still sends from the kept buffer.
  EXPECT_TRUE(pair.read_peer(size) == data);
}

// A current-thread runtime is driven by whichever thread calls block_on. A
// SEND_ZC submitted by a thread that then exits comes back -ECANCELED (with
// F_MORE: a notification follows) when the socket gets room; the driver
// sends it again as a copy — only once that notification has come, or the
// write ended with "state not recoverable" (the kernel's reference still
// counted) and a next SEND_ZC of the record was linked twice (found by
// review). Forced: the send queue is full before the write starts, so its
// SEND_ZC waits in the kernel when its thread exits.
TEST(ZeroCopySendOrphan, ASendZcWhoseThreadExitedIsSentAgainAfterItsNotification) {
  WEFT_REQUIRE_SEND_ZC();
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();
  weft_test::tcp_pair pair{weft_test::tcp_pair::held_back_t{}};
  const std::size_t junk = pair.fill_writer();
  constexpr std::size_t size = 256 * 1024;
  const auto data = pattern(size, 13);
  auto s = std::make_shared<tcp_stream>(pair.take_writer());
  std::optional<weft::join_handle<result<std::vector<std::byte>>>> writer;
  const auto before = zero_copy_stats();
  std::thread first([&] {
    rt.block_on([&]() -> task<> {
      writer = weft::spawn([s, &data]() -> task<result<std::vector<std::byte>>> {
        co_return co_await s->write_all_zero_copy(data);
      });
      EXPECT_TRUE(co_await until([&] {
        return zero_copy_stats().zero_copy_sends > before.zero_copy_sends;
      })) << "the write never started";
      // A turn polls the ring every 61 ticks, submitting what is queued: 200
      // yields pass at least three, so the SEND_ZC is in the kernel,
      // submitted by this thread, before it exits.
      for (int i = 0; i < 200; ++i) co_await weft::yield_now();
    }());
  });
  first.join();  // its thread exits with the SEND_ZC waiting in the kernel
  std::vector<std::byte> got;
  std::thread reader([&] { got = pair.read_peer(junk + size); });
  auto r = rt.block_on([&]() -> task<result<result<std::vector<std::byte>>>> {
    co_return co_await weft::timeout(30s, std::move(*writer));
  }());
  reader.join();
  EXPECT_TRUE(r.has_value()) << "the write did not end";
  if (r) {
    EXPECT_TRUE(r->has_value()) << r->error().message();
    if (r->has_value()) {
      EXPECT_TRUE(**r == data) << "the buffer came back changed";
    }
  }
  EXPECT_EQ(got.size(), junk + size);
  EXPECT_TRUE(got.size() == junk + size && std::equal(data.begin(), data.end(), got.begin() + junk))
      << "the peer did not get the write's bytes after the filler";
}

TEST_P(ZeroCopySendOnUring, WithoutSendZcInTheKernelEveryWriteIsACopy) {
  struct refusal {
    refusal() { weft::detail::uring_driver::force_zero_copy_refusal_for_test(true); }
    ~refusal() { weft::detail::uring_driver::force_zero_copy_refusal_for_test(false); }
  } forced;
  constexpr std::size_t size = 256 * 1024;
  const auto data = pattern(size, 11);
  weft_test::tcp_pair pair;
  std::vector<std::byte> got;
  std::thread reader([&] { got = pair.read_peer(size); });
  const auto before = zero_copy_stats();
  rt.block_on([&]() -> task<> {
    tcp_stream s(pair.take_writer());
    auto r = co_await weft::timeout(30s, s.write_all_zero_copy(data));
    EXPECT_TRUE(r && *r && **r == data);
  }());
  reader.join();
  EXPECT_TRUE(got == data);
  const auto after = zero_copy_stats();
  EXPECT_EQ(after.zero_copy_sends, before.zero_copy_sends);
  EXPECT_GE(after.copied_sends - before.copied_sends, 1u);
}

}  // namespace
