// sim_network — the I/O driver of a simulation runtime: stream sockets
// (TCP, Unix) connected in memory, on virtual time, with seeded latency and
// seeded faults (weft::simulated_network); and, through the same operations
// and events, the in-memory file system (sim_files.hpp,
// weft::simulated_files).
//
// Design
// ------
// One sim_network per simulation runtime, shared by its virtual workers as
// their io_driver (io_driver.hpp) and owned through each worker's park driver,
// every registered socket, and pending event. Sockets keep real descriptors
// as their identity — a socket is made by socket(2) as on any runtime, bind(2)
// and listen(2) are real (so ports are unique and EADDRINUSE is the
// kernel's), an accepted connection gets a fresh unconnected socket(2) — but
// no byte crosses the kernel: the network keeps, per descriptor, an endpoint
// with its addresses, received bytes and waiting operations
// (sim_sockets.hpp: the process-wide table from descriptor to endpoint, which
// io_handle::close, shutdown and the address getters consult).
//
// Virtual time and the network actor: a send, a connection request, a FIN or
// a reset becomes an event that arrives 0…max_latency later, in order per
// receiving endpoint. The simulation (scheduler/simulation.cpp) counts the
// network as one more actor: when an event is due it may pick the network,
// which delivers the earliest one (one transition, like a worker's step);
// when no actor can act it moves virtual time to the earlier of the next
// timer and the next event. So every interleaving of deliveries and worker
// steps is one a seed can pick.
//
// A connection (each endpoint's `state`):
//
//   fresh ─connect─► connecting ─syn arrives at a listener─┐
//     │                  │                                  ▼
//     │                  │            server end queued on the listener's backlog
//     │                  │                     │ accept
//     │                  ◄─established event───┘ (connect completes: 0)
//     │                  ▼
//     │               connected ─rst event─► reset (ops fail: ECONNRESET once,
//     │                  │                          then 0 / EPIPE)
//     │                  └─close─► closed (the peer gets a FIN after the bytes
//     │                                    in flight, or a reset if unread
//     │                                    bytes were left here)
//     └─bind+listen (on_listen)─► listener ─close─► closed (queued server
//                                                   ends reset their clients)
//   connecting ─no listener at the address (refused event)─► fresh, connect
//                                                             fails ECONNREFUSED
//
// An operation (io_op::state), all under the network's lock:
//
//   idle ─start─┬─ performed at once (or refused) ─────────────────► completed
//               └─ must wait / a spurious wait ─► in_flight, linked on its
//                                                 endpoint's readers or writers
//   in_flight ─┬─ an event or another endpoint's op made it possible:
//              │  performed, unlinked ─────────────────────────────► completed
//              ├─ cancel (synchronous) / close: -ECANCELED ──────────► completed
//              └─ a reset: -ECONNRESET ─────────────────────────────► completed
//
// `completed` is stored under the lock; the waker is taken out first and
// woken after the lock is dropped (a wake never re-enters the network while
// it is held). cancel() therefore always finishes the op itself: it returns
// true, and wait_completed is never needed.
//
// A file operation (no socket: io_op::handle null) goes to the file system:
//
//   idle ─start─┬─ no latency drawn: performed at once ───────────► completed
//               └─ a `file` event due after the seeded latency ─► in_flight
//   in_flight ─┬─ the event is delivered: performed then ──────────► completed
//              └─ cancel: -ECANCELED, never performed (the event,
//                 found without its op, does nothing) ──────────────► completed
//
// Seeded faults (every draw from the network's generator, seeded from the
// runtime's rng_seed): latency per event; a window per connection direction;
// a write cut into segments; a short read or write; a spurious wait; a reset
// on a write; EMFILE on an accept. What is not modelled: UDP and other sockets the network did not
// make (their operations fail with errc::not_supported_in_simulation),
// out-of-band data, socket options (they go to the real, unconnected
// descriptor).
//
// Threads: a simulation is driven by one thread; the lock makes a stray call
// from another (a socket closed on another thread after the runtime is gone)
// safe, not deterministic.
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/detail/runtime_api.hpp>

