// weft/signals.hpp — awaiting POSIX signals: recv, listener, shutdown_token.
//
//   co_await weft::signals::recv(SIGUSR1);        // the next SIGUSR1
//
//   weft::signals::listener hup(SIGHUP);           // counts from here on
//   for (;;) { co_await hup.recv(); reload(); }    // none lost between awaits
//
//   auto stop = weft::signals::shutdown_token();   // cancelled by SIGINT/SIGTERM
//   co_await stop.cancelled();
//
// How it works (src/signal/signal_driver.{hpp,cpp}): one process-wide driver,
// started on first use, is a thread polling a signalfd. That thread blocks
// every signal from birth (it is created with all signals blocked), so a
// signal sent to it stays pending for the signalfd. User threads and runtime
// workers keep their masks. When a signal number is first used, the driver
// thread adds it to the signalfd's mask and then installs, with sigaction, a
// small async-signal-safe handler that forwards the signal to the driver
// thread (tgkill); the driver thread reads it and wakes the waiting tasks.
//
// - completes with: recv: nothing (void), once the signal arrives *after* the
//   await started. Signals are not queued for future awaiters: one that
//   arrives while nobody waits is gone (use a listener to keep count). One
//   delivery wakes every task awaiting that signal. listener::recv: the number
//   of deliveries since the previous recv (at least 1); it completes at once
//   if some are counted already.
// - counting: the kernel merges a standard signal sent again before it was
//   delivered (as always with POSIX signals); real-time signals
//   (SIGRTMIN+n) are queued, so each one counts.
// - cancellation: destroying the waiting coroutine (weft::timeout, runtime
//   shutdown) unlinks the awaiter; a later signal does not touch it.
// - resumes on: the awaiting task's runtime (a worker, or its block_on
//   thread), through its waker; never on the driver thread.
// - runtime shutdown: waiting tasks are destroyed with their awaiters
//   unlinked. The driver is process-wide and outlives every runtime; it is
//   never stopped.
// - allocation: none per wait (each awaiter and listener is an intrusive list
//   node); the driver allocates once, at first use.
// - other handlers: weft *replaces* the disposition of every signal it is
//   asked for, for the rest of the process (a handler installed before is not
//   called; one installed later with sigaction takes the signal away from
//   weft). Do not also wait for those signals with sigwait/signalfd.
// - fork: a child made with fork() (without exec) has no driver thread; it
//   must not rely on weft's signals. exec resets the dispositions as usual.
// - ThreadSanitizer runs a handler only when the receiving thread enters a
//   call it intercepts; a process-directed signal that lands on a thread
//   parked in a raw system call (a weft worker in io_uring_enter or futex)
//   is forwarded late. Tests that need it prompt send it with raise(), or
//   leave SIGINT/SIGTERM unblocked only in a thread that waits in an
//   intercepted call (tests/signal/signal_child_shutdown.cpp).
// - accepted signals: 1…SIGRTMAX except SIGKILL and SIGSTOP (cannot be
//   caught), the synchronous SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and
//   SIGSYS (raised by the faulting thread itself), and the real-time signals
//   below SIGRTMIN (reserved by the C library). Anything else throws
//   std::system_error(std::errc::invalid_argument) saying so.
#pragma once

#include <weft/cancellation.hpp>
#include <weft/waker.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>

namespace weft::signals {

namespace detail {

/// A subscriber in the driver's list for one signal: a recv awaiter (woken
/// once, then unlinked) or a listener (stays linked and counts). Lives in the
/// awaiter or listener; all fields are guarded by the driver's mutex.
struct signal_node {
  signal_node(int signo, bool counting) noexcept : signo_(signo), counting_(counting) {}
  signal_node(const signal_node&) = delete;
  signal_node& operator=(const signal_node&) = delete;

