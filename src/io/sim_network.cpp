// sim_network — a simulation's in-memory network (the design and the state
// diagrams: sim_network.hpp).
#include "io/sim_network.hpp"

#include "io/sim_sockets.hpp"

#include <weft/detail/zero_copy_send.hpp>
#include <weft/error.hpp>
#include <weft/waker.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <thread>
#include <utility>

namespace weft::detail {

struct sim_endpoint : std::enable_shared_from_this<sim_endpoint> {
  enum class state_t : std::uint8_t { fresh, connecting, connected, listener, closed };
  state_t state = state_t::fresh;
  int fd = -1;  // -1: a server end not yet accepted
  int family = AF_INET;
  sockaddr_storage local{};
  socklen_t local_len = 0;
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  // connecting / connected: the other end (weak: two ends never keep each
  // other alive).
  std::weak_ptr<sim_endpoint> remote;
  // Receiving: bytes arrived and unread, bytes sent toward this end not yet
  // arrived, and how much of both this end buffers.
  std::deque<std::byte> rx;
  std::size_t in_flight = 0;
  std::size_t window = 65536;
  sim_network::time_point last_arrival{};  // events to this end arrive in order
  bool fin_received = false;
  bool rd_shut = false;
  bool wr_shut = false;
  bool reset = false;           // an rst arrived
  bool reset_reported = false;  // an op has returned ECONNRESET for it
  int connect_error = 0;        // a refused connect, until its op takes it
  io_op_list readers;           // read, recv, recv_buffered, readv, recvmsg, accept, poll(IN)
  io_op_list writers;           // write, send, send_zc, writev, sendmsg, connect, poll(OUT)
  std::deque<std::shared_ptr<sim_endpoint>> backlog;  // listener: connected, not accepted
  // A closed end kept alive by its peer until the peer closes too, so the
  // peer's writes still find it (their bytes arrive and draw a reset, as
  // in TCP) instead of failing before the FIN or reset could have come.
  std::shared_ptr<sim_endpoint> closed_remote;
  // listener: what a connect must name to reach it. A Unix path is matched
  // by the file it names (any spelling of it); an IPv6 wildcard that is not
  // V6ONLY also takes IPv4.
  bool has_inode = false;
  dev_t dev = 0;
  ino_t ino = 0;
  bool dual_stack = false;
  bool is_pair = false;  // one end of a socketpair(2): a real, connected descriptor
};

namespace {

using state_t = sim_endpoint::state_t;

bool is_reader(const io_op& op) noexcept {
  if (op.code == io_opcode::poll) return (op.flags & POLLOUT) == 0;
  return is_read_op(op.code);
}

/// The buffers an op reads into or writes from, as iovecs (at most one
/// msghdr's worth; a plain op is one).
struct byte_span_list {
  const iovec* iov = nullptr;
  std::size_t count = 0;
  iovec one{};
};

byte_span_list spans_of(io_op& op) {
  byte_span_list l;
  switch (op.code) {
    case io_opcode::readv:
    case io_opcode::writev:
      l.iov = static_cast<const iovec*>(op.buf);
      l.count = op.len;
      break;
    case io_opcode::recvmsg:
    case io_opcode::sendmsg: {
      const auto* m = static_cast<const msghdr*>(op.buf);
      l.iov = m->msg_iov;
      l.count = m->msg_iovlen;
      break;
    }
    default:
      l.one = iovec{op.buf, op.len};
      l.iov = &l.one;
      l.count = 1;
      break;
  }
  return l;
}

std::size_t total_of(const byte_span_list& l) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < l.count; ++i) n += l.iov[i].iov_len;
  return n;
}

/// The file a Unix socket address names (not abstract), if it exists.
bool inode_of(const sockaddr_storage& a, dev_t& dev, ino_t& ino) noexcept {
  const auto& un = reinterpret_cast<const sockaddr_un&>(a);
  if (a.ss_family != AF_UNIX || un.sun_path[0] == '\0') return false;
  char path[sizeof un.sun_path + 1] = {};
  std::memcpy(path, un.sun_path, sizeof un.sun_path);
  struct stat st {};
  if (::stat(path, &st) < 0) return false;
  dev = st.st_dev;
  ino = st.st_ino;
  return true;
}

