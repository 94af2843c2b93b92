// bench/net/net_common.hpp — small helpers shared by the benchmark peers and
// the load generator: argument parsing, loopback sockets, the "listening"
// announcement that compare_echo.sh waits for.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace netbench {

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

// Every echo/HTTP peer is started as `PROGRAM PORT THREADS`.
struct ServerArgs {
  int port = 0;
  int threads = 1;
};

inline ServerArgs parse_server_args(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
    std::exit(2);
  }
  ServerArgs a;
  a.port = std::atoi(argv[1]);
  a.threads = argc > 2 ? std::atoi(argv[2]) : 1;
  if (a.port <= 0 || a.port > 65535 || a.threads <= 0) {
    std::fprintf(stderr, "%s: bad PORT or THREADS\n", argv[0]);
    std::exit(2);
  }
  return a;
}

// compare_echo.sh waits for a stdout line starting with "listening"; stdout
// is a file there, so flush explicitly.
inline void announce_listening(int port) {
  std::printf("listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
}

inline sockaddr_in loopback(int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

inline void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A blocking listening socket on 127.0.0.1:port. With reuseport, several
// threads can each own one listener on the same port.
inline int listen_loopback(int port, bool reuseport) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in sa = loopback(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) die("bind");
  if (listen(fd, SOMAXCONN) < 0) die("listen");
  return fd;
}

}  // namespace netbench
