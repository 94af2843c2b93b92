// bench/soak/soak_io.hpp — what the soak client's loads share: per-kind
// counters, blocking loopback sockets with I/O deadlines, the verified byte
// pattern, and a buffered reader for HTTP responses.
//
// Every socket the client opens is blocking with SO_RCVTIMEO/SO_SNDTIMEO set,
// so no read or write waits longer than the I/O deadline: a server that stops
// answering shows up as a "timeout" error, never as a hung client.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace soak {

using clock = std::chrono::steady_clock;

// The ways an operation can fail. "mismatch" is a wrong byte: always a bug.
enum class err { connect, timeout, reset, eof, mismatch, protocol, status, other, count_ };
inline constexpr std::array<const char*, static_cast<std::size_t>(err::count_)> err_names = {
    "connect", "timeout", "reset", "eof", "mismatch", "protocol", "status", "other"};

// Counters of one load kind. All relaxed: they are only summed after the
// threads that bump them are joined (the join orders them).
struct stats {
  const char* name;
  std::atomic<std::uint64_t> conns{0};      // connections opened
  std::atomic<std::uint64_t> ops{0};        // exchanges / requests completed and checked
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> bytes_verified{0};  // received and compared with what was due
  std::atomic<std::uint64_t> non2xx{0};     // HTTP answers that were not 2xx (expected or not)
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(err::count_)> errors{};

  explicit stats(const char* n) : name(n) {}
  void add(std::atomic<std::uint64_t>& c, std::uint64_t v) {
    // ORDERING: relaxed; read after the joins of the load threads (see above).
    c.fetch_add(v, std::memory_order_relaxed);
  }
  void fail(err e, const char* what, int errno_value = 0) {
    // ORDERING: relaxed; read after the joins of the load threads (see above).
    const std::uint64_t n =
        errors[static_cast<std::size_t>(e)].fetch_add(1, std::memory_order_relaxed);
    if (n < 3) {  // the first few of each kind, for diagnosis
      std::fprintf(stderr, "soak_client: %s: %s error: %s%s%s\n", name,
                   err_names[static_cast<std::size_t>(e)], what, errno_value ? ": " : "",
                   errno_value ? std::strerror(errno_value) : "");
    }
  }
  std::uint64_t error_total() const {
    std::uint64_t t = 0;
    // ORDERING: relaxed; called after the joins (see above).
    for (const auto& e : errors) t += e.load(std::memory_order_relaxed);
    return t;
  }
};

// Set when the run's time is up; loads finish their current operation and stop.
// ORDERING: relaxed everywhere: a flag polled between operations; no data rides on it.
inline std::atomic<bool> g_stop{false};
inline bool stopping() { return g_stop.load(std::memory_order_relaxed); }

inline int g_io_timeout_s = 30;

// The result of a read or write: ok, or the error it maps to.
inline err errno_kind(int e) {
  if (e == EAGAIN || e == EWOULDBLOCK) return err::timeout;
  if (e == ECONNRESET || e == EPIPE) return err::reset;
  return err::other;
}

// A connected blocking socket to 127.0.0.1:port with I/O deadlines, or -1
// (errno set). rcvbuf > 0 shrinks the receive buffer before connecting (a slow
// reader then blocks the server's writes sooner).
inline int connect_loopback(int port, int rcvbuf = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  timeval tv{g_io_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// Close with SO_LINGER 0: the peer gets a RST, not a FIN.
inline void reset_close(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

// Write all of data (blocking, deadline per call). On failure: errno's kind.
inline bool send_all(int fd, std::span<const char> data, stats& st, const char* what) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st.fail(errno_kind(errno), what, errno);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  st.add(st.bytes_sent, data.size());
  return true;
}

// As many bytes of data as the socket takes now (no waiting), for the loads
// that reset a connection mid-request; the count sent.
inline std::size_t send_some(int fd, std::span<const char> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// Read exactly out.size() bytes. End of stream is an "eof" error.
inline bool recv_exact(int fd, std::span<char> out, stats& st, const char* what) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::recv(fd, out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st.fail(errno_kind(errno), what, errno);
      return false;
    }
    if (n == 0) {
      st.fail(err::eof, what);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Wait until the peer closes (reading and discarding what it still sends) or
// the deadline passes: true on end of stream or reset, false on the deadline.
inline bool await_close(int fd, clock::time_point deadline) {
  std::array<char, 4096> sink{};
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    if (r <= 0) continue;  // EINTR or nothing yet: look at the deadline again
    const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return errno == ECONNRESET;
  }
}

// The bytes every load sends: a fixed pseudo-random pool; an exchange sends a
// slice of it and expects the same slice back.
class pattern {
 public:
  explicit pattern(std::size_t size) : bytes_(size) {
    std::mt19937_64 rng(0x5eed);
    for (char& c : bytes_) c = static_cast<char>(rng());
  }
  std::span<const char> slice(std::size_t offset, std::size_t n) const {
    return std::span(bytes_).subspan(offset % (bytes_.size() - n), n);
  }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::vector<char> bytes_;
};

// A reader with a buffer, for HTTP responses: a head up to CRLF CRLF, then a
// body of known length.
class buffered_reader {
 public:
  // slow: read at most 4 KiB per call, 2 ms apart (a slow reader: the
  // server's writes block on the full socket buffers).
  explicit buffered_reader(int fd, bool slow = false) : fd_(fd), slow_(slow) {}
  // The head, without its final CRLF CRLF; false on error/eof (reported to st).
  bool read_head(std::string& head, stats& st) {
    for (;;) {
      const std::size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        head.assign(buf_, 0, end);
        buf_.erase(0, end + 4);
        return true;
      }
      if (buf_.size() > 64 * 1024) {
        st.fail(err::protocol, "response head over 64 KiB");
        return false;
      }
      if (!fill(st, "reading a response head")) return false;
    }
  }
  // Compare the next expected.size() bytes with expected.
  bool read_verify(std::string_view expected, stats& st) {
    std::size_t done = 0;
    while (done < expected.size()) {
      if (buf_.empty() && !fill(st, "reading a response body")) return false;
      const std::size_t n = std::min(buf_.size(), expected.size() - done);
      if (std::memcmp(buf_.data(), expected.data() + done, n) != 0) {
        st.fail(err::mismatch, "response body differs from the file");
        return false;
      }
      buf_.erase(0, n);
      done += n;
      st.add(st.bytes_verified, n);
    }
    return true;
  }
  // Read and drop n bytes.
  bool skip(std::size_t n, stats& st) {
    while (n > 0) {
      if (buf_.empty() && !fill(st, "reading a response body")) return false;
      const std::size_t k = std::min(buf_.size(), n);
      buf_.erase(0, k);
      n -= k;
    }
    return true;
  }

 private:
  bool fill(stats& st, const char* what) {
    std::array<char, 16384> chunk{};
    const std::size_t want = slow_ ? 4096 : chunk.size();
    if (slow_) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk.data(), want, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        st.fail(errno_kind(errno), what, errno);
        return false;
      }
      if (n == 0) {
        st.fail(err::eof, what);
        return false;
      }
      buf_.append(chunk.data(), static_cast<std::size_t>(n));
      return true;
    }
  }
  int fd_;
  bool slow_;
  std::string buf_;
};

// Sleep, cut short when the run stops.
inline void pause_for(std::chrono::milliseconds d) {
  const auto until = clock::now() + d;
  while (!stopping() && clock::now() < until) {
    const auto left = until - clock::now();
    std::this_thread::sleep_for(std::min<clock::duration>(left, std::chrono::milliseconds(50)));
  }
}

}  // namespace soak