/// `to` (length `to_len`) reaches listener `l`: the same port and the same
/// address or a wildcard (IPv4 on a dual-stack IPv6 wildcard too); a Unix
/// path naming the listener's file, or the same abstract name, byte for byte.
bool address_matches(const sim_endpoint& l, const sockaddr_storage& to, socklen_t to_len) {
  const sockaddr_storage& la = l.local;
  if (to.ss_family == AF_INET && la.ss_family == AF_INET6 && l.dual_stack) {
    const auto& l6 = reinterpret_cast<const sockaddr_in6&>(la);
    const auto& t = reinterpret_cast<const sockaddr_in&>(to);
    return l6.sin6_port == t.sin_port &&
           std::memcmp(&l6.sin6_addr, &in6addr_any, sizeof l6.sin6_addr) == 0;
  }
  if (la.ss_family != to.ss_family) return false;
  if (to.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(la);
    const auto& t = reinterpret_cast<const sockaddr_in&>(to);
    return a.sin_port == t.sin_port &&
           (a.sin_addr.s_addr == t.sin_addr.s_addr || a.sin_addr.s_addr == htonl(INADDR_ANY));
  }
  if (to.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(la);
    const auto& t = reinterpret_cast<const sockaddr_in6&>(to);
    return a.sin6_port == t.sin6_port &&
           (std::memcmp(&a.sin6_addr, &t.sin6_addr, sizeof a.sin6_addr) == 0 ||
            std::memcmp(&a.sin6_addr, &in6addr_any, sizeof a.sin6_addr) == 0);
  }
  if (to.ss_family == AF_UNIX) {
    const auto& a = reinterpret_cast<const sockaddr_un&>(la);
    const auto& t = reinterpret_cast<const sockaddr_un&>(to);
    constexpr socklen_t name_at = offsetof(sockaddr_un, sun_path);
    if (t.sun_path[0] == '\0' && to_len > name_at) {  // abstract: the bytes given, exactly
      return a.sun_path[0] == '\0' && l.local_len == to_len &&
             std::memcmp(a.sun_path, t.sun_path, to_len - name_at) == 0;
    }
    dev_t dev = 0;
    ino_t ino = 0;
    return l.has_inode && inode_of(to, dev, ino) && dev == l.dev && ino == l.ino;
  }
  return false;
}

/// `a` as an IPv4-mapped IPv6 address (what a dual-stack socket reports
/// for an IPv4 peer); any other address as it is.
void map_to_v6(sockaddr_storage& a, socklen_t& len) noexcept {
  if (a.ss_family != AF_INET) return;
  const sockaddr_in v4 = reinterpret_cast<const sockaddr_in&>(a);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = v4.sin_port;
  v6.sin6_addr.s6_addr[10] = 0xff;
  v6.sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
  std::memset(&a, 0, sizeof a);
  std::memcpy(&a, &v6, sizeof v6);
  len = sizeof v6;
}

int socket_domain(int fd) noexcept {
  int domain = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return -1;
  return domain;
}

bool is_stream_socket(int fd) noexcept {
  int type = 0;
  socklen_t len = sizeof type;
  return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

bool is_listening(int fd) noexcept {
  int on = 0;
  socklen_t len = sizeof on;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on != 0;
}

[[noreturn]] void refuse_unsimulated() {
  throw_error(errc::not_supported_in_simulation,
              "this I/O was awaited on a simulation runtime, whose in-memory network carries "
              "only stream sockets (TCP, Unix) connected or listening inside it, and whose "
              "in-memory file system only weft::fs: UDP, pipes and sockets made elsewhere have "
              "no simulated counterpart; run this on a multi_thread or current_thread runtime");
}

}  // namespace

sim_network::sim_network(const simulated_network& options, const simulated_files& files,
                         std::uint64_t seed)
    : options_(options), rng_(seed ^ 0x6e6574776f726b21ull), files_(files, seed) {}

sim_network::~sim_network() = default;

std::uint64_t sim_network::next_random() noexcept {
  // splitmix64, as the simulation's own generator.
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool sim_network::chance(unsigned per_mille) {
  return per_mille != 0 && next_random() % 1000 < per_mille;
}

std::chrono::nanoseconds sim_network::latency() {
  const auto max = static_cast<std::uint64_t>(options_.max_latency.count());
  return std::chrono::nanoseconds(max == 0 ? 0 : next_random() % (max + 1));
}

std::size_t sim_network::pick_window() {
  const std::size_t span = options_.max_window - options_.min_window;
  return options_.min_window + (span == 0 ? 0 : next_random() % (span + 1));
}

io_capabilities sim_network::caps() const noexcept {
  io_capabilities c;
  c.simulated = true;
  c.file_ops = true;     // the in-memory file system (sim_files.hpp)
  c.truncate_op = true;  // ftruncate as an operation too
  return c;
}

void sim_network::set_now(time_point now) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = now;
}

void sim_network::set_origin(time_point origin) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  files_.set_origin(origin);
}

std::optional<sim_network::time_point> sim_network::next_event() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (events_.empty()) return std::nullopt;
  return events_.top().at;
}

sim_network::stats sim_network::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

sim_file_system::stats sim_network::file_counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.counters();
}

