// fault_injection — system calls that fail on a seeded schedule (tests only).
//
// What it is
//   A process-wide table of *sites*: places next to a system call in weft's
//   drivers (the io_uring_enter of every liburing submit, io_uring_get_sqe,
//   ring setup, accept, eventfd, epoll_ctl, the ring's mmap). A test arms a
//   site with a schedule; the driver asks the site before making the call and,
//   when the schedule says "fail", skips the call and fails exactly as the
//   real call would (the same return value and errno convention), so the code
//   under test takes its real error path:
//
//     if (const int err = fault::inject(fault::site::accept)) { errno = err; n = -1; }
//     else n = ::accept4(...);
//
// Why a hook and not LD_PRELOAD: liburing's submit and get_sqe are inline
// and issue the io_uring_enter system call directly, so no interposed
// library function is ever called for them.
//
// Compiled in every build, not only with WEFT_TEST_POINTS: disarmed, a site
// costs one relaxed atomic load and a predicted branch next to a system call
// (hundreds of nanoseconds), and the code that ships is the code the fault
// tests run. It is not public API: the header lives in src/ (tests include
// it through their src/ include path); nothing in include/weft reaches it.
//
// Schedule (per site, see fault_schedule): the first `skip` calls after
// arming pass; after that each call fails with `probability` (drawn from a
// PRNG seeded with `seed`, so a seed replays the same pattern of outcomes
// for the same sequence of calls), with an errno drawn from `errors`, until
// `times` failures were injected; then the site disarms itself. "Fail the
// Nth call" is {skip = N-1, probability = 1, times = 1}.
//
// Site states (per site):
//
//     disarmed --arm()--> armed --`times` failures injected--> disarmed
//        ^                  |
//        +----disarm()------+
//
// Threads: any thread may call inject(); arm/disarm from any thread. Each
// site's schedule and counters are under that site's mutex; the armed mask is
// only a filter that keeps the disarmed path to one load.
#pragma once

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>

namespace weft::detail::fault {

enum class site : unsigned {
  uring_enter,    // io_uring_submit / submit_and_get_events / submit_and_wait_timeout: -errno
  uring_get_sqe,  // io_uring_get_sqe returns nullptr (SQ ring full); errors unused
  uring_setup,    // io_uring_queue_init_params: -errno (the io_uring_setup system call)
  accept,         // epoll: accept4 -1/errno; io_uring: the ACCEPT completion (fd closed, -errno)
  eventfd,        // eventfd(2): -1/errno (drivers, signal driver)
  epoll_ctl,      // epoll_ctl(2): -1/errno (a driver's eventfd, registering a socket)
  mmap,           // the ring's mmap inside io_uring_queue_init_params: -errno
  count
};

const char* to_string(site s) noexcept;

struct fault_schedule {
  std::uint64_t skip = 0;      // calls that pass before any may fail
  double probability = 1.0;    // chance that a call after `skip` fails
  std::uint64_t seed = 1;      // PRNG seed (probability and errno choice)
  std::array<int, 4> errors{}; // errno values to draw from (0 entries unused)
  std::uint64_t times = 1;     // failures before the site disarms itself; 0: unlimited
};

/// Arm `s` with `schedule` (resets its counters). At least one non-zero
/// error is required unless `s` is uring_get_sqe.
void arm(site s, const fault_schedule& schedule);
/// Disarm `s` (its counters stay readable).
void disarm(site s) noexcept;
void disarm_all() noexcept;
/// Calls `s` saw and failures it injected since it was last armed.
std::uint64_t calls(site s) noexcept;
std::uint64_t injected(site s) noexcept;

/// Bit i set: site i is armed (only a filter; see the file comment).
extern std::atomic<std::uint32_t> armed_sites;

/// The slow path of inject(): consults the schedule under the site's mutex.
int decide(site s) noexcept;

/// 0: make the real call. Otherwise the errno (positive) to fail with.
inline int inject(site s) noexcept {
  // ORDERING: relaxed: a filter only. arm() publishes the schedule under the
  // site's mutex, which decide() takes before reading it; a call that races
  // with arm() and misses the bit simply passes, as a call made just before
  // arming would.
  if ((armed_sites.load(std::memory_order_relaxed) & (1u << static_cast<unsigned>(s))) == 0)
      [[likely]] {
    return 0;
  }
  return decide(s);
}

/// For calls that fail with -1 and errno: -1 with errno set if `s` fails
/// now, else `call()`.
template <class F>
auto or_errno(site s, F&& call) -> decltype(call()) {
  if (const int err = inject(s)) {
    errno = err;
    return -1;
  }
  return call();
}

/// For liburing calls that fail with -errno: -errno if `s` fails now, else
/// `call()`.
template <class F>
int or_negative(site s, F&& call) {
  if (const int err = inject(s)) return -err;
  return call();
}

/// RAII: disarms every site when it goes (a test that fails half-way leaves
/// no site armed for the next one).
struct disarm_all_on_exit {
  disarm_all_on_exit() = default;
  disarm_all_on_exit(const disarm_all_on_exit&) = delete;
  disarm_all_on_exit& operator=(const disarm_all_on_exit&) = delete;
  ~disarm_all_on_exit() { disarm_all(); }
};

}  // namespace weft::detail::fault