#include "io/io_driver.hpp"
#include "io/io_op_list.hpp"
#include "io/sim_files.hpp"

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace weft::detail {

struct sim_endpoint;

class sim_network final : public io_driver, public std::enable_shared_from_this<sim_network> {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  sim_network(const simulated_network& options, const simulated_files& files,
              std::uint64_t seed);
  ~sim_network() override;
  sim_network(const sim_network&) = delete;
  sim_network& operator=(const sim_network&) = delete;

  // ---- io_driver ----
  bool start(io_op& op, std::coroutine_handle<> h, cancel_hook* hook) override;
  bool cancel(io_op& op) noexcept override;
  void wait_completed(io_op& op) noexcept override;
  [[nodiscard]] io_capabilities caps() const noexcept override;
  void on_listen(io_handle& h) noexcept override;
  void on_socket_pair(int a, int b) noexcept override;

  // ---- the simulation's side ----
  /// The virtual time operations and events are stamped with; the
  /// simulation sets it before each transition.
  void set_now(time_point now) noexcept;
  /// The virtual clock's start (the file system stamps times from it).
  void set_origin(time_point origin) noexcept;
  /// When the earliest pending event is due; nullopt if none.
  [[nodiscard]] std::optional<time_point> next_event() const;
  /// Deliver the earliest event if it is due. False if none is.
  bool deliver_one();
  /// For a stalled simulation's report: pending events, waiting operations.
  [[nodiscard]] std::string describe() const;

  // ---- sim_sockets.hpp (any thread) ----
  /// Close `ep` and forget its descriptor (before the caller closes it).
  void close_endpoint(const std::shared_ptr<sim_endpoint>& ep) noexcept;
  /// 0 or an errno.
  int shutdown_endpoint(const std::shared_ptr<sim_endpoint>& ep, int how) noexcept;
  /// Forget the simulated file open as `fd` (before the caller closes it).
  void close_file(int fd) noexcept;
  /// 0 or an errno; `len` in/out as getsockname(2)'s.
  int endpoint_name(const std::shared_ptr<sim_endpoint>& ep, bool peer, sockaddr* out,
                    socklen_t* len) const noexcept;

  /// Counters, for tests that check the faults really fired.
  struct stats {
    std::uint64_t events = 0, segmented = 0, short_ios = 0, spurious_waits = 0, resets = 0,
                  emfiles = 0;
  };
  [[nodiscard]] stats counters() const;
  [[nodiscard]] sim_file_system::stats file_counters() const;

 private:
  enum class event_kind : std::uint8_t { syn, established, refused, data, fin, rst, retry, file };
  struct event {
    time_point at;
    std::uint64_t seq;
    event_kind kind;
    std::shared_ptr<sim_endpoint> target;
    std::shared_ptr<sim_endpoint> other;  // syn: the connecting client
    std::vector<std::byte> bytes;         // data
    io_op* op = nullptr;                  // file: the operation, if still pending_files_'s
  };
  struct later {
    bool operator()(const event& a, const event& b) const noexcept {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  // What an op's attempt decided.
  static constexpr std::int32_t must_wait = INT32_MIN;

  // All under mu_. `done` collects ops completed here; wake_all wakes them
  // after the lock is dropped.
  bool start_file(io_op& op, std::coroutine_handle<> h);
  /// Perform a file op; an openat's descriptor is registered as a file.
  std::int32_t perform_file(io_op& op);
  std::int32_t perform(io_op& op, sim_endpoint& ep, bool first);
  std::int32_t do_recv(io_op& op, sim_endpoint& ep);
  std::int32_t do_send(io_op& op, sim_endpoint& ep);
  std::int32_t do_accept(io_op& op, sim_endpoint& ep);
  std::int32_t do_connect(io_op& op, const std::shared_ptr<sim_endpoint>& ep);
  /// Perform the waiting ops of `ep` that can go now, in order (readers,
  /// then writers). Only from settle().
  void run_lists(sim_endpoint& ep);
  /// `ep`'s waiting ops may be able to go: settle() will try them.
  void poke(const std::shared_ptr<sim_endpoint>& ep);
  /// Run the poked endpoints' lists until nothing more can go.
  void settle();
  void link(io_op& op, sim_endpoint& ep);
  void unlink(io_op& op, sim_endpoint& ep) noexcept;
  void complete(io_op& op, std::int32_t result);
  void fail_waiters(sim_endpoint& ep, std::int32_t result);
  void schedule(event_kind kind, const std::shared_ptr<sim_endpoint>& target,
                std::vector<std::byte> bytes = {}, std::shared_ptr<sim_endpoint> other = {});
  void handle(event& e);
  void reset_connection(sim_endpoint& ep);
  void close_locked(const std::shared_ptr<sim_endpoint>& ep);
  std::shared_ptr<sim_endpoint> find_listener(const sockaddr_storage& addr, socklen_t len) const;
  std::shared_ptr<sim_endpoint> endpoint_of(int fd) const;
  std::shared_ptr<sim_endpoint> register_listener(int fd);
  std::size_t pick_window();
  bool chance(unsigned per_mille);
  std::uint64_t next_random() noexcept;
  std::chrono::nanoseconds latency();
  void wake_all() noexcept;

  const simulated_network options_;
  mutable std::mutex mu_;
  std::uint64_t rng_;
  time_point now_{};
  std::uint64_t seq_ = 0;
  std::uint16_t next_port_ = 40000;
  std::priority_queue<event, std::vector<event>, later> events_;
  std::vector<std::shared_ptr<sim_endpoint>> listeners_;    // in bind order
  std::vector<std::pair<io_op*, waker>> to_wake_;           // filled under mu_, woken after
  std::deque<std::shared_ptr<sim_endpoint>> to_run_;        // poked, not yet settled
  std::unordered_map<const io_op*, sim_endpoint*> linked_;  // each waiting op's endpoint
  sim_file_system files_;
  std::unordered_map<const io_op*, std::uint64_t> pending_files_;  // op → its event's seq
  stats stats_;
};

}  // namespace weft::detail