std::shared_ptr<sim_endpoint> sim_network::endpoint_of(int fd) const {
  sim_entry e = sim_lookup(fd);
  if (e.network.get() != this) return {};  // not simulated, or another simulation's
  return std::move(e.endpoint);
}

std::shared_ptr<sim_endpoint> sim_network::register_listener(int fd) {
  auto ep = std::make_shared<sim_endpoint>();
  ep->state = state_t::listener;
  ep->fd = fd;
  ep->local_len = sizeof ep->local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ep->local), &ep->local_len) < 0) {
    ep->local_len = 0;
  }
  ep->family = ep->local.ss_family;
  ep->has_inode = inode_of(ep->local, ep->dev, ep->ino);
  if (ep->family == AF_INET6) {
    int v6_only = 1;
    socklen_t len = sizeof v6_only;
    ep->dual_stack =
        ::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6_only, &len) == 0 && v6_only == 0;
  }
  listeners_.push_back(ep);
  sim_register(fd, sim_entry{shared_from_this(), ep});
  return ep;
}

void sim_network::on_listen(io_handle& h) noexcept {
  try {
    std::lock_guard<std::mutex> lock(mu_);
    if (endpoint_of(h.fd)) return;
    (void)register_listener(h.fd);
  } catch (...) {
    // Out of memory: the listener is registered by its first accept
    // instead (a connect before it is refused).
  }
}

void sim_network::on_socket_pair(int a, int b) noexcept {
  try {
    std::lock_guard<std::mutex> lock(mu_);
    auto ea = std::make_shared<sim_endpoint>();
    auto eb = std::make_shared<sim_endpoint>();
    for (const auto& [ep, fd] : {std::pair{ea, a}, std::pair{eb, b}}) {
      ep->state = state_t::connected;
      ep->fd = fd;
      ep->family = AF_UNIX;
      ep->local.ss_family = ep->peer.ss_family = AF_UNIX;  // unnamed, as socketpair(2)'s
      ep->local_len = ep->peer_len = sizeof(sa_family_t);
      ep->window = pick_window();
      ep->last_arrival = now_;
      ep->is_pair = true;
    }
    ea->remote = eb;
    eb->remote = ea;
    sim_register(a, sim_entry{shared_from_this(), ea});
    sim_register(b, sim_entry{shared_from_this(), eb});
  } catch (...) {
    // Out of memory: the pair stays unknown, and its first operation is
    // refused with not_supported_in_simulation.
    sim_deregister(a);
  }
}

std::shared_ptr<sim_endpoint> sim_network::find_listener(const sockaddr_storage& addr,
                                                         socklen_t len) const {
  for (const auto& l : listeners_) {
    if (l->state == state_t::listener && address_matches(*l, addr, len)) return l;
  }
  return {};
}

void sim_network::schedule(event_kind kind, const std::shared_ptr<sim_endpoint>& target,
                           std::vector<std::byte> bytes, std::shared_ptr<sim_endpoint> other) {
  time_point at = now_ + latency();
  if (kind != event_kind::retry) {
    // In order per receiving end: nothing overtakes what was sent before it.
    at = std::max(at, target->last_arrival);
    target->last_arrival = at;
  }
  events_.push(event{at, seq_++, kind, target, std::move(other), std::move(bytes)});
}

void sim_network::complete(io_op& op, std::int32_t result) {
  op.result = result;
  to_wake_.emplace_back(&op, std::move(op.wake_on_done));
  // ORDERING: release: publishes `result`; pairs with the acquire in
  // io_op::is_completed (the resumed task, a canceller). Under mu_, so a
  // cancel() sees either a linked op or a completed one.
  op.state.store(io_op::completed, std::memory_order_release);
}

void sim_network::wake_all() noexcept {
  std::vector<std::pair<io_op*, waker>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(to_wake_);
  }
  // The ops may be gone by now (completed, their tasks cancelled): only the
  // wakers are used.
  for (auto& [op, w] : batch) w.wake();
}

void sim_network::link(io_op& op, sim_endpoint& ep) {
  linked_.emplace(&op, &ep);  // first: a throw leaves nothing half linked
  (is_reader(op) ? ep.readers : ep.writers).push(op);
}

void sim_network::unlink(io_op& op, sim_endpoint& ep) noexcept {
  (is_reader(op) ? ep.readers : ep.writers).remove(op);
  linked_.erase(&op);
}

void sim_network::fail_waiters(sim_endpoint& ep, std::int32_t result) {
  for (io_op_list* list : {&ep.readers, &ep.writers}) {
    while (io_op* op = list->head) {
      to_wake_.reserve(to_wake_.size() + 1);  // complete() cannot throw after the unlink
      unlink(*op, ep);
      complete(*op, result);
    }
  }
}

