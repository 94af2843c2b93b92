// Model tests of the park token (src/scheduler/park_token.hpp): an unpark is
// never lost. The owner parks with no deadline; the driver's sleep is a model
// futex — wait(word == PARKED) checks the word and sleeps under the futex's
// lock (a model mutex, as the kernel's hash-bucket lock), and the unparker's
// wake takes that lock too. If an unpark could be lost, the owner would sleep
// forever: the checker reports that as a deadlock.
#include "model_test_support.hpp"

#include "scheduler/park_token.hpp"

#include <cstdint>
#include <optional>

namespace {

using namespace weft::model_test;
using weft::detail::park_token;

// The kernel side of a futex on the token's word.
struct model_futex {
  sync::mutex lock;
  sync::condition_variable sleepers;
  int wakes = 0;  // guarded by lock: pending wake-ups for the sleeper

  // futex_wait(word, expected): sleep unless the word changed; returns on a
  // wake (the caller re-checks the word, as the real driver does).
  void wait(park_token& t, std::uint32_t expected = park_token::parked) {
    std::unique_lock<sync::mutex> lk(lock);
    if (t.word().load(std::memory_order_relaxed) != expected) return;
    while (wakes == 0) sleepers.wait(lk);
    --wakes;
  }
  void wake() {
    std::unique_lock<sync::mutex> lk(lock);
    ++wakes;
    sleepers.notify_one();
  }
};

struct parker {
  park_token token;
  model_futex futex;
  int on_token = 0;  // park ended on a pending token (owner only)

  void park() {
    token.park_with(
        std::nullopt, [this] { ++on_token; }, [] {},
        [this](std::optional<std::chrono::nanoseconds>) {
          futex.wait(token);
          return false;  // no driver work of its own
        });
  }
  void unpark() {
    if (token.notify()) futex.wake();
  }
};

TEST(ParkTokenModel, UnparkBeforeOrDuringParkIsNeverLost) {
  int fast = 0;   // interleavings where park consumed a pending token
  int slept = 0;  // interleavings where the owner had registered PARKED first
  expect_all_interleavings_pass(
      "park_token: one unpark vs park",
      [&] {
        parker p;
        sync::atomic<int> message{0};
        sync::thread unparker([&] {
          message.store(1, std::memory_order_relaxed);
          p.unpark();
        });
        p.park();  // must return: the one unpark is before or during it
        model::require(message.load(std::memory_order_relaxed) == 1,
                       "park returned without the unparker's write before its unpark");
        unparker.join();
        model::require(p.token.word().load() == park_token::empty,
                       "the token is consumed when park returns");
        (p.on_token != 0 ? fast : slept) += 1;
      });
  EXPECT_GT(fast, 0);
  EXPECT_GT(slept, 0);
}

// The owner parks twice; the unparker unparks once per round after the
// owner acknowledged the previous one. Both parks return: the token is
// reusable after a consumed unpark, whichever path consumed it.
TEST(ParkTokenModel, SecondParkAfterConsumedTokenStillSeesTheNextUnpark) {
  expect_all_interleavings_pass("park_token: two rounds", [] {
    parker p;
    sync::atomic<int> acked{0};
    sync::thread unparker([&] {
      p.unpark();
      while (acked.load() == 0) sync::spin_hint();
      p.unpark();
    });
    p.park();
    acked.store(1);
    p.park();
    unparker.join();
  });
}

// Two unparkers and one park: the park returns, and a second park that
// follows returns only if a notify is still pending (they may coalesce), so
// here the owner parks once and both unparkers finish.
TEST(ParkTokenModel, TwoUnparkersRacingOnePark) {
  expect_all_interleavings_pass("park_token: two unparkers", [] {
    parker p;
    sync::thread u1([&] { p.unpark(); });
    sync::thread u2([&] { p.unpark(); });
    p.park();
    u1.join();
    u2.join();
  });
}

// The io_uring driver's two ways to sleep (uring_driver.cpp): with I/O in
// flight in the ring, woken by an eventfd write (a second model futex,
// waited on while the word is PARKED); with none, on the token's word after
// enter_futex_wait (PARKED_FUTEX). The unparker picks the wake from the state
// its exchange read. Whichever way the owner sleeps, the one unpark ends the
// park — a wrong pick would leave it asleep, which the checker reports as a
// deadlock.
struct dual_parker {
  park_token token;
  model_futex ring;   // the eventfd the ring's read waits on
  model_futex futex;  // the token's word
  bool futex_mode = false;  // no I/O in flight: fixed for the whole park

  void park() {
    token.park_with(
        std::nullopt, [] {}, [] {},
        [this](std::optional<std::chrono::nanoseconds>) {
          if (futex_mode) {
            if (token.enter_futex_wait()) futex.wait(token, park_token::parked_futex);
          } else {
            ring.wait(token);
          }
          return false;
        });
  }
  void unpark() {
    const std::uint32_t was = token.notify_from();
    if (was == park_token::parked_futex) {
      futex.wake();
    } else if (was == park_token::parked) {
      ring.wake();
    }
  }
};

TEST(ParkTokenModel, AnOwnerAsleepOnTheWordOrInTheRingIsWokenByTheOneUnpark) {
  for (bool futex_mode : {true, false}) {
    expect_all_interleavings_pass(
        futex_mode ? "park_token: futex sleep vs unpark" : "park_token: ring sleep vs unpark", [&] {
          dual_parker p;
          p.futex_mode = futex_mode;
          sync::atomic<int> message{0};
          sync::thread unparker([&] {
            message.store(1, std::memory_order_relaxed);
            p.unpark();
          });
          p.park();
          model::require(message.load(std::memory_order_relaxed) == 1,
                         "park returned without the unparker's write before its unpark");
          unparker.join();
          model::require(p.token.word().load() == park_token::empty,
                         "the token is consumed when park returns");
        });
  }
}

}  // namespace
