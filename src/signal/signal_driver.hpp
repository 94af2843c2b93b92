// signal_driver — the process-wide thread that turns POSIX signals into wakes
// (include/weft/signals.hpp is the interface and says what users see).
//
// Design
// ------
// - One driver per process, made on first use and never destroyed (it must
//   outlive every runtime and static destructor that might still await).
// - Its thread is created with every signal blocked and never unblocks one
//   (except to die of a second SIGINT). It polls a signalfd and an eventfd. A
//   signal pending on it therefore stays pending until the signalfd reads it,
//   and no handler ever runs on it (the forwarding handler cannot loop). As it
//   blocks everything from birth, its own mask never needs changing.
// - Using a signal number the first time (install): the caller marks it
//   requested and writes the eventfd; the driver thread adds it to the
//   signalfd's mask, *then* installs the forwarding handler with sigaction,
//   and the caller, waiting on a condition variable, returns once it is in
//   (or throws the errno). Mask first: a forwarded signal is then always one
//   the signalfd looks for, so its arrival wakes the poll. The mask is changed
//   on the driver thread because only that thread reads the signalfd: a
//   signalfd(2) update from another thread would race the read (and
//   ThreadSanitizer, which models it as re-creating the descriptor, says so).
// - The handler (any thread) saves errno and tgkill()s the driver thread.
// - deliver(): under mu_, every subscriber of the signal counts it; recv
//   awaiters are unlinked, listeners stay; then a waiting task's waker is
//   taken and woken (wake never runs the task inline, and the node is not
//   touched after it: a woken recv awaiter may be freed at once). Waking
//   under mu_ lets an awaiter's destructor unlink without waiting for anyone,
//   as the timer shards do.
// - Shutdown: shutdown_token() arms SIGINT/SIGTERM handling. The first of
//   them gives SIGINT back SIG_DFL, then cancels the process-wide source (its
//   callbacks run on this thread, outside mu_). A later SIGINT read here (one
//   that was forwarded before the reset) makes the driver unblock SIGINT and
//   tgkill itself with it: the process dies of SIGINT.
//
// Who touches what: mu_ guards the lists, the signalfd's mask, the install
// states and the shutdown flags; sfd_/efd_ are written before the thread
// starts; the thread id the handler reads is an atomic the driver thread
// writes before it installs any handler.
#pragma once

#include <weft/cancellation.hpp>
#include <weft/detail/sync_shim.hpp>
#include <weft/signals.hpp>

#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace weft::signals::detail {

class signal_driver {
 public:
  /// The driver, started on the first call. Throws std::system_error if the
  /// kernel refuses the signalfd or the thread.
  static signal_driver& instance();

  /// Install weft's handler for `signo` (already validated) unless done.
  void install(int signo);
  cancellation_token shutdown_token();

  void wait_once(signal_node& n, waker w) noexcept;
  void unlink(signal_node& n) noexcept;
  void link_listener(signal_node& n) noexcept;
  std::uint64_t take_or_wait(signal_node& n, waker w) noexcept;
  std::uint64_t take(signal_node& n) noexcept;
  std::uint64_t peek(const signal_node& n) noexcept;
  std::size_t subscriber_count(int signo) noexcept;

  signal_driver(const signal_driver&) = delete;
  signal_driver& operator=(const signal_driver&) = delete;

 private:
  signal_driver();
  ~signal_driver() = delete;  // lives as long as the process

  struct subscriber_list {
    signal_node* head = nullptr;
    signal_node* tail = nullptr;
    std::size_t count = 0;
  };

  enum class install_state : unsigned char { none, requested, installed, failed };

  [[noreturn]] void run() noexcept;
  void read_signals() noexcept;
  void install_requested() noexcept;
  void deliver(int signo) noexcept;
  [[noreturn]] static void die_by_sigint() noexcept;
  void link_locked(signal_node& n) noexcept;
  void unlink_locked(signal_node& n) noexcept;

  int sfd_ = -1;  // the signalfd; its mask changes only on the driver thread
  int efd_ = -1;  // eventfd: "install the requested signals"
  weft::detail::sync::atomic<std::uint64_t> wakes_{0};  // eventfd writes (statistic)
  weft::detail::sync::mutex mu_;
  weft::detail::sync::condition_variable changed_;  // an install finished or failed
  // Guarded by mu_:
  sigset_t mask_;  // the signalfd's
  install_state state_[NSIG] = {};
  int errors_[NSIG] = {};  // errno of the last failed install
  subscriber_list lists_[NSIG];
  bool shutdown_armed_ = false;  // shutdown_token() was called
  bool shutdown_seen_ = false;   // the first SIGINT/SIGTERM after that was read
  cancellation_source shutdown_;
};

}  // namespace weft::signals::detail