void sim_network::poke(const std::shared_ptr<sim_endpoint>& ep) {
  to_run_.push_back(ep);
}

void sim_network::settle() {
  // One endpoint's lists at a time, never nested: an op being performed is
  // still the head of its list, and a nested pass over that list would
  // perform it a second time.
  while (!to_run_.empty()) {
    const std::shared_ptr<sim_endpoint> ep = to_run_.front();
    run_lists(*ep);  // on a throw the endpoint stays poked
    to_run_.pop_front();
  }
}

void sim_network::run_lists(sim_endpoint& ep) {
  for (io_op_list* list : {&ep.readers, &ep.writers}) {
    while (io_op* op = list->head) {
      const std::int32_t r = perform(*op, ep, /*first=*/false);
      if (r == must_wait) break;
      to_wake_.reserve(to_wake_.size() + 1);  // complete() cannot throw after the unlink
      unlink(*op, ep);
      complete(*op, r);
    }
  }
}

std::int32_t sim_network::perform(io_op& op, sim_endpoint& ep, bool first) {
  if (first && op.code != io_opcode::connect && chance(options_.spurious_wait_per_mille)) {
    // The EAGAIN of a readiness backend: wait, and try again when the
    // network next acts on this end.
    ++stats_.spurious_waits;
    schedule(event_kind::retry, ep.shared_from_this());
    return must_wait;
  }
  switch (op.code) {
    case io_opcode::accept:
      return do_accept(op, ep);
    case io_opcode::read:
    case io_opcode::readv:
    case io_opcode::recv:
    case io_opcode::recv_buffered:
    case io_opcode::recvmsg:
      return do_recv(op, ep);
    case io_opcode::write:
    case io_opcode::writev:
    case io_opcode::send:
    case io_opcode::send_zc:
    case io_opcode::sendmsg:
      return do_send(op, ep);
    case io_opcode::connect:
      if (ep.state == state_t::connected) return 0;
      if (ep.connect_error != 0) return -std::exchange(ep.connect_error, 0);
      return must_wait;
    case io_opcode::poll: {
      short ready = 0;
      if (ep.state == state_t::listener) {
        if (!ep.backlog.empty()) ready |= POLLIN;
      } else if (ep.state == state_t::connected) {
        if (!ep.rx.empty() || ep.fin_received || ep.rd_shut || ep.reset) ready |= POLLIN;
        const auto r = ep.remote.lock();
        if (ep.wr_shut || ep.reset || !r || r->in_flight + r->rx.size() < r->window) {
          ready |= POLLOUT;
        }
      }
      ready = static_cast<short>(ready & op.flags);
      return ready != 0 ? ready : must_wait;
    }
    default:
      return -EOPNOTSUPP;
  }
}

namespace {
/// What a read or write on `ep` gets before any byte moves, if anything:
/// wait while connecting; ENOTCONN; after a reset, ECONNRESET once, then
/// `after_reset`. 1: nothing, go on.
std::int32_t stream_state_check(sim_endpoint& ep, std::int32_t after_reset,
                                std::int32_t wait) noexcept {
  if (ep.state == state_t::connecting) return wait;
  if (ep.state != state_t::connected) return -ENOTCONN;
  if (!ep.reset) return 1;
  if (!ep.reset_reported) {
    ep.reset_reported = true;
    return -ECONNRESET;
  }
  return after_reset;
}
}  // namespace

std::int32_t sim_network::do_recv(io_op& op, sim_endpoint& ep) {
  if (const std::int32_t r = stream_state_check(ep, 0, must_wait); r != 1) return r;
  if (total_of(spans_of(op)) == 0 && op.code != io_opcode::recv_buffered) {
    return 0;  // an empty buffer reads nothing, at once, as recv(2)
  }
  if (ep.rx.empty()) return ep.fin_received || ep.rd_shut ? 0 : must_wait;
  const bool peek = (op.flags & MSG_PEEK) != 0;
  if (op.code == io_opcode::recv_buffered) {
    // As on epoll: a block the op owns, made once there are bytes.
    op.buf = new std::byte[owned_block_size];
    op.len = owned_block_size;
    op.owns_buf = true;
  }
  const byte_span_list spans = spans_of(op);
  std::size_t n = std::min(total_of(spans), ep.rx.size());
  if (n > 1 && chance(options_.short_io_per_mille)) {
    ++stats_.short_ios;
    n = 1 + next_random() % (n - 1);
  }
  std::size_t left = n;
  auto from = ep.rx.begin();
  for (std::size_t i = 0; i < spans.count && left > 0; ++i) {
    const std::size_t k = std::min(left, spans.iov[i].iov_len);
    std::copy_n(from, k, static_cast<std::byte*>(spans.iov[i].iov_base));
    from += static_cast<std::ptrdiff_t>(k);
    left -= k;
  }
  if (op.code == io_opcode::recvmsg) {
    auto* m = static_cast<msghdr*>(op.buf);
    m->msg_flags = 0;
    m->msg_namelen = 0;
    m->msg_controllen = 0;
  }
  if (!peek) {
    ep.rx.erase(ep.rx.begin(), from);
    // Room opened in this end's window: the other end's writers may go on.
    if (auto r = ep.remote.lock()) poke(r);
  }
  return static_cast<std::int32_t>(n);
}

