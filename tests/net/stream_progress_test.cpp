// read_exact / write_all with a `transferred` out-parameter: after an error,
// end of stream or cancellation the count is exactly what moved, for TCP and
// Unix stream sockets, on both runtime flavours and both I/O backends.
//
// How the order is made deterministic (no sleeps, no timing thresholds): the
// test waits — yielding, with a 30 s deadline — for a state it can see from
// outside through the kernel (the peer's queued byte count, the writer's
// socket having no room left), then cancels through a cancellation_source,
// joins the cancelled task, and only then compares `transferred` with what
// the peer really received. The comparison holds wherever the cancellation
// lands (op pending, op completed but its task not yet resumed, between
// ops), so the test does not depend on which of those it hits.
#include <weft/cancellation.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::tcp_listener;
using weft::net::tcp_stream;
using weft::net::unix_stream;

class StreamProgress : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, StreamProgress, weft_test::each_backend(),
                         weft_test::backend_name);

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131) ^ (i >> 9));
  return v;
}

/// The value of `r` (GCC needs the co_await result named in these templates).
template <class R>
auto value_of(R r) {
  return std::move(r).value();
}

/// A connected pair of Stream: a socketpair for unix_stream, loopback for TCP.
template <class Stream>
task<std::pair<Stream, Stream>> connected_pair() {
  if constexpr (std::is_same_v<Stream, unix_stream>) {
    co_return unix_stream::pair().value();
  } else {
    const weft::net::socket_address loopback{weft::net::ip_address::v4_loopback(), 0};
    tcp_listener l = tcp_listener::bind(loopback).value();
    tcp_stream c = value_of(co_await tcp_stream::connect(l.local_address().value()));
    tcp_stream s = value_of(co_await l.accept());
    co_return std::pair<Stream, Stream>{std::move(c), std::move(s)};
  }
}

/// Bytes waiting in `fd`'s receive queue.
int queued(int fd) {
  int n = 0;
  EXPECT_EQ(::ioctl(fd, FIONREAD, &n), 0);
  return n;
}

/// True if a send on `fd` would find room now.
bool writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

/// Bytes sent on `fd` that the peer has not yet got: for TCP, not yet
/// acknowledged (so not yet in the peer's receive queue); for a Unix socket,
/// not yet read by the peer (its skbs stay charged to the sender until then).
int unsent(int fd) {
  int n = 0;
  EXPECT_EQ(::ioctl(fd, TIOCOUTQ, &n), 0);
  return n;
}

/// Yield until `ready()` holds; false after 30 s.
template <class F>
task<bool> wait_until(F ready) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await weft::yield_now();
  }
  co_return true;
}

/// Read `s` until end of stream (with a deadline).
template <class Stream>
task<std::vector<std::byte>> read_to_end(Stream& s) {
  std::vector<std::byte> got;
  std::vector<std::byte> buf(64 << 10);
  for (;;) {
    result<result<std::size_t>> n = co_await weft::timeout(30s, s.read(buf));
    if (!n || !*n || **n == 0) {
      EXPECT_TRUE(n && *n) << "reading the peer's side to the end failed";
      co_return got;
    }
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(**n));
  }
}

// write_all cancelled while the peer does not read: the writer fills the
// small socket buffers, the test cancels, then reads everything on the peer
// side. Before the fix the count was lost (only operation_canceled came
// back), so a caller that retried sent bytes twice.
template <class Stream>
task<void> cancelled_write_all_reports_exactly_what_the_peer_receives() {
  // Named, not a structured binding: clang 14 cannot capture those in lambdas.
  auto a_b = co_await connected_pair<Stream>();
  auto& a = a_b.first;
  auto& b = a_b.second;
  (void)a.set_option(SOL_SOCKET, SO_SNDBUF, 4096).value();
  (void)b.set_option(SOL_SOCKET, SO_RCVBUF, 4096).value();
  const std::vector<std::byte> data = pattern(8 << 20);
  std::size_t transferred = 12345;  // write_all sets it to 0 first
  weft::cancellation_source src;
  auto writer = weft::spawn(
      [](weft::cancellation_token tok, Stream& a, const std::vector<std::byte>& data,
         std::size_t& transferred) -> task<result<result<void>>> {
        co_return co_await weft::with_cancellation(std::move(tok),
                                                   a.write_all(data, transferred));
      },
      src.token(), std::ref(a), std::cref(data), std::ref(transferred));
  // Progress is visible from outside: the peer holds bytes and the writer's
  // socket has no room left, so its write_all is waiting (or about to).
  EXPECT_TRUE(co_await wait_until(
      [&] { return queued(b.native_handle()) > 0 && !writable(a.native_handle()); }));
  src.cancel();
  result<result<void>> r = co_await writer;  // the write_all frame is gone now
  EXPECT_EQ(r.error(), weft::errc::operation_canceled);
  a.close();  // the peer reads what was sent, then end of stream
  const std::vector<std::byte> got = co_await read_to_end(b);
  EXPECT_GT(transferred, 0u);
  EXPECT_LT(transferred, data.size());
  EXPECT_EQ(got.size(), transferred);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()));
}

