// Helpers for the channel tests.
#pragma once

#include <weft/cancellation.hpp>
#include <weft/runtime.hpp>
#include <weft/task.hpp>
#include <weft/with_cancellation.hpp>

#include "support/flavors.hpp"
#include "support/manual_coro.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace chan_test {

// wait_until and manual_coro are shared with the other test folders.
using weft_test::manual_coro;
using weft_test::wait_until;

/// The fixture of the channel tests: runs on both runtime flavours (derive
/// and INSTANTIATE_TEST_SUITE_P with weft_test::each_flavor()).
class on_each_flavor : public weft_test::on_each_flavor {
 protected:
  /// Some interleavings are deterministic only on one thread.
  bool current_thread() const { return GetParam() == weft::runtime_flavor::current_thread; }
};

/// For the tests whose outcome is fixed only on one thread (an arrival
/// order; the budget as the only way another task gets to run): a
/// current_thread runtime, not instantiated on multi_thread at all.
class on_current_thread : public ::testing::Test {
 protected:
  weft::runtime rt =
      weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
};

/// `threads` plain threads each send `each` values (t * each + i) through
/// copies of `tx`, which is dropped at once; receive on `rx` until
/// channel_closed and check every value arrived exactly once (count and sum).
/// `tx.send` must not wait (broadcast, unbounded mpsc).
template <class Tx, class Rx>
weft::task<> expect_plain_thread_sends_arrive(Tx tx, Rx& rx, int threads, int each) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([tx, t, each] {
      for (int i = 0; i < each; ++i) (void)tx.send(t * each + i);
    });
  }
  { auto gone = std::move(tx); }
  std::int64_t sum = 0;
  std::int64_t count = 0;
  while (auto r = co_await rx.recv()) {
    sum += *r;
    ++count;
  }
  for (auto& th : ts) th.join();
  const std::int64_t n = static_cast<std::int64_t>(threads) * each;
  EXPECT_EQ(count, n);
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

/// The "cancelled after its wait completed" race, the same for every
/// channel: `op()` (a channel awaitable with result R) waits under
/// with_cancellation in a spawned task; once it is suspended (on one thread:
/// deterministically), in one step the token fires first, then `complete()`
/// completes the wait (sends the value). On one thread the race sees its
/// stop branch finish first and destroys the completed awaiter, which must
/// leave what it got in the channel; on many threads either may win.
/// Returns what the waiting task got.
template <class R, class Op, class Complete>
weft::task<weft::result<R>> cancel_as_it_completes(Op op, Complete complete) {
  weft::cancellation_source src;
  std::atomic<bool> started{false};
  auto waiter = weft::spawn([&]() -> weft::task<weft::result<R>> {
    started = true;
    co_return co_await weft::with_cancellation(src.token(), op());
  });
  co_await wait_until([&] { return started.load(); });
  co_await weft::yield_now();  // on one thread: the waiter is suspended now
  src.cancel();
  complete();
  co_return co_await waiter;
}

/// Counts constructions and destructions of values that went through a
/// channel, to prove none is lost, duplicated or leaked.
struct tally {
  std::atomic<int> alive{0};
};

class counted {
 public:
  counted(tally& t, int v) noexcept : t_(&t), v_(v) { t_->alive.fetch_add(1); }
  counted(counted&& o) noexcept : t_(o.t_), v_(o.v_) {
    if (t_ != nullptr) t_->alive.fetch_add(1);
  }
  counted(const counted& o) noexcept : t_(o.t_), v_(o.v_) {
    if (t_ != nullptr) t_->alive.fetch_add(1);
  }
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
  ~counted() {
    if (t_ != nullptr) t_->alive.fetch_sub(1);
  }
  [[nodiscard]] int value() const noexcept { return v_; }

 private:
  tally* t_;
  int v_;
};

}  // namespace chan_test
