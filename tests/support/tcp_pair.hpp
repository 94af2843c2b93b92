// A connected loopback TCP pair made with plain system calls, outside any
// runtime: `writer` is non-blocking (for a weft::net::tcp_stream to adopt),
// `peer` blocking with a 30 s receive timeout, so a test can read it from a
// plain thread, or after the runtime is gone, and a read never hangs.
//
// held_back_t: a pair whose peer has a small receive buffer (16 KiB asked,
// so a window of some 32 KiB) and whose writer has a send buffer of 208 KiB
// asked (the default net.core.wmem_max; the kernel doubles it). A send of
// 128 KiB then completes at once — the bytes wait in the writer's send queue
// — but most of them cannot leave it until the peer reads. (A smaller
// buffer, 2 KiB, holds them back for tens of seconds after the peer reads:
// the window then opens by less than a segment and only the persist timer
// moves the data.) That is how a test
// keeps a SEND_ZC's notification back on loopback: the kernel lets go of
// the pages (and notifies) once they are delivered to the peer's socket,
// which copies them, not when the send completes.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <vector>

namespace weft_test {

struct tcp_pair {
  int writer = -1;
  int peer = -1;

  /// Buffer sizes of 0 keep the system's (and its autotuning).
  explicit tcp_pair(int peer_rcvbuf = 0, int writer_sndbuf = 0) {
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    // Before connect: the window scale is agreed in the handshake, and an
    // accepted socket inherits the listener's buffer size.
    if (peer_rcvbuf > 0) {
      EXPECT_EQ(::setsockopt(l, SOL_SOCKET, SO_RCVBUF, &peer_rcvbuf, sizeof peer_rcvbuf), 0);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(l, 1), 0);
    EXPECT_EQ(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len), 0);
    writer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (writer_sndbuf > 0) {
      EXPECT_EQ(::setsockopt(writer, SOL_SOCKET, SO_SNDBUF, &writer_sndbuf, sizeof writer_sndbuf),
                0);
    }
    EXPECT_EQ(::connect(writer, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    peer = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_GE(peer, 0);
    ::close(l);
    EXPECT_EQ(::fcntl(writer, F_SETFL, ::fcntl(writer, F_GETFL) | O_NONBLOCK), 0);
    timeval tv{};
    tv.tv_sec = 30;
    EXPECT_EQ(::setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  }
  /// See the top of this file.
  static constexpr int held_back_rcvbuf = 16384;
  static constexpr int held_back_sndbuf = 212992;
  struct held_back_t {};
  explicit tcp_pair(held_back_t) : tcp_pair(held_back_rcvbuf, held_back_sndbuf) {}

  tcp_pair(const tcp_pair&) = delete;
  tcp_pair& operator=(const tcp_pair&) = delete;
  ~tcp_pair() {
    if (peer >= 0) ::close(peer);
    // `writer` belongs to the stream that adopted it (or is closed here).
    if (writer >= 0) ::close(writer);
  }

  /// The writer's descriptor, now owned by the caller.
  int take_writer() noexcept {
    const int fd = writer;
    writer = -1;
    return fd;
  }

  /// Fill the writer's send queue (and the peer's window) with plain sends
  /// until the kernel takes no more: the bytes written, which the peer must
  /// read before anything sent after them.
  std::size_t fill_writer() const {
    std::vector<char> junk(65536, 'j');
    std::size_t total = 0;
    for (;;) {
      const ssize_t r = ::send(writer, junk.data(), junk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return total;
      total += static_cast<std::size_t>(r);
    }
  }

  /// Read from `peer` until `n` bytes came, end of stream, an error or 30 s
  /// went by: what came.
  std::vector<std::byte> read_peer(std::size_t n) const {
    std::vector<std::byte> got(n);
    std::size_t have = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (have < n && std::chrono::steady_clock::now() < deadline) {
      const ssize_t r = ::recv(peer, got.data() + have, n - have, 0);
      // EINTR: io_uring's task work for this thread (a ring it submitted to)
      // interrupts a wait that has a timeout (SO_RCVTIMEO) without a signal.
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      have += static_cast<std::size_t>(r);
    }
    got.resize(have);
    return got;
  }
};

}  // namespace weft_test