std::int32_t sim_network::do_send(io_op& op, sim_endpoint& ep) {
  if (const std::int32_t r = stream_state_check(ep, -EPIPE, must_wait); r != 1) return r;
  if (ep.wr_shut) return -EPIPE;
  const std::shared_ptr<sim_endpoint> r = ep.remote.lock();
  if (!r) return -EPIPE;  // the other end is gone and so is every event to it
  const byte_span_list spans = spans_of(op);
  const std::size_t total = total_of(spans);
  if (total == 0) return 0;
  const std::size_t used = r->in_flight + r->rx.size();
  if (used >= r->window) return must_wait;
  std::size_t n = std::min(total, r->window - used);
  n = std::min<std::size_t>(n, INT32_MAX);
  if (n > 1 && chance(options_.short_io_per_mille)) {
    ++stats_.short_ios;
    n = 1 + next_random() % (n - 1);
  }
  std::vector<std::byte> bytes;
  bytes.reserve(n);
  std::size_t left = n;
  for (std::size_t i = 0; i < spans.count && left > 0; ++i) {
    const std::size_t k = std::min(left, spans.iov[i].iov_len);
    const auto* p = static_cast<const std::byte*>(spans.iov[i].iov_base);
    bytes.insert(bytes.end(), p, p + k);
    left -= k;
  }
  const std::shared_ptr<sim_endpoint> self = ep.shared_from_this();
  if (chance(options_.reset_per_mille)) {
    // The write resets the connection: both ends learn it after a latency,
    // and the bytes are lost (the write itself succeeded, as send(2) does
    // before the peer's RST comes back).
    ++stats_.resets;
    schedule(event_kind::rst, r);
    schedule(event_kind::rst, self);
    return static_cast<std::int32_t>(n);
  }
  // in_flight grows with each segment scheduled (an event that cannot be
  // made leaves the count as it was).
  if (n > 1 && chance(options_.segment_per_mille)) {
    // Cut into 2-4 segments, each delivered on its own (in order).
    ++stats_.segmented;
    const std::size_t pieces = 2 + next_random() % 3;
    std::size_t at = 0;
    for (std::size_t i = 1; i < pieces && at + 1 < n; ++i) {
      const std::size_t cut = at + 1 + next_random() % (n - at - 1);
      schedule(event_kind::data, r,
               std::vector<std::byte>(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                      bytes.begin() + static_cast<std::ptrdiff_t>(cut)),
               self);
      r->in_flight += cut - at;
      at = cut;
    }
    bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(at));
  }
  const std::size_t last = bytes.size();
  schedule(event_kind::data, r, std::move(bytes), self);
  r->in_flight += last;
  return static_cast<std::int32_t>(n);
}

