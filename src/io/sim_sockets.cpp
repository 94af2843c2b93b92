// sim_sockets — the table of simulated descriptors and the calls that
// consult it (the design: sim_sockets.hpp).
#include "io/sim_sockets.hpp"

#include "io/sim_network.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>

namespace weft::detail {
namespace {

struct sim_table {
  std::mutex mu;
  std::unordered_map<int, sim_entry> entries;  // under mu
  // entries.size(), read without the lock. ORDERING: relaxed, both sides:
  // a simulated descriptor is registered and used by the thread that drives
  // its simulation, which sees its own store; a thread that sees a stale 0
  // has no simulated descriptor of its own to look up (the numbers of the
  // table's descriptors are never another socket's while they are in it).
  std::atomic<std::size_t> size{0};
};

sim_table& table() {
  static auto* t = new sim_table;  // never destroyed: sockets may close during exit
  return *t;
}

bool any_simulated() noexcept {
  // ORDERING: relaxed: see sim_table::size.
  return table().size.load(std::memory_order_relaxed) != 0;
}

}  // namespace

void sim_register(int fd, sim_entry e) {
  sim_table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.entries[fd] = std::move(e);
  t.size.store(t.entries.size(), std::memory_order_relaxed);  // ORDERING: see sim_table::size
}

void sim_deregister(int fd) noexcept {
  sim_table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.entries.erase(fd);
  t.size.store(t.entries.size(), std::memory_order_relaxed);  // ORDERING: see sim_table::size
}

sim_entry sim_lookup(int fd) {
  if (fd < 0 || !any_simulated()) return {};
  sim_table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.entries.find(fd);
  return it == t.entries.end() ? sim_entry{} : it->second;
}

void close_fd(int fd) noexcept {
  if (fd < 0) return;
  if (any_simulated()) {
    sim_entry e;
    try {
      e = sim_lookup(fd);
    } catch (...) {  // std::mutex::lock: never in practice
    }
    // Deregisters `fd` under the network's lock, before the number is free.
    if (e.network && e.file) {
      e.network->close_file(fd);
    } else if (e.network) {
      e.network->close_endpoint(e.endpoint);
    }
  }
  ::close(fd);
}

int socket_shutdown(int fd, int how) noexcept {
  sim_entry e;
  try {
    e = sim_lookup(fd);
  } catch (...) {
  }
  if (!e.network) return ::shutdown(fd, how);
  const int err = e.file ? ENOTSOCK : e.network->shutdown_endpoint(e.endpoint, how);
  if (err == 0) return 0;
  errno = err;
  return -1;
}

namespace {
int name_call(int fd, sockaddr* addr, socklen_t* len, bool peer) noexcept {
  sim_entry e;
  try {
    e = sim_lookup(fd);
  } catch (...) {
  }
  if (!e.network) return peer ? ::getpeername(fd, addr, len) : ::getsockname(fd, addr, len);
  const int err = e.file ? ENOTSOCK : e.network->endpoint_name(e.endpoint, peer, addr, len);
  if (err == 0) return 0;
  errno = err;
  return -1;
}
}  // namespace

int socket_getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept {
  return name_call(fd, addr, len, false);
}
int socket_getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept {
  return name_call(fd, addr, len, true);
}

}  // namespace weft::detail
