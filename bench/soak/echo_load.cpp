// bench/soak/echo_load.cpp — the soak's loads on examples/echo_server: short
// and long-lived connections, a slow reader, resets. Every echoed byte is
// compared with the byte sent.
#include "loads.hpp"

#include <sys/socket.h>

#include <thread>
#include <vector>

namespace soak {

namespace {

using namespace std::chrono_literals;

// Send a slice of the pattern and read it back; true when it all matched.
bool exchange(int fd, const pattern& p, std::size_t offset, std::size_t n, stats& st,
              std::vector<char>& buf) {
  const std::span<const char> out = p.slice(offset, n);
  if (!send_all(fd, out, st, "sending a message")) return false;
  buf.resize(n);
  if (!recv_exact(fd, buf, st, "reading the echo")) return false;
  if (std::memcmp(buf.data(), out.data(), n) != 0) {
    st.fail(err::mismatch, "echoed bytes differ from the bytes sent");
    return false;
  }
  st.add(st.bytes_verified, n);
  st.add(st.ops, 1);
  return true;
}

int open_conn(int port, stats& st, int rcvbuf = 0) {
  const int fd = connect_loopback(port, rcvbuf);
  if (fd < 0) {
    st.fail(err::connect, "connect", errno);
    pause_for(100ms);
    return -1;
  }
  st.add(st.conns, 1);
  return fd;
}

}  // namespace

void echo_short(int port, const pattern& p, stats& st, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> buf;
  while (!stopping()) {
    const int fd = open_conn(port, st);
    if (fd < 0) continue;
    const bool half_close = rng() % 4 == 0;
    const std::size_t off = rng(), n = 1 + rng() % 65536;
    if (!half_close) {
      (void)exchange(fd, p, off, n, st, buf);
    } else if (send_all(fd, p.slice(off, n), st, "sending a message")) {
      // Half-close: FIN after the message; the whole echo must still come
      // back, then the server's FIN.
      ::shutdown(fd, SHUT_WR);
      buf.resize(n);
      if (recv_exact(fd, buf, st, "reading the echo after a half-close")) {
        if (std::memcmp(buf.data(), p.slice(off, n).data(), n) != 0) {
          st.fail(err::mismatch, "echoed bytes differ from the bytes sent (half-close)");
        } else {
          st.add(st.bytes_verified, n);
          st.add(st.ops, 1);
          if (!await_close(fd, clock::now() + std::chrono::seconds(g_io_timeout_s))) {
            st.fail(err::timeout, "no FIN from the server after a half-close");
          }
        }
      }
    }
    ::close(fd);
    pause_for(5ms);
  }
}

void echo_long(int port, const pattern& p, stats& st, int conns, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> buf;
  struct conn {
    int fd = -1;
    clock::time_point until;
  };
  std::vector<conn> cs(static_cast<std::size_t>(conns));
  while (!stopping()) {
    for (conn& c : cs) {
      if (c.fd >= 0 && clock::now() >= c.until) {
        ::close(c.fd);
        c.fd = -1;
      }
      if (c.fd < 0) {
        c.fd = open_conn(port, st);
        if (c.fd < 0) continue;
        c.until = clock::now() + std::chrono::seconds(10 + rng() % 51);
      }
      if (!exchange(c.fd, p, rng(), 1 + rng() % 16384, st, buf)) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    pause_for(2ms);
  }
  for (conn& c : cs) {
    if (c.fd >= 0) ::close(c.fd);
  }
}

void echo_slow(int port, const pattern& p, stats& st, std::size_t total, unsigned seed) {
  std::mt19937 rng(seed);
  while (!stopping()) {
    const int fd = open_conn(port, st, 8192);
    if (fd < 0) continue;
    const std::span<const char> out = p.slice(rng(), total);
    // The writer pushes everything; it blocks as soon as the server's writes
    // to us do (we read slowly), then resumes at our reading pace.
    std::thread writer([&st, fd, out] {
      for (std::size_t off = 0; off < out.size(); off += 65536) {
        if (!send_all(fd, out.subspan(off, std::min<std::size_t>(65536, out.size() - off)), st,
                      "slow reader: sending")) {
          return;
        }
      }
    });
    std::array<char, 4096> in{};
    std::size_t got = 0;
    while (got < out.size()) {
      std::this_thread::sleep_for(2ms);
      const ssize_t n = ::recv(fd, in.data(), std::min(in.size(), out.size() - got), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) st.fail(err::eof, "slow reader: reading the echo");
        else st.fail(errno_kind(errno), "slow reader: reading the echo", errno);
        break;
      }
      if (std::memcmp(in.data(), out.data() + got, static_cast<std::size_t>(n)) != 0) {
        st.fail(err::mismatch, "slow reader: echoed bytes differ from the bytes sent");
        break;
      }
      got += static_cast<std::size_t>(n);
      st.add(st.bytes_verified, static_cast<std::size_t>(n));
    }
    if (got == out.size()) st.add(st.ops, 1);
    // A failed read leaves the writer blocked: a reset ends its send.
    if (got != out.size()) ::shutdown(fd, SHUT_RDWR);
    writer.join();
    ::close(fd);
    pause_for(50ms);
  }
}

void echo_reset(int port, const pattern& p, stats& st, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> buf;
  for (unsigned round = 0; !stopping(); ++round) {
    const int fd = open_conn(port, st);
    if (fd < 0) continue;
    switch (round % 3) {
      case 0:  // reset before sending anything (maybe before the accept)
        break;
      case 1: {  // mid-request: some bytes out, then RST
        const std::size_t n = send_some(fd, p.slice(rng(), 1 + rng() % (256 * 1024)));
        st.add(st.bytes_sent, n);
        break;
      }
      case 2: {  // mid-response: fill the buffers so the server's write blocks, read a
                 // little of the echo (verified), then RST
        const std::size_t off = rng();
        const std::span<const char> out = p.slice(off, 1024 * 1024);
        const std::size_t n = send_some(fd, out);
        st.add(st.bytes_sent, n);
        const std::size_t want = std::min<std::size_t>(n, 16384);
        buf.resize(want);
        if (recv_exact(fd, buf, st, "reset load: reading the echo")) {
          if (std::memcmp(buf.data(), out.data(), want) != 0) {
            st.fail(err::mismatch, "reset load: echoed bytes differ from the bytes sent");
          } else {
            st.add(st.bytes_verified, want);
          }
        }
        std::this_thread::sleep_for(5ms);
        break;
      }
    }
    reset_close(fd);
    st.add(st.ops, 1);
    pause_for(10ms);
  }
}

}  // namespace soak