std::int32_t sim_network::do_accept(io_op& op, sim_endpoint& ep) {
  if (ep.state != state_t::listener) return -EINVAL;
  if (ep.backlog.empty()) return must_wait;
  if (chance(options_.accept_emfile_per_mille)) {
    ++stats_.emfiles;
    return -EMFILE;  // the connection stays queued for a later accept
  }
  const std::shared_ptr<sim_endpoint> srv = ep.backlog.front();
  const int fd = ::socket(srv->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;  // a real EMFILE: the connection stays queued
  ep.backlog.pop_front();
  srv->fd = fd;
  try {
    sim_register(fd, sim_entry{shared_from_this(), srv});
  } catch (...) {
    ::close(fd);
    srv->fd = -1;
    ep.backlog.push_front(srv);
    return -ENOMEM;
  }
  if (op.addr != nullptr && op.addrlen != nullptr) {
    const socklen_t room = *op.addrlen;
    std::memcpy(op.addr, &srv->peer, std::min(room, srv->peer_len));
    *op.addrlen = srv->peer_len;
  }
  return fd;
}

std::int32_t sim_network::do_connect(io_op& op, const std::shared_ptr<sim_endpoint>& ep) {
  if (ep->state == state_t::connected) return -EISCONN;
  if (ep->state == state_t::connecting) return -EALREADY;
  if (ep->state != state_t::fresh) return -EINVAL;
  if (op.addr == nullptr || op.addr_size < sizeof(sa_family_t) ||
      op.addr_size > sizeof(sockaddr_storage)) {
    return -EINVAL;
  }
  ep->connect_error = 0;  // a cancelled earlier connect's refusal is not this one's
  std::memset(&ep->peer, 0, sizeof ep->peer);
  std::memcpy(&ep->peer, op.addr, op.addr_size);
  ep->peer_len = op.addr_size;
  if (ep->peer.ss_family != ep->family) return -EAFNOSUPPORT;
  // This end's own address: the address it connects to (the loopback for
  // a wildcard) and a port of the network's own (Unix: unnamed).
  std::memset(&ep->local, 0, sizeof ep->local);
  if (ep->family == AF_INET) {
    sockaddr_in a = reinterpret_cast<const sockaddr_in&>(ep->peer);
    if (a.sin_addr.s_addr == htonl(INADDR_ANY)) a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(next_port_);
    std::memcpy(&ep->local, &a, sizeof a);
    ep->local_len = sizeof a;
  } else if (ep->family == AF_INET6) {
    sockaddr_in6 a = reinterpret_cast<const sockaddr_in6&>(ep->peer);
    if (std::memcmp(&a.sin6_addr, &in6addr_any, sizeof a.sin6_addr) == 0) {
      a.sin6_addr = in6addr_loopback;
    }
    a.sin6_port = htons(next_port_);
    a.sin6_flowinfo = 0;
    std::memcpy(&ep->local, &a, sizeof a);
    ep->local_len = sizeof a;
  } else {
    ep->local.ss_family = AF_UNIX;
    ep->local_len = sizeof(sa_family_t);
  }
  next_port_ = next_port_ == 65535 ? 40000 : static_cast<std::uint16_t>(next_port_ + 1);
  std::shared_ptr<sim_endpoint> l = find_listener(ep->peer, ep->peer_len);
  if (!l && ep->family == AF_UNIX) {
    // A path that names no file fails at once, as connect(2) says ENOENT.
    const auto& un = reinterpret_cast<const sockaddr_un&>(ep->peer);
    dev_t dev = 0;
    ino_t ino = 0;
    if (un.sun_path[0] != '\0' && !inode_of(ep->peer, dev, ino)) return -ENOENT;
  }
  ep->state = state_t::connecting;
  if (l) {
    schedule(event_kind::syn, l, {}, ep);
  } else {
    schedule(event_kind::refused, ep);
  }
  return must_wait;
}

// ---- files ---------------------------------------------------------------------

std::int32_t sim_network::perform_file(io_op& op) {
  std::int32_t r = files_.perform(op, now_);
  if (op.code == io_opcode::openat && r >= 0) {
    try {
      sim_register(r, sim_entry{shared_from_this(), {}, /*file=*/true});
    } catch (...) {  // out of memory: as if the open had failed so
      files_.close(r);
      ::close(r);
      r = -ENOMEM;
    }
  }
  return r;
}

bool sim_network::start_file(io_op& op, std::coroutine_handle<> h) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!sim_file_system::handles(op.code)) {
    lock.unlock();
    refuse_unsimulated();  // a file operation weft::fs never makes (readv, poll…)
  }
  op.driver = this;
  const std::chrono::nanoseconds delay = files_.latency();
  if (delay == std::chrono::nanoseconds::zero()) {
    op.result = perform_file(op);
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    return false;
  }
  const std::uint64_t seq = seq_++;
  pending_files_.emplace(&op, seq);
  try {
    events_.push(event{now_ + delay, seq, event_kind::file, {}, {}, {}, &op});
    op.wake_on_done = weft::suspend_current(h);
  } catch (...) {
    pending_files_.erase(&op);  // an event pushed finds no op and does nothing
    throw;
  }
  // ORDERING: relaxed: mu_ publishes it to the network's other paths.
  op.state.store(io_op::in_flight, std::memory_order_relaxed);
  return true;
}

void sim_network::close_file(int fd) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  files_.close(fd);
  sim_deregister(fd);
}

// ---- sockets -------------------------------------------------------------------