TEST_P(StreamProgress, CancelledWriteAllOnTcpReportsExactlyWhatThePeerReceives) {
  rt.block_on(cancelled_write_all_reports_exactly_what_the_peer_receives<tcp_stream>());
}

TEST_P(StreamProgress, CancelledWriteAllOnUnixReportsExactlyWhatThePeerReceives) {
  rt.block_on(cancelled_write_all_reports_exactly_what_the_peer_receives<unix_stream>());
}

// read_exact cancelled after the peer sent part of the data: the reader has
// taken all of it from the kernel (the peer's bytes arrived and none are
// queued), then is cancelled. `transferred` says how many bytes of the buffer
// hold data, and the stream goes on right after them.
template <class Stream>
task<void> cancelled_read_exact_reports_the_bytes_it_took() {
  auto a_b = co_await connected_pair<Stream>();
  auto& a = a_b.first;
  auto& b = a_b.second;
  const std::vector<std::byte> data = pattern(3000);
  std::vector<std::byte> buf(1 << 20);
  std::size_t transferred = 12345;  // read_exact sets it to 0 first
  weft::cancellation_source src;
  auto reader = weft::spawn(
      [](weft::cancellation_token tok, Stream& b, std::vector<std::byte>& buf,
         std::size_t& transferred) -> task<result<result<void>>> {
        co_return co_await weft::with_cancellation(std::move(tok),
                                                   b.read_exact(buf, transferred));
      },
      src.token(), std::ref(b), std::ref(buf), std::ref(transferred));
  value_of(co_await a.write_all(std::span(data).first(1000)));
  // All 1000 bytes reached b's side and none is queued there: the reader
  // took them.
  EXPECT_TRUE(co_await wait_until(
      [&] { return unsent(a.native_handle()) == 0 && queued(b.native_handle()) == 0; }));
  src.cancel();
  result<result<void>> r = co_await reader;
  EXPECT_EQ(r.error(), weft::errc::operation_canceled);
  EXPECT_EQ(transferred, 1000u);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 1000, data.begin()));
  // Nothing was lost or read twice: the next bytes come next.
  value_of(co_await a.write_all(std::span(data).subspan(1000)));
  std::vector<std::byte> rest(2000);
  std::size_t rest_n = 0;
  value_of(co_await b.read_exact(rest, rest_n));
  EXPECT_EQ(rest_n, 2000u);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), data.begin() + 1000));
}

TEST_P(StreamProgress, CancelledReadExactOnTcpReportsTheBytesItTook) {
  rt.block_on(cancelled_read_exact_reports_the_bytes_it_took<tcp_stream>());
}

TEST_P(StreamProgress, CancelledReadExactOnUnixReportsTheBytesItTook) {
  rt.block_on(cancelled_read_exact_reports_the_bytes_it_took<unix_stream>());
}

// An error after progress: the peer sends part and closes. read_exact fails
// with end_of_stream and `transferred` says how much arrived.
template <class Stream>
task<void> read_exact_ended_early_reports_the_bytes_it_read() {
  auto a_b = co_await connected_pair<Stream>();
  auto& a = a_b.first;
  auto& b = a_b.second;
  const std::vector<std::byte> data = pattern(100);
  value_of(co_await a.write_all(data));
  a.close();
  std::vector<std::byte> buf(200);
  std::size_t transferred = 12345;
  result<void> r = co_await b.read_exact(buf, transferred);
  EXPECT_EQ(r.error(), weft::errc::end_of_stream);
  EXPECT_EQ(transferred, 100u);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.begin()));
}

TEST_P(StreamProgress, ReadExactEndedEarlyOnTcpReportsTheBytesItRead) {
  rt.block_on(read_exact_ended_early_reports_the_bytes_it_read<tcp_stream>());
}

TEST_P(StreamProgress, ReadExactEndedEarlyOnUnixReportsTheBytesItRead) {
  rt.block_on(read_exact_ended_early_reports_the_bytes_it_read<unix_stream>());
}

// The plain overloads still work and a completed write_all reports it all.
TEST_P(StreamProgress, CompletedWriteAllAndReadExactReportTheWholeBuffer) {
  rt.block_on([]() -> task<void> {
    auto a_b = co_await connected_pair<unix_stream>();
    auto& a = a_b.first;
    auto& b = a_b.second;
    const std::vector<std::byte> data = pattern(5000);
    std::size_t wrote = 0;
    std::size_t read = 0;
    std::vector<std::byte> buf(5000);
    (co_await a.write_all(data, wrote)).value();
    (co_await b.read_exact(buf, read)).value();
    EXPECT_EQ(wrote, 5000u);
    EXPECT_EQ(read, 5000u);
    EXPECT_EQ(buf, data);
  }());
}

}  // namespace
