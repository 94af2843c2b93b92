// sim_sockets — which descriptors are a simulation's in-memory sockets and
// files, and the calls that must reach their network instead of the kernel:
// close, shutdown, getsockname, getpeername (sim_network.hpp, sim_files.hpp).
//
// Design
// ------
// A process-wide table maps a descriptor to its network and endpoint (or,
// for a file, to its network alone, whose file system knows the open file).
// A descriptor is in it from the moment its network makes the endpoint (a
// connect, an accept, a listen) or opens the file until close_fd; the network keeps the
// real descriptor open all that time, so no other socket can have its number
// and an entry is never stale. Everything else (socket options, a real
// runtime's sockets) goes to the kernel as before.
//
// Cost off a simulation: one relaxed load of the table's size per call; the
// lock is taken only while a simulated socket exists in the process.
//
// Lock order: a network's lock, then the table's (a network registers an
// endpoint under its own lock); close_fd looks up under the table's
// lock alone, then lets the network close and deregister under its own.
#pragma once

#include <sys/socket.h>

#include <memory>

namespace weft::detail {

class sim_network;
struct sim_endpoint;

struct sim_entry {
  std::shared_ptr<sim_network> network;
  std::shared_ptr<sim_endpoint> endpoint;  // null for a file
  bool file = false;                       // a file of the network's file system
};

/// Record `fd` as `e` (a network, under its lock).
void sim_register(int fd, sim_entry e);
/// Forget `fd` (its network, under its lock, closing it).
void sim_deregister(int fd) noexcept;
/// The entry of `fd`; empty if it is not a simulated socket.
sim_entry sim_lookup(int fd);

/// close(2), telling the network first if `fd` is a simulated socket (its
/// peer sees end of stream or a reset, its waiting operations are
/// cancelled) or file (the file system forgets the descriptor).
void close_fd(int fd) noexcept;
/// shutdown(2) or the network's (ENOTSOCK for a simulated file). 0, or -1
/// with errno set.
int socket_shutdown(int fd, int how) noexcept;
/// getsockname(2) / getpeername(2) or the network's (ENOTSOCK for a
/// simulated file). 0, or -1 with errno.
int socket_getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept;
int socket_getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept;

}  // namespace weft::detail