bool sim_network::start(io_op& op, std::coroutine_handle<> h, cancel_hook* /*hook*/) {
  if (op.handle == nullptr) return start_file(op, h);
  std::unique_lock<std::mutex> lock(mu_);
  if (op.code == io_opcode::send_zc) zero_copy_count_send(false);  // sent as a copy
  std::shared_ptr<sim_endpoint> ep = endpoint_of(op.fd);
  if (!ep) {
    if (op.code == io_opcode::connect && is_stream_socket(op.fd)) {
      ep = std::make_shared<sim_endpoint>();
      ep->fd = op.fd;
      ep->family = socket_domain(op.fd);
      sim_register(op.fd, sim_entry{shared_from_this(), ep});
    } else if (op.code == io_opcode::accept && is_listening(op.fd)) {
      lock.unlock();
      throw_error(errc::not_supported_in_simulation,
                  "accept on a listener bound outside the simulation's tasks (before block_on, "
                  "or on a blocking job): the in-memory network did not see it bound, so no "
                  "connect could have reached it; bind it inside the simulated task");
    } else {
      lock.unlock();
      refuse_unsimulated();
    }
  }
  op.driver = this;
  const io_op_list& list = is_reader(op) ? ep->readers : ep->writers;
  std::int32_t r = must_wait;
  if (op.code == io_opcode::connect) {
    r = do_connect(op, ep);
  } else if (list.empty()) {
    r = perform(op, *ep, /*first=*/true);
  }          // else behind the ops of its direction already waiting, in order
  settle();  // what this op made possible for others (room it read free)
  if (r != must_wait) {
    op.result = r;
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    lock.unlock();
    wake_all();
    return false;
  }
  link(op, *ep);
  try {
    op.wake_on_done = weft::suspend_current(h);
  } catch (...) {
    unlink(op, *ep);
    throw;
  }
  // ORDERING: relaxed: mu_ publishes it to the network's other paths.
  op.state.store(io_op::in_flight, std::memory_order_relaxed);
  lock.unlock();
  wake_all();
  return true;
}

bool sim_network::cancel(io_op& op) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (op.is_completed()) return true;
  // In flight, so linked on an endpoint (which the events and the table
  // keep alive while it has waiters: a close fails them all first).
  if (auto it = linked_.find(&op); it != linked_.end()) unlink(op, *it->second);
  pending_files_.erase(&op);  // a file op: never performed now
  op.wake_on_done = waker{};
  op.result = -ECANCELED;
  // ORDERING: release: pairs with is_completed's acquire.
  op.state.store(io_op::completed, std::memory_order_release);
  return true;
}

void sim_network::wait_completed(io_op& op) noexcept {
  // cancel() always completes the op; nothing waits here.
  while (!op.is_completed()) std::this_thread::yield();
}

void sim_network::close_locked(const std::shared_ptr<sim_endpoint>& ep) {
  const state_t was = ep->state;
  if (was == state_t::closed) return;
  ep->state = state_t::closed;
  ep->closed_remote.reset();  // both ends closed: neither needs the other now
  fail_waiters(*ep, -ECANCELED);
  if (ep->fd >= 0) sim_deregister(ep->fd);
  if (was == state_t::listener) {
    std::erase(listeners_, ep);
    // Connections nobody accepted: their clients see a reset.
    for (const auto& srv : ep->backlog) {
      srv->state = state_t::closed;
      if (auto c = srv->remote.lock()) schedule(event_kind::rst, c);
    }
    ep->backlog.clear();
  } else if (was == state_t::connected || was == state_t::connecting) {
    if (auto r = ep->remote.lock()) {
      if (r->state != state_t::closed) r->closed_remote = ep;
      // Unread bytes left here make it a reset, as in TCP; otherwise the
      // other end reads to the end of what was sent, then end of stream.
      if (!ep->rx.empty()) {
        schedule(event_kind::rst, r);
      } else if (!ep->wr_shut) {
        schedule(event_kind::fin, r);
      }
    }
  }
  ep->rx.clear();
}

void sim_network::close_endpoint(const std::shared_ptr<sim_endpoint>& ep) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      close_locked(ep);
    } catch (...) {
      // schedule() out of memory: the peer sees nothing more.
    }
  }
  wake_all();
}

int sim_network::shutdown_endpoint(const std::shared_ptr<sim_endpoint>& ep, int how) noexcept {
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return EINVAL;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ep->state != state_t::connected) return ENOTCONN;
    if (how != SHUT_WR) ep->rd_shut = true;
    // A pair is a real connected socketpair(2): shut it down for real as
    // well, so that it still behaves if it outlives the simulation and is
    // used on a real runtime (where its table entry still routes here).
    if (ep->is_pair) (void)::shutdown(ep->fd, how);
    try {
      if (how != SHUT_RD && !ep->wr_shut) {
        ep->wr_shut = true;
        if (auto r = ep->remote.lock()) schedule(event_kind::fin, r);
      }
      poke(ep);
      settle();
    } catch (...) {
      return ENOMEM;
    }
  }
  wake_all();
  return 0;
}

int sim_network::endpoint_name(const std::shared_ptr<sim_endpoint>& ep, bool peer, sockaddr* out,
                               socklen_t* len) const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (peer && ep->state != state_t::connected) return ENOTCONN;
  const sockaddr_storage& a = peer ? ep->peer : ep->local;
  const socklen_t n = peer ? ep->peer_len : ep->local_len;
  std::memcpy(out, &a, std::min(*len, n));
  *len = n;
  return 0;
}

