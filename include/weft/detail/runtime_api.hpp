// weft/detail/runtime_api.hpp — the runtime's non-template entry points.
//
// The public templates (spawn, block_on, sleep, spawn_blocking) build cells
// and awaiters inline; everything that touches the scheduler goes through
// these functions, implemented in src/.
#pragma once

#include <weft/detail/task_header.hpp>
#include <weft/detail/timer_entry.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace weft {
/// multi_thread: worker threads; current_thread: the block_on caller runs
/// everything; simulation: N virtual workers take turns on the block_on
/// caller in an order chosen by a seeded generator, with virtual time — the
/// multi-thread scheduler's own code, replayable from its seed
/// (weft/simulation.hpp).
enum class runtime_flavor { multi_thread, current_thread, simulation };

/// The kernel interface a runtime's workers wait (and, with the I/O layer,
/// do their I/O) through.
/// simulated: a simulation runtime's in-memory network and file system
/// (sockets connect, send and receive in memory, files are read and written
/// in memory, on virtual time, with seeded latency and faults:
/// weft::simulated_network, weft::simulated_files); other I/O there (pipes,
/// UDP) fails with errc::not_supported_in_simulation.
enum class io_backend { io_uring, epoll, simulated };

/// A simulation runtime's in-memory network (runtime_builder::
/// simulated_network, simulation_options::network): how late a segment may
/// arrive and which faults the seed may inject. Every choice comes from the
/// runtime's rng_seed, so a seed replays the same latencies and faults.
/// A fault is injected with probability per_mille / 1000 at each chance.
struct simulated_network {
  /// A segment, a connection request or a FIN arrives 0…max_latency after it
  /// was sent (in order per direction). 0…1 s.
  std::chrono::nanoseconds max_latency{std::chrono::microseconds(200)};
  /// Each direction of a connection buffers min_window…max_window bytes
  /// (sent, not yet read; chosen per connection): a writer past it waits,
  /// or writes short. 1…16 MiB, min_window <= max_window.
  std::size_t min_window = 1024;
  std::size_t max_window = 65536;
  /// A write's bytes travel as several segments (2 to 4, cut at seeded
  /// points), each with its own latency, so a reader may find any prefix of
  /// them: what a real network does to a message.
  unsigned segment_per_mille = 250;
  /// A read or write moves fewer bytes than it could (at least one) even
  /// though more were there or there was room: legal for a socket, though a
  /// kernel rarely does it to a small message. Off by default: tests of code
  /// that must survive it (read_exact, write_all) turn it on.
  unsigned short_io_per_mille = 0;
  /// An operation that could complete at once waits instead (the EAGAIN a
  /// readiness backend sees), and completes when the network next acts.
  unsigned spurious_wait_per_mille = 100;
  /// A write resets its connection: both ends' operations fail with
  /// ECONNRESET (then end of stream, or EPIPE for a write). Off by default:
  /// it changes what a correct program computes.
  unsigned reset_per_mille = 0;
  /// An accept fails with EMFILE while a connection waits (as a process
  /// out of descriptors); the connection stays queued. Off by default.
  unsigned accept_emfile_per_mille = 0;
};

/// A simulation runtime's in-memory file system (runtime_builder::
/// simulated_files, simulation_options::files): weft::fs on a simulation
/// runtime reads and writes it, never the disk. Each runtime starts with an
/// empty tree holding the directories / and /tmp; a path resolves from / (a
/// relative one too). Not modelled: permissions, symlinks, hard links, the
/// umask, and what a crash would lose (an fsync succeeds or fails by seed,
/// but written bytes are always there). A file holds at most 1 GiB. Every
/// choice comes from the runtime's rng_seed, with probability per_mille /
/// 1000 at each chance.
struct simulated_files {
  /// An operation completes 0…max_latency after it starts, and takes effect
  /// then (so two tasks' operations interleave as the seed picks). 0…1 s.
  std::chrono::nanoseconds max_latency{std::chrono::microseconds(100)};
  /// A read or write moves fewer bytes than it could (at least one), as a
  /// kernel may. Off by default: tests of code that must survive it turn
  /// it on.
  unsigned short_io_per_mille = 0;
  /// A read, a write or an fsync fails with EIO and moves nothing. Off by
  /// default: it changes what a correct program computes.
  unsigned io_error_per_mille = 0;
};

