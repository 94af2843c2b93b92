// epoll_driver — implementation. The protocol and the thread rules are in
// epoll_driver.hpp.
#include "io/epoll_driver.hpp"
#include "io/io_source.hpp"
#include "support/fault_injection.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/zero_copy_send.hpp>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <ctime>
#include <mutex>
#include <utility>
#include <system_error>
#include <thread>

namespace weft::detail {
namespace {

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

}  // namespace

epoll_driver::epoll_driver(scheduler* owner) : owner_(owner) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno(errno, "epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: see the header
  ev.data.u64 = eventfd_tag;
  if (fault::or_errno(fault::site::epoll_ctl, [&] {
        return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, parker_.fd(), &ev);
      }) < 0) {
    const int err = errno;
    ::close(epoll_fd_);
    throw_errno(err, "epoll_ctl(EPOLL_CTL_ADD, eventfd)");
  }
}

epoll_driver::~epoll_driver() {
  free_retired();
  ::close(epoll_fd_);
}

io_source* epoll_driver::source_for(io_handle& h) {
  // ORDERING: acquire: pairs with the release of the CAS that published the
  // source (its registration is complete).
  io_source* s = h.source.load(std::memory_order_acquire);
  if (s != nullptr) return s;
  auto* fresh = new io_source(h.fd, *this, *owner_);
  // ORDERING: acq_rel: release publishes the new source; acquire on failure
  // sees the winner's.
  if (h.source.compare_exchange_strong(s, fresh, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
    return fresh;
  }
  fresh->retire();  // another task registered it first (on another worker)
  return s;
}

bool epoll_driver::start(io_op& op, std::coroutine_handle<> h, cancel_hook* /*hook*/) {
  if (op.handle == nullptr || owner_ == nullptr) {
    // File-system ops never reach here (weft::fs uses the blocking pool on
    // this backend: caps().file_ops is false); refuse rather than block a
    // worker.
    op.result = -EOPNOTSUPP;
    // ORDERING: relaxed: the op never left this thread.
    op.state.store(io_op::completed, std::memory_order_relaxed);
    return false;
  }
  if (op.code == io_opcode::send_zc) zero_copy_count_send(false);  // epoll sends a copy
  // Registers the descriptor with this epoll the first time (throws
  // std::system_error if epoll_ctl refuses: io_start fails the op with it).
  // No cancel hook: cancel() unlinks a waiting op synchronously.
  return source_for(*op.handle)->start(op, h);
}

void epoll_driver::wait_completed(io_op& op) noexcept {
  while (!op.is_completed()) std::this_thread::yield();
}

void epoll_driver::retire(io_source* s) noexcept {
  std::lock_guard<sync::spin_mutex> lock(retired_mu_);
  s->retired_next_ = retired_;
  retired_ = s;
}

bool epoll_driver::cancel(io_op& op) noexcept {
  {
    std::lock_guard<sync::spin_mutex> lock(retired_mu_);
    // Not completed under this lock: retire() completes every op of its
    // source before handing the source over (retire above, same lock), and
    // free_retired takes the list under this lock too, so op.source is not
    // freed before the lock is dropped. Through the op's own source, not
    // op.handle->source: a close in progress has nulled that and is about
    // to complete the op itself.
    if (op.is_completed()) return true;
    if (op.source->try_cancel(op)) return true;
  }
  // `completing`: the event side or retire() publishes it next (no blocking
  // call in between on its side); the source is not touched again.
  wait_completed(op);
  return true;
}

void epoll_driver::free_retired() noexcept {
  io_source* list = nullptr;
  {
    std::lock_guard<sync::spin_mutex> lock(retired_mu_);
    list = std::exchange(retired_, nullptr);
  }
  while (list != nullptr) {
    io_source* next = list->retired_next_;
    io_source::destroy(list);
    list = next;
  }
}

bool epoll_driver::poll() { return wait_once(std::chrono::nanoseconds{0}); }

bool epoll_driver::wait_once(std::optional<std::chrono::nanoseconds> timeout) {
  // Sources retired before this point were deregistered before this wait:
  // it cannot report them, and the previous wait's events are all handled.
  free_retired();
  constexpr int max_events = 32;
  std::array<epoll_event, max_events> events{};
  int n = -1;
  if (timeout && use_pwait2_) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout->count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout->count() % 1'000'000'000);
    n = ::epoll_pwait2(epoll_fd_, events.data(), max_events, &ts, nullptr);
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
      use_pwait2_ = false;  // kernel before 5.11, or a policy that forbids it
      return false;         // the caller loops; the next wait uses epoll_wait
    }
  } else {
    n = ::epoll_wait(epoll_fd_, events.data(), max_events,
                     timeout ? poll_timeout_ms(*timeout) : -1);
  }
  if (n < 0) {
    if (errno == EINTR) return false;
    throw_errno(errno, "epoll_wait");
  }
  bool delivered = false;
  for (int i = 0; i < n; ++i) {
    if (events[static_cast<std::size_t>(i)].data.u64 == eventfd_tag) {
      parker_.drain();
      continue;
    }
    const epoll_event& ev = events[static_cast<std::size_t>(i)];
    if (sink_ != nullptr) {
      sink_(sink_context_, ev);
    } else {
      static_cast<io_source*>(ev.data.ptr)->on_event(ev.events);
    }
    delivered = true;
  }
  return delivered;
}

void epoll_driver::park(std::optional<std::chrono::nanoseconds> timeout) {
  parker_.token().park_with(
      timeout, [] {}, [this] { (void)wait_once(std::chrono::nanoseconds{0}); },
      [this](std::optional<std::chrono::nanoseconds> left) {
        if (!hooks.active()) return wait_once(left);
        // The epoll descriptor is readable while any source it watches is:
        // the hook watches it for the runtime's own I/O.
        if (wait_once(std::chrono::nanoseconds{0})) return true;
        hooks.block(park_request{left, epoll_fd_});
        (void)wait_once(std::chrono::nanoseconds{0});
        // The park ends after every block: callbacks the hook dispatched may
        // have woken tasks on this thread, which does not unpark it (bug 23,
        // as in uring_driver::wait_in_hook).
        return true;
      });
}

void epoll_driver::unpark() noexcept { parker_.unpark(hooks); }

std::uint64_t epoll_driver::eventfd_writes() const noexcept { return parker_.eventfd_writes(); }

bool epoll_driver::parked() const noexcept { return parker_.parked(); }

void epoll_driver::set_readiness_sink(readiness_sink sink, void* context) noexcept {
  sink_ = sink;
  sink_context_ = context;
}

}  // namespace weft::detail
