// signal_driver — see signal_driver.hpp for the design; the public side is
// include/weft/signals.hpp.
#include "signal/signal_driver.hpp"

#include "io/eventfd_parker.hpp"
#include "support/fault_injection.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

namespace weft::signals::detail {

namespace {

namespace sync = weft::detail::sync;

// The driver thread's id, for the handler. Written once, before any handler
// is installed; read in signal handlers, so it must be lock-free.
sync::atomic<pid_t> driver_tid{0};
static_assert(sync::atomic<pid_t>::is_always_lock_free, "read in a signal handler");

/// The handler weft installs: forward the signal to the driver thread, where
/// it is blocked and the signalfd reads it. Async-signal-safe: getpid and
/// tgkill are system calls, the atomic is lock-free; errno is restored.
void forward_to_driver(int signo) {
  const int saved_errno = errno;
  // ORDERING: acquire: pairs with the release store at the start of run();
  // the driver thread installs every handler after that store.
  const pid_t tid = driver_tid.load(std::memory_order_acquire);
  (void)::tgkill(::getpid(), tid, signo);
  errno = saved_errno;
}

[[noreturn]] void fatal(const char* what) noexcept {
  std::fprintf(stderr, "weft: signal driver: %s failed (errno %d); cannot continue\n", what, errno);
  std::abort();
}

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

bool is_synchronous(int signo) noexcept {
  switch (signo) {
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
      return true;
    default:
      return false;
  }
}

void check_signal(int signo) {
  const bool ok = signo >= 1 && signo <= SIGRTMAX && signo != SIGKILL && signo != SIGSTOP &&
                  !is_synchronous(signo) && !(signo >= __SIGRTMIN && signo < SIGRTMIN);
  if (ok) return;
  const std::string msg =
      "weft::signals: signal " + std::to_string(signo) + " cannot be awaited. Accepted: 1.." +
      std::to_string(SIGRTMAX) +
      " except SIGKILL and SIGSTOP (cannot be caught), SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP "
      "and SIGSYS (synchronous: they go to the faulting thread; use sigaction for those), and " +
      std::to_string(__SIGRTMIN) + ".." + std::to_string(SIGRTMIN - 1) +
      " (reserved by the C library; use SIGRTMIN+n for real-time signals)";
  throw std::system_error(std::make_error_code(std::errc::invalid_argument), msg);
}

}  // namespace

signal_driver& signal_driver::instance() {
  // Made once (a throw leaves it unmade: the next call tries again) and never
  // destroyed: tasks may await signals until the process ends.
  static signal_driver* const driver = new signal_driver();
  return *driver;
}

signal_driver::signal_driver() {
  sigemptyset(&mask_);
  sfd_ = ::signalfd(-1, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd_ < 0) throw_errno("weft::signals: signalfd");
  efd_ = weft::detail::fault::or_errno(weft::detail::fault::site::eventfd,
                                       [] { return ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); });
  if (efd_ < 0) {
    const int e = errno;
    ::close(sfd_);
    errno = e;
    throw_errno("weft::signals: eventfd");
  }
  // The thread inherits this thread's mask: block everything around its
  // creation, so it never has a signal unblocked, then restore ours.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  try {
    sync::thread t([this] { run(); });
    pthread_setname_np(t.native_handle(), "weft-signal");
    t.detach();
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(sfd_);
    ::close(efd_);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void signal_driver::run() noexcept {
  // ORDERING: release: pairs with the handler's acquire load. Every handler
  // is installed later by this thread (install_requested), so it finds the id.
  driver_tid.store(::gettid(), std::memory_order_release);
  pollfd fds[2] = {{sfd_, POLLIN, 0}, {efd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fatal("poll");
    }
    if ((fds[1].revents & POLLIN) != 0) {
      std::uint64_t ignored = 0;
      (void)::read(efd_, &ignored, sizeof ignored);  // reset: level-triggered poll
      install_requested();
    }
    if ((fds[0].revents & POLLIN) != 0) read_signals();
  }
}

void signal_driver::read_signals() noexcept {
  signalfd_siginfo infos[16];
  for (;;) {
    const ssize_t n = ::read(sfd_, infos, sizeof infos);
    if (n < 0) {
      if (errno == EAGAIN) return;  // all read
      if (errno == EINTR) continue;
      fatal("read(signalfd)");
    }
    const auto count = static_cast<std::size_t>(n) / sizeof(signalfd_siginfo);
    for (std::size_t i = 0; i < count; ++i) deliver(static_cast<int>(infos[i].ssi_signo));
  }
}

void signal_driver::install(int signo) {
  sync::unique_lock<sync::mutex> lock(mu_);
  if (state_[signo] == install_state::installed) return;
  if (state_[signo] != install_state::requested) {  // none, or failed before: (re)try
    state_[signo] = install_state::requested;
    lock.unlock();
    weft::detail::eventfd_signal(efd_, wakes_);  // the driver thread installs it
    lock.lock();
  }
  changed_.wait(lock, [&] { return state_[signo] != install_state::requested; });
  if (state_[signo] == install_state::installed) return;
  errno = errors_[signo];  // every caller waiting for this attempt throws its errno
  throw_errno("weft::signals: installing the signal handler");
}

void signal_driver::install_requested() noexcept {
  // On the driver thread, which alone reads the signalfd: changing its mask
  // here never races a read of it.
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    for (int signo = 1; signo < NSIG; ++signo) {
      if (state_[signo] != install_state::requested) continue;
      // The signalfd's mask first (see the file comment of signal_driver.hpp).
      sigaddset(&mask_, signo);
      struct sigaction sa = {};
      sa.sa_handler = &forward_to_driver;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;  // threads interrupted by the forwarding go on
      if (::signalfd(sfd_, &mask_, 0) < 0 || ::sigaction(signo, &sa, nullptr) != 0) {
        errors_[signo] = errno;
        sigdelset(&mask_, signo);
        (void)::signalfd(sfd_, &mask_, 0);
        state_[signo] = install_state::failed;
        continue;
      }
      state_[signo] = install_state::installed;
    }
  }
  changed_.notify_all();
}