/// What runtime_builder::io_backend asks for. automatic: io_uring if the
/// kernel allows it (not ENOSYS/EPERM from seccomp/memlock limits), else
/// epoll; the environment variable WEFT_IO_BACKEND=io_uring|epoll|auto
/// decides when the builder leaves it automatic.
enum class io_backend_choice { automatic, io_uring, epoll };
}

namespace weft::detail {

class runtime_core;

struct runtime_config {
  runtime_flavor flavor = runtime_flavor::multi_thread;
  std::size_t worker_threads = 0;  // 0: one per CPU
  std::string thread_name_prefix = "weft-worker";
  std::size_t max_blocking_threads = 512;
  std::chrono::nanoseconds blocking_keep_alive{std::chrono::seconds(10)};
  std::chrono::nanoseconds shutdown_timeout{std::chrono::seconds(1)};
  std::uint32_t event_interval = 61;  // ticks between inject/timer checks
  std::uint32_t max_lifo_polls = 3;   // LIFO-slot polls in a row
  std::uint64_t rng_seed = 0x9e3779b97f4a7c15ull;  // victim choice when stealing
  bool start_paused = false;  // virtual time (current_thread; simulation always)
  io_backend_choice io = io_backend_choice::automatic;
  bool io_set_by_builder = false;  // else WEFT_IO_BACKEND decides
  simulated_network network;       // simulation only
  bool network_set_by_builder = false;
  simulated_files files;           // simulation only
  bool files_set_by_builder = false;
  std::function<void()> on_thread_start;
  std::function<void()> on_thread_stop;
};

/// A scheduler role as the runtime sees it: a child core of `threads`
/// workers named NAME-N, with its own thread hooks (runtime_builder::
/// scheduler_role validates it).
struct role_spec {
  std::string name;
  std::size_t threads = 1;
  std::function<void()> on_thread_start;
  std::function<void()> on_thread_stop;
};

/// A started runtime with one child core per role. Throws what starting a
/// core throws (nothing is left running then).
runtime_core* runtime_create(const runtime_config& cfg, const std::vector<role_spec>& roles = {});
/// True on a thread of `rt` or of one of its child cores (a worker, a
/// blocking-pool thread): shutting `rt` down there would wait for itself.
bool runtime_runs_here(const runtime_core* rt) noexcept;
void runtime_release(runtime_core* rt) noexcept;
const runtime_config& runtime_get_config(const runtime_core* rt) noexcept;
io_backend runtime_io_backend(const runtime_core* rt) noexcept;

/// Bind a fresh cell (its creator's reference becomes the join handle's) to
/// `rt`, register it as owned and schedule it. If the runtime refuses new work
/// the cell is destroyed and std::system_error(errc::runtime_shut_down) thrown.
void runtime_spawn(runtime_core* rt, task_header* t);

/// As runtime_spawn, onto the blocking pool: the cell runs to completion on a
/// blocking thread.
void runtime_spawn_blocking(runtime_core* rt, task_header* t);

/// Current-thread flavour: drive the runtime on this thread until `t` is
/// complete.
void runtime_run_until_complete(runtime_core* rt, task_header* t);

/// Shut the runtime down: its dispatchers, its child cores (roles,
/// thread-blocking dispatchers' cores), then itself — stop accepting work,
/// wait up to `timeout` (for all of it) for tasks, destroy the rest.
void runtime_shutdown(runtime_core* rt, std::chrono::nanoseconds timeout) noexcept;

/// Wait up to `timeout` for every task to finish; true if they did.
bool runtime_wait_idle(runtime_core* rt, std::chrono::nanoseconds timeout) noexcept;

/// The runtime of this worker thread; throws errc::no_runtime with `what`
/// when there is none.
runtime_core& runtime_for(const char* what);

/// Register `e` (deadline in the runtime's ticks) on this worker's timer wheel.
/// Returns false if the deadline has already passed (nothing registered).
/// `shard` receives the wheel it was linked to (for cancel).
struct timer_shard;
bool timer_register(runtime_core& rt, timer_entry& e, timer_shard*& shard);
/// Unlink `e` from `shard` if it is still linked. Safe from any thread.
/// Returns true if it was unlinked (so it will never fire).
bool timer_cancel(timer_shard* shard, timer_entry& e) noexcept;
/// The runtime's tick (ms since start, rounded up) for a steady_clock time.
std::uint64_t timer_tick_for(const runtime_core& rt, std::chrono::steady_clock::time_point tp);

}  // namespace weft::detail
