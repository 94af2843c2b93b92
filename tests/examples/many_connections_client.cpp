// many_connections_client — test helper for examples/echo_server with many
// connections at once.
//
//   many_connections_client PORT N
//
// Opens N connections to 127.0.0.1:PORT (at most 256 connects in progress at
// a time, so the listen backlog never overflows into SYN retransmits), and on
// each sends a 16-byte message naming the connection and the round, and
// checks the echo byte for byte. When all N have echoed once it prints
// "idle N" and waits for a line on stdin (the test measures the server
// meanwhile, every connection open and idle); then a second round on every
// connection, "echoed N twice", and exit 0. Any wrong byte, failed connect or
// early close prints what happened and exits 1; the whole run is bounded by
// alarm(300). Plain POSIX sockets and epoll, no weft: the client must not
// share the server's code.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t msg_size = 16;

struct conn {
  int fd = -1;
  bool connected = false;
  std::size_t sent = 0;      // bytes of this round's message written
  std::size_t received = 0;  // bytes of its echo read
  unsigned char msg[msg_size]{};
  unsigned char echo[msg_size]{};
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "many_connections_client: %s\n", what.c_str());
  std::exit(1);
}

void make_message(conn& c, std::uint64_t id, std::uint64_t round) {
  const std::uint64_t words[2] = {id, round * 0x9e3779b97f4a7c15ull ^ id};
  std::memcpy(c.msg, words, msg_size);
  c.sent = c.received = 0;
}

// Write what is left of the message; false on a hard error.
bool pump_write(conn& c) {
  while (c.sent < msg_size) {
    const ssize_t n = ::send(c.fd, c.msg + c.sent, msg_size - c.sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN;
    c.sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Read what is left of the echo: 1 done, 0 more to come, -1 error or close.
int pump_read(conn& c) {
  while (c.received < msg_size) {
    const ssize_t n = ::recv(c.fd, c.echo + c.received, msg_size - c.received, 0);
    if (n == 0) return -1;
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c.received += static_cast<std::size_t>(n);
  }
  return std::memcmp(c.msg, c.echo, msg_size) == 0 ? 1 : -2;
}

// One round: every connection sends its message and gets it back.
void run_round(std::vector<conn>& conns, int ep, unsigned port, std::uint64_t round) {
  const std::size_t n = conns.size();
  std::size_t next_connect = 0;
  std::size_t connecting = 0;
  std::size_t done = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (std::size_t i = 0; i < n; ++i) {
    if (conns[i].fd >= 0) {
      make_message(conns[i], i, round);
      if (!pump_write(conns[i])) die("send failed on connection " + std::to_string(i));
    }
  }
  std::vector<epoll_event> events(1024);
  while (done < n) {
    while (round == 1 && next_connect < n && connecting < 256) {
      conn& c = conns[next_connect];
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) die("socket: " + std::string(std::strerror(errno)));
      if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 && errno != EINPROGRESS) {
        die("connect: " + std::string(std::strerror(errno)));
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
      ev.data.u64 = next_connect;
      if (::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) < 0) die("epoll_ctl");
      make_message(c, next_connect, round);
      ++next_connect;
      ++connecting;
    }
    const int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10'000);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) die("no progress for 10 s with " + std::to_string(n - done) + " echoes missing");
    for (int e = 0; e < k; ++e) {
      const std::size_t i = events[static_cast<std::size_t>(e)].data.u64;
      conn& c = conns[i];
      if (c.received == msg_size) continue;  // this round is done on it
      if (!c.connected) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) die("connect " + std::to_string(i) + ": " + std::strerror(err));
        c.connected = true;
        --connecting;
      }
      if (!pump_write(c)) die("send failed on connection " + std::to_string(i));
      const int r = pump_read(c);
      if (r == -1) die("connection " + std::to_string(i) + " ended before its echo");
      if (r == -2) die("connection " + std::to_string(i) + " echoed other bytes");
      if (r == 1) ++done;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) die("usage: many_connections_client PORT N");
  const unsigned port = static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10));
  const std::size_t n = std::strtoul(argv[2], nullptr, 10);
  ::alarm(300);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  std::vector<conn> conns(n);
  run_round(conns, ep, port, 1);
  std::printf("idle %zu\n", n);
  std::fflush(stdout);
  std::string line;
  if (!std::getline(std::cin, line)) die("stdin closed before the second round");
  run_round(conns, ep, port, 2);
  std::printf("echoed %zu twice\n", n);
  std::fflush(stdout);
  for (conn& c : conns) ::close(c.fd);
  return 0;
}