std::string sim_network::describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  // events_ keeps a cancelled file operation's event until it is due (it then
  // finds no operation); pending_files_ holds only the live ones.
  std::string s = std::to_string(events_.size()) + " events queued (cancelled ones included), " +
                  std::to_string(pending_files_.size()) + " file operations pending, " +
                  std::to_string(files_.open_count()) + " simulated files open";
  if (linked_.empty()) return s + ", no operation waits on the network";
  s += "; operations waiting on the network:";
  std::vector<std::pair<int, std::string>> lines;  // by descriptor: the same seed, the same text
  static constexpr const char* states[] = {"fresh", "connecting", "connected", "listener",
                                           "closed"};
  for (const auto& [op, ep] : linked_) {
    std::string l = " [fd " + std::to_string(ep->fd) + " " + states[static_cast<int>(ep->state)] +
                    (is_reader(*op) ? ", a read" : ", a write") + " (opcode " +
                    std::to_string(static_cast<int>(op->code)) + "), " +
                    std::to_string(ep->rx.size()) + " bytes unread here, " +
                    std::to_string(ep->in_flight) + " in flight to here";
    if (auto r = ep->remote.lock()) {
      l += ", the other end holds " + std::to_string(r->rx.size() + r->in_flight) + " of its " +
           std::to_string(r->window) + " window";
    }
    lines.emplace_back(ep->fd, l + "]");
  }
  std::sort(lines.begin(), lines.end());
  for (const auto& [fd, l] : lines) s += l;
  return s;
}

bool sim_network::deliver_one() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (events_.empty() || events_.top().at > now_) return false;
    // top() is const only to protect the order, which (at, seq) keeps.
    event e = std::move(const_cast<event&>(events_.top()));
    events_.pop();
    ++stats_.events;
    handle(e);
    settle();
  }
  wake_all();
  return true;
}

void sim_network::handle(event& e) {
  if (e.kind == event_kind::file) {
    auto it = pending_files_.find(e.op);
    if (it == pending_files_.end() || it->second != e.seq) return;  // cancelled
    pending_files_.erase(it);
    complete(*e.op, perform_file(*e.op));
    return;
  }
  sim_endpoint& t = *e.target;
  switch (e.kind) {
    case event_kind::syn: {
      sim_endpoint& c = *e.other;
      if (c.state != state_t::connecting) return;  // the client closed meanwhile
      if (t.state != state_t::listener) {
        schedule(event_kind::refused, e.other);
        return;
      }
      auto srv = std::make_shared<sim_endpoint>();
      srv->state = state_t::connected;
      srv->family = t.family;
      srv->local = c.peer;  // the address the client reached
      srv->local_len = c.peer_len;
      srv->peer = c.local;
      srv->peer_len = c.local_len;
      if (t.family == AF_INET6) {  // an IPv4 client of a dual-stack listener
        map_to_v6(srv->local, srv->local_len);
        map_to_v6(srv->peer, srv->peer_len);
      }
      srv->window = pick_window();
      c.window = pick_window();
      srv->remote = e.other;
      c.remote = srv;
      srv->last_arrival = now_;
      t.backlog.push_back(srv);
      schedule(event_kind::established, e.other);
      poke(e.target);
      return;
    }
    case event_kind::established:
      if (t.state != state_t::connecting) return;
      t.state = state_t::connected;
      poke(e.target);
      return;
    case event_kind::refused:
      if (t.state != state_t::connecting) return;
      t.state = state_t::fresh;
      t.connect_error = ECONNREFUSED;
      poke(e.target);
      return;
    case event_kind::data:
      t.in_flight -= e.bytes.size();
      if (t.state == state_t::closed) {
        // Bytes for a closed end: the sender is reset, as TCP answers them.
        if (e.other) schedule(event_kind::rst, e.other);
        return;
      }
      if (t.reset) return;  // lost with the connection
      t.rx.insert(t.rx.end(), e.bytes.begin(), e.bytes.end());
      poke(e.target);
      return;
    case event_kind::fin:
      if (t.state == state_t::closed) return;
      t.fin_received = true;
      poke(e.target);
      return;
    case event_kind::rst:
      if (t.state == state_t::closed || t.reset) return;
      t.reset = true;
      t.rx.clear();
      if (!t.readers.empty() || !t.writers.empty()) t.reset_reported = true;
      fail_waiters(t, -ECONNRESET);
      // The other end's writers waited for room in a window now emptied.
      if (auto r = t.remote.lock()) poke(r);
      return;
    case event_kind::retry:
      if (t.state != state_t::closed) poke(e.target);
      return;
    case event_kind::file:
      return;  // above
  }
}

}  // namespace weft::detail
