// park_driver behaviours, for both I/O drivers (uring_driver, epoll_driver).
//
// Deterministic: no sleep is used to order threads. A thread that must be
// parked before the unpark is waited for with driver.parked() (the owner has
// published PARKED and is in, or about to enter, the kernel wait). A lost
// wake-up shows up as a hang, caught by the ctest timeout; on success every
// test ends. Timing checks are lower bounds only.
#include "io/epoll_driver.hpp"
#include "io/uring_driver.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <memory>
#include <thread>
#include <type_traits>

namespace weft::detail {
namespace {

using std::chrono::steady_clock;
using namespace std::chrono_literals;

template <class Driver>
class park_driver_test : public ::testing::Test {};

using drivers = ::testing::Types<uring_driver, epoll_driver>;
TYPED_TEST_SUITE(park_driver_test, drivers);

// System calls unpark made to wake an owner: eventfd writes, and for the
// io_uring driver also futex wakes (an owner with no I/O in flight sleeps on
// its token's word; uring_driver.hpp).
template <class Driver>
std::uint64_t wake_syscalls(const Driver& d) {
  if constexpr (requires { d.futex_wakes(); }) {
    return d.eventfd_writes() + d.futex_wakes();
  } else {
    return d.eventfd_writes();
  }
}

// For the tests about the eventfd read itself: the io_uring driver parks in
// its ring even with no I/O in flight while this lives.
template <class Driver>
struct park_in_ring {
  park_in_ring() {
    if constexpr (std::is_same_v<Driver, uring_driver>) uring_driver::park_in_ring_for_test(true);
  }
  park_in_ring(const park_in_ring&) = delete;
  park_in_ring& operator=(const park_in_ring&) = delete;
  ~park_in_ring() {
    if constexpr (std::is_same_v<Driver, uring_driver>) uring_driver::park_in_ring_for_test(false);
  }
};

// Spin (yielding) until the owner has published PARKED.
template <class Driver>
void wait_until_parked(const Driver& d) {
  while (!d.parked()) std::this_thread::yield();
}

TYPED_TEST(park_driver_test, unpark_before_park_makes_park_return_at_once) {
  TypeParam d;
  d.unpark();
  d.park(std::nullopt);  // would hang if the token were lost
  EXPECT_EQ(wake_syscalls(d), 0u) << "nobody was parked: no wake-up system call";
}

TYPED_TEST(park_driver_test, unpark_before_park_on_another_thread_is_not_lost) {
  TypeParam d;  // constructed here, owned by the thread below
  d.unpark();
  std::thread owner([&] { d.park(std::nullopt); });
  owner.join();
  EXPECT_EQ(wake_syscalls(d), 0u);
}

TYPED_TEST(park_driver_test, unpark_from_another_thread_wakes_a_parked_thread) {
  TypeParam d;  // constructed on this thread, parked on another
  std::latch about_to_park(1);
  std::thread owner([&] {
    about_to_park.count_down();
    d.park(std::nullopt);
  });
  about_to_park.wait();
  wait_until_parked(d);
  d.unpark();
  owner.join();
  EXPECT_EQ(wake_syscalls(d), 1u) << "a parked owner is woken with one system call";
}

TYPED_TEST(park_driver_test, owner_parks_repeatedly_on_its_own_thread) {
  TypeParam d;
  std::atomic<int> returned{0};
  std::thread owner([&] {
    for (int i = 0; i < 3; ++i) {
      d.park(std::nullopt);
      // ORDERING: release/acquire with the load below: only a round counter.
      returned.fetch_add(1, std::memory_order_release);
    }
  });
  for (int i = 0; i < 3; ++i) {
    // Wait for round i's park to return before looking for the next park,
    // so each unpark meets its own park.
    while (returned.load(std::memory_order_acquire) != i) std::this_thread::yield();
    wait_until_parked(d);
    d.unpark();
  }
  owner.join();
  EXPECT_EQ(wake_syscalls(d), 3u);
}

TYPED_TEST(park_driver_test, unparks_while_running_cost_no_eventfd_write) {
  TypeParam d;
  for (int i = 0; i < 1000; ++i) d.unpark();
  EXPECT_EQ(wake_syscalls(d), 0u);
  d.park(std::nullopt);  // one token, consumed
  // Tokens do not pile up: the next park waits its whole timeout.
  const auto start = steady_clock::now();
  d.park(2ms);
  EXPECT_GE(steady_clock::now() - start, 2ms);
  EXPECT_EQ(wake_syscalls(d), 0u);
}

TYPED_TEST(park_driver_test, park_with_timeout_returns_no_earlier_than_the_timeout) {
  TypeParam d;
  for (const std::chrono::nanoseconds t : {std::chrono::nanoseconds{1ms},
                                           std::chrono::nanoseconds{5ms},
                                           std::chrono::nanoseconds{300us},
                                           std::chrono::nanoseconds{1500us}}) {
    const auto start = steady_clock::now();
    d.park(t);
    EXPECT_GE(steady_clock::now() - start, t) << "timeout " << t.count() << " ns";
  }
}

TYPED_TEST(park_driver_test, zero_or_negative_timeout_polls_and_consumes_a_token) {
  TypeParam d;
  d.park(0ns);  // returns: a poll
  d.park(-1ms);
  d.unpark();
  d.park(0ns);  // consumes the token
  const auto start = steady_clock::now();
  d.park(1ms);
  EXPECT_GE(steady_clock::now() - start, 1ms);
}

TYPED_TEST(park_driver_test, ping_pong_of_100000_rounds_loses_no_wake_up) {
  constexpr std::uint64_t rounds = 100'000;
  TypeParam a;  // parked by thread A
  TypeParam b;  // parked by thread B
  // Even: A's move, odd: B's move. ORDERING: each store(release) pairs with
  // the other thread's load(acquire); the unpark after it is what the test
  // checks is never lost.
  std::atomic<std::uint64_t> turn{0};
  std::thread thread_b([&] {
    for (std::uint64_t i = 0; i < rounds; ++i) {
      while (turn.load(std::memory_order_acquire) != 2 * i + 1) b.park(std::nullopt);
      turn.store(2 * i + 2, std::memory_order_release);
      a.unpark();
    }
  });
  for (std::uint64_t i = 0; i < rounds; ++i) {
    while (turn.load(std::memory_order_acquire) != 2 * i) a.park(std::nullopt);
    turn.store(2 * i + 1, std::memory_order_release);
    b.unpark();
  }
  thread_b.join();
  EXPECT_EQ(turn.load(), 2 * rounds);
}

TYPED_TEST(park_driver_test, destroyed_never_parked) {
  auto d = std::make_unique<TypeParam>();
  d->unpark();
  d.reset();
}

TYPED_TEST(park_driver_test, destroyed_with_the_eventfd_read_armed) {
  auto d = std::make_unique<TypeParam>();
  d->park(1ms);  // arms the eventfd read (uring), then times out
  d.reset();     // ASan/LSan: nothing leaked, nothing written after free
}

TYPED_TEST(park_driver_test, destroyed_on_another_thread_after_its_owner_exited) {
  auto d = std::make_unique<TypeParam>();
  std::thread owner([&] {
    d->park(1ms);
    d->unpark();  // a token left behind
  });
  owner.join();
  d.reset();
}

TYPED_TEST(park_driver_test, destroyed_with_the_read_rearmed_after_a_wake) {
  park_in_ring<TypeParam> in_ring;
  auto d = std::make_unique<TypeParam>();
  std::thread owner([&] {
    d->park(std::nullopt);  // woken through the eventfd below
    d->park(500us);         // re-arms the read, times out with it in flight
  });
  wait_until_parked(*d);
  d->unpark();
  owner.join();
  EXPECT_EQ(d->eventfd_writes(), 1u);
  d.reset();  // on a thread that never parked it
}

}  // namespace
}  // namespace weft::detail
