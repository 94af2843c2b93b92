// bundle_client — test helper for examples/bundle_server.
//
//   bundle_client PORT N
//
// Opens N connections to 127.0.0.1:PORT, sends one line on each and checks
// the upper-cased reply, then prints "exchanged N" and waits (up to 60 s per
// connection) for the server to close every connection. An orderly close is
// recv() == 0 (FIN); a reset is recv() == -1 with ECONNRESET. Prints
// "orderly K of N" and exits 0 only if every connection was closed orderly.
// Plain POSIX sockets, no weft: the client must not share the server's code.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int connect_to(unsigned port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Wait up to `ms` for `fd` to be readable. False on timeout.
bool wait_readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

bool send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

/// Read one line (up to and including '\n'). Empty on error, EOF or timeout.
std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (line.empty() || line.back() != '\n') {
    if (!wait_readable(fd, 30'000)) return {};
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {};
    line.push_back(c);
  }
  return line;
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PORT N\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10));
  const int n = std::atoi(argv[2]);
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = connect_to(port);
    if (fd < 0) {
      std::printf("FAIL connect %d: %s\n", i, std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  for (int i = 0; i < n; ++i) {
    const std::string line = "hello from connection " + std::to_string(i) + "\n";
    if (!send_all(fds[i], line)) {
      std::printf("FAIL send %d: %s\n", i, std::strerror(errno));
      return 1;
    }
    const std::string reply = read_line(fds[i]);
    if (reply != upper(line)) {
      std::printf("FAIL reply %d: '%s'\n", i, reply.c_str());
      return 1;
    }
  }
  std::printf("exchanged %d\n", n);
  std::fflush(stdout);

  int orderly = 0;
  for (int i = 0; i < n; ++i) {
    if (!wait_readable(fds[i], 60'000)) {
      std::printf("FAIL connection %d: not closed within 60 s\n", i);
      continue;
    }
    char c = 0;
    ssize_t r = 0;
    do {
      r = ::recv(fds[i], &c, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      ++orderly;  // FIN: end of stream
    } else if (r < 0) {
      std::printf("FAIL connection %d: %s%s\n", i, std::strerror(errno),
                  errno == ECONNRESET ? " (reset instead of an orderly close)" : "");
    } else {
      std::printf("FAIL connection %d: unexpected byte %d\n", i, c);
    }
    ::close(fds[i]);
  }
  std::printf("orderly %d of %d\n", orderly, n);
  std::fflush(stdout);
  return orderly == n ? 0 : 1;
}