  signal_node* prev_ = nullptr;
  signal_node* next_ = nullptr;
  const int signo_;
  const bool counting_;  // a listener's node: stays linked when delivered to
  bool linked_ = false;
  std::uint64_t count_ = 0;  // deliveries not yet taken
  waker waker_;              // the waiting task, if one waits
};

/// Check `signo` (throws std::system_error(std::errc::invalid_argument)),
/// start the driver if needed, and install weft's handler for `signo` if it
/// is not yet. Throws std::system_error if the kernel refuses.
void subscribe(int signo);

/// Link `n` with `w` as its waiting task (a recv awaiter).
void wait_once(signal_node& n, waker w) noexcept;
/// Unlink `n` if linked, dropping its waker.
void unlink(signal_node& n) noexcept;
/// Link a listener's node (counting from now).
void link_listener(signal_node& n) noexcept;
/// A listener's await: take the count if it is not zero; else store `w` and
/// return 0 (the driver wakes it on the next delivery).
std::uint64_t take_or_wait(signal_node& n, waker w) noexcept;
/// Take a listener's count (0 if none) and drop its waker.
std::uint64_t take(signal_node& n) noexcept;
/// A listener's count, without taking it.
std::uint64_t peek(signal_node& n) noexcept;

/// Test and diagnostic accessor: how many recv awaiters and listeners are
/// linked for `signo`.
std::size_t subscriber_count(int signo) noexcept;

}  // namespace detail

/// The awaitable returned by recv(signo). See the file comment.
class [[nodiscard]] recv_awaiter {
 public:
  /// Prefer weft::signals::recv(signo), which checks `signo` and installs the
  /// handler when it is called, so the await itself cannot fail.
  explicit recv_awaiter(int signo) : node_(signo, /*counting=*/false) { detail::subscribe(signo); }
  recv_awaiter(const recv_awaiter&) = delete;
  recv_awaiter& operator=(const recv_awaiter&) = delete;
  ~recv_awaiter() {
    if (waiting_) detail::unlink(node_);  // destroyed while waiting
  }

  bool await_ready() const noexcept { return false; }  // only signals from now on
  void await_suspend(std::coroutine_handle<> h) {
    detail::wait_once(node_, suspend_current(h));
    waiting_ = true;  // the task cannot resume before this step ends
  }
  void await_resume() noexcept { waiting_ = false; }  // the driver unlinked us

 private:
  detail::signal_node node_;
  bool waiting_ = false;
};

/// Wait for the next delivery of `signo` after the await starts. Throws
/// std::system_error(std::errc::invalid_argument) for a signal that cannot be
/// awaited (see the file comment).
inline recv_awaiter recv(int signo) {
  return recv_awaiter{signo};
}

/// A long-lived subscription: counts every delivery of its signal from its
/// construction on, so none is lost while the task is busy between awaits.
/// Not copyable or movable (the driver links it). At most one task may await
/// it at a time; destroy it only when no task awaits it.
class listener {
 public:
  /// Subscribe to `signo` (validated as recv does; throws likewise).
  explicit listener(int signo) : node_(signo, /*counting=*/true) {
    detail::subscribe(signo);
    detail::link_listener(node_);
  }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener() { detail::unlink(node_); }

  [[nodiscard]] int signal() const noexcept { return node_.signo_; }

  /// Deliveries counted and not yet taken by recv().
  [[nodiscard]] std::uint64_t pending() const noexcept { return detail::peek(node_); }

  class [[nodiscard]] awaiter {
   public:
    explicit awaiter(listener& l) noexcept : l_(l) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter() {
      if (waiting_) (void)detail::take(l_.node_);  // destroyed while waiting: drop the waker
    }
    bool await_ready() noexcept {
      taken_ = detail::take(l_.node_);
      return taken_ != 0;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      taken_ = detail::take_or_wait(l_.node_, suspend_current(h));
      waiting_ = taken_ == 0;
      return waiting_;
    }
    /// Deliveries since the previous recv (at least 1).
    std::uint64_t await_resume() noexcept {
      if (waiting_) {
        waiting_ = false;
        taken_ = detail::take(l_.node_);
      }
      return taken_;
    }

   private:
    listener& l_;
    std::uint64_t taken_ = 0;
    bool waiting_ = false;
  };

  /// Wait until at least one delivery is counted; returns how many were, and
  /// resets the count. Completes at once if some are counted already.
  awaiter recv() noexcept { return awaiter{*this}; }

 private:
  mutable detail::signal_node node_;
};

/// The process-wide shutdown token: the same token on every call, cancelled
/// on the first SIGINT or SIGTERM that arrives after the first call (which
/// installs weft's handlers for both). After that first signal, SIGINT is
/// given back its default disposition: a second SIGINT kills the process (it
/// dies of SIGINT, as a user pressing Ctrl-C twice expects), even if nothing
/// watches the token. Callbacks registered on the token run on the signal
/// driver's thread; keep them short.
cancellation_token shutdown_token();

}  // namespace weft::signals