cancellation_token signal_driver::shutdown_token() {
  {
    // Armed before the handlers go in: no SIGINT/SIGTERM slips through
    // unnoticed in between.
    sync::lock_guard<sync::mutex> lock(mu_);
    shutdown_armed_ = true;
  }
  install(SIGINT);
  install(SIGTERM);
  return shutdown_.token();
}

void signal_driver::deliver(int signo) noexcept {
  bool first_shutdown_signal = false;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (shutdown_armed_ && (signo == SIGINT || signo == SIGTERM)) {
      if (shutdown_seen_) {
        if (signo == SIGINT) die_by_sigint();
      } else {
        shutdown_seen_ = true;
        first_shutdown_signal = true;
        // From now on the kernel kills the process on SIGINT by itself.
        struct sigaction dfl = {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        if (::sigaction(SIGINT, &dfl, nullptr) != 0) fatal("sigaction(SIGINT, SIG_DFL)");
      }
    }
    subscriber_list& l = lists_[signo];
    for (signal_node* n = l.head; n != nullptr;) {
      signal_node* const next = n->next_;
      ++n->count_;
      waker w = std::move(n->waker_);
      // Unlink before the wake: a recv awaiter's task may resume and free
      // the node as soon as it is woken (its destructor sees it unlinked and
      // takes no lock), so the node is not touched after wake().
      if (!n->counting_) unlink_locked(*n);
      if (w) w.wake();  // schedules only; the task runs later, elsewhere
      n = next;
    }
  }
  // Outside mu_: the token's callbacks may do anything, even await signals.
  if (first_shutdown_signal) shutdown_.cancel();
}

void signal_driver::die_by_sigint() noexcept {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGINT, &dfl, nullptr);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
  (void)::tgkill(::getpid(), ::gettid(), SIGINT);  // the default action: the process dies
  std::_Exit(128 + SIGINT);                        // not reached
}

void signal_driver::link_locked(signal_node& n) noexcept {
  subscriber_list& l = lists_[n.signo_];
  n.prev_ = l.tail;
  n.next_ = nullptr;
  if (l.tail != nullptr) {
    l.tail->next_ = &n;
  } else {
    l.head = &n;
  }
  l.tail = &n;
  n.linked_ = true;
  ++l.count;
}

void signal_driver::unlink_locked(signal_node& n) noexcept {
  subscriber_list& l = lists_[n.signo_];
  if (n.prev_ != nullptr) {
    n.prev_->next_ = n.next_;
  } else {
    l.head = n.next_;
  }
  if (n.next_ != nullptr) {
    n.next_->prev_ = n.prev_;
  } else {
    l.tail = n.prev_;
  }
  n.prev_ = nullptr;
  n.next_ = nullptr;
  n.linked_ = false;
  --l.count;
}

void signal_driver::wait_once(signal_node& n, waker w) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  n.waker_ = std::move(w);
  link_locked(n);
}

void signal_driver::unlink(signal_node& n) noexcept {
  waker dropped;  // destroyed after the lock is released
  sync::lock_guard<sync::mutex> lock(mu_);
  if (n.linked_) unlink_locked(n);
  dropped = std::move(n.waker_);
}

void signal_driver::link_listener(signal_node& n) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  link_locked(n);
}

std::uint64_t signal_driver::take_or_wait(signal_node& n, waker w) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  if (n.count_ == 0) {
    n.waker_ = std::move(w);
    return 0;
  }
  return std::exchange(n.count_, 0);  // `w` is dropped: the task goes on at once
}

std::uint64_t signal_driver::take(signal_node& n) noexcept {
  waker dropped;
  sync::lock_guard<sync::mutex> lock(mu_);
  dropped = std::move(n.waker_);
  return std::exchange(n.count_, 0);
}

std::uint64_t signal_driver::peek(const signal_node& n) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  return n.count_;
}

std::size_t signal_driver::subscriber_count(int signo) noexcept {
  sync::lock_guard<sync::mutex> lock(mu_);
  return signo >= 1 && signo < NSIG ? lists_[signo].count : 0;
}

// ---- the functions weft/signals.hpp declares --------------------------------

void subscribe(int signo) {
  check_signal(signo);
  signal_driver::instance().install(signo);
}

// These run only for nodes of a subscribed signal: the driver exists.
void wait_once(signal_node& n, waker w) noexcept {
  signal_driver::instance().wait_once(n, std::move(w));
}
void unlink(signal_node& n) noexcept {
  signal_driver::instance().unlink(n);
}
void link_listener(signal_node& n) noexcept {
  signal_driver::instance().link_listener(n);
}
std::uint64_t take_or_wait(signal_node& n, waker w) noexcept {
  return signal_driver::instance().take_or_wait(n, std::move(w));
}
std::uint64_t take(signal_node& n) noexcept {
  return signal_driver::instance().take(n);
}
std::uint64_t peek(signal_node& n) noexcept {
  return signal_driver::instance().peek(n);
}

std::size_t subscriber_count(int signo) noexcept {
  try {
    return signal_driver::instance().subscriber_count(signo);
  } catch (...) {
    return 0;  // no driver could be started: nothing subscribed
  }
}

}  // namespace weft::signals::detail

namespace weft::signals {

cancellation_token shutdown_token() {
  return detail::signal_driver::instance().shutdown_token();
}

}  // namespace weft::signals
