// fault_injection — the site table and the schedule (see fault_injection.hpp).
#include "support/fault_injection.hpp"

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string>

namespace weft::detail::fault {

std::atomic<std::uint32_t> armed_sites{0};

namespace {

constexpr unsigned site_count = static_cast<unsigned>(site::count);
static_assert(site_count <= 32, "armed_sites has one bit per site");

// splitmix64: small, seedable, good enough to spread outcomes.
std::uint64_t next_random(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct site_state {
  std::mutex mu;
  bool armed = false;  // under mu: the truth; the bit in armed_sites follows it
  fault_schedule schedule;
  std::uint64_t rng = 0;
  std::uint64_t calls = 0;
  std::uint64_t injected = 0;
};

std::array<site_state, site_count>& table() {
  static std::array<site_state, site_count> t;
  return t;
}

std::uint32_t bit(site s) noexcept { return 1u << static_cast<unsigned>(s); }

// Under st.mu.
void disarm_locked(site s, site_state& st) noexcept {
  st.armed = false;
  // ORDERING: relaxed: the bit is a filter; decide() re-checks st.armed
  // under the mutex (see inject()).
  armed_sites.fetch_and(~bit(s), std::memory_order_relaxed);
}

}  // namespace

const char* to_string(site s) noexcept {
  switch (s) {
    case site::uring_enter:
      return "uring_enter";
    case site::uring_get_sqe:
      return "uring_get_sqe";
    case site::uring_setup:
      return "uring_setup";
    case site::accept:
      return "accept";
    case site::eventfd:
      return "eventfd";
    case site::epoll_ctl:
      return "epoll_ctl";
    case site::mmap:
      return "mmap";
    case site::count:
      break;
  }
  return "unknown";
}

void arm(site s, const fault_schedule& schedule) {
  if (s >= site::count) throw std::invalid_argument("fault::arm: no such site");
  bool has_error = false;
  for (const int e : schedule.errors) has_error = has_error || e != 0;
  if (!has_error && s != site::uring_get_sqe) {
    throw std::invalid_argument(std::string("fault::arm(") + to_string(s) +
                                "): give at least one errno in schedule.errors");
  }
  site_state& st = table()[static_cast<unsigned>(s)];
  std::lock_guard<std::mutex> lock(st.mu);
  st.schedule = schedule;
  st.rng = schedule.seed;
  st.calls = 0;
  st.injected = 0;
  st.armed = true;
  // ORDERING: relaxed: see inject(); the schedule is published by the mutex.
  armed_sites.fetch_or(bit(s), std::memory_order_relaxed);
}

void disarm(site s) noexcept {
  if (s >= site::count) return;
  site_state& st = table()[static_cast<unsigned>(s)];
  std::lock_guard<std::mutex> lock(st.mu);
  disarm_locked(s, st);
}

void disarm_all() noexcept {
  for (unsigned i = 0; i < site_count; ++i) disarm(static_cast<site>(i));
}

std::uint64_t calls(site s) noexcept {
  if (s >= site::count) return 0;
  site_state& st = table()[static_cast<unsigned>(s)];
  std::lock_guard<std::mutex> lock(st.mu);
  return st.calls;
}

std::uint64_t injected(site s) noexcept {
  if (s >= site::count) return 0;
  site_state& st = table()[static_cast<unsigned>(s)];
  std::lock_guard<std::mutex> lock(st.mu);
  return st.injected;
}

int decide(site s) noexcept {
  site_state& st = table()[static_cast<unsigned>(s)];
  std::lock_guard<std::mutex> lock(st.mu);
  if (!st.armed) return 0;  // disarmed after the caller saw the bit
  const fault_schedule& f = st.schedule;
  ++st.calls;
  if (st.calls <= f.skip) return 0;
  if (f.probability < 1.0) {
    // 53 random bits as a double in [0, 1).
    const double u = static_cast<double>(next_random(st.rng) >> 11) * 0x1.0p-53;
    if (u >= f.probability) return 0;
  }
  int candidates[4] = {};
  unsigned n = 0;
  for (const int e : f.errors) {
    if (e != 0) candidates[n++] = e;
  }
  // uring_get_sqe needs no errno (it returns nullptr): any non-zero says "fail".
  const int err = n == 0 ? EBUSY : candidates[next_random(st.rng) % n];
  ++st.injected;
  if (f.times != 0 && st.injected >= f.times) disarm_locked(s, st);
  return err;
}

}  // namespace weft::detail::fault
