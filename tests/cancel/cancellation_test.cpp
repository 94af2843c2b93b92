// cancellation_source / cancellation_token / cancellation_callback: awaiting
// cancellation on both runtime flavours, children, callbacks racing their own
// deregistration, the std::stop_token bridges, and concurrent cancels.
// Threads synchronise through atomics and registration counts, never sleeps.
#include <weft/cancellation.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "support/flavors.hpp"

namespace {

using namespace std::chrono_literals;
using weft::detail::cancellation_registrations;

/// Spin (yielding the core) until `pred` holds.
template <class Pred>
void spin_until(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

weft::task<> wait_cancelled(weft::cancellation_token t, std::atomic<int>& woke) {
  co_await t.cancelled();
  woke.fetch_add(1);
}

// ---- awaiting, on both flavours ------------------------------------------------

class Cancel : public weft_test::on_each_flavor {};

INSTANTIATE_TEST_SUITE_P(Flavors, Cancel, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Cancel, CancelBeforeAwaitCompletesAtOnce) {
  weft::cancellation_source src;
  EXPECT_TRUE(src.cancel());
  rt.block_on([&]() -> weft::task<> {
    co_await src.token().cancelled();
    EXPECT_TRUE(src.token().is_cancelled());
  }());
  EXPECT_EQ(cancellation_registrations(src.token()), 0u);
}

TEST_P(Cancel, CancelDuringAwaitWakesTheWaiter) {
  weft::cancellation_source src;
  std::atomic<int> woke{0};
  rt.block_on([&]() -> weft::task<> {
    auto h = weft::spawn(wait_cancelled(src.token(), woke));
    while (cancellation_registrations(src.token()) == 0) co_await weft::yield_now();
    EXPECT_EQ(woke.load(), 0);
    EXPECT_TRUE(src.cancel());
    co_await h;
  }());
  EXPECT_EQ(woke.load(), 1);
  EXPECT_EQ(cancellation_registrations(src.token()), 0u);
}

TEST_P(Cancel, CancelFromAForeignThreadDuringAwaitWakesTheWaiter) {
  weft::cancellation_source src;
  std::thread canceller([&] {
    spin_until([&] { return cancellation_registrations(src.token()) == 1; });
    src.cancel();
  });
  rt.block_on([&]() -> weft::task<> { co_await src.token().cancelled(); }());
  canceller.join();
  EXPECT_TRUE(src.is_cancelled());
}

TEST_P(Cancel, CancelAfterTheAwaitCompletedChangesNothing) {
  weft::cancellation_source src;
  std::atomic<int> woke{0};
  rt.block_on([&]() -> weft::task<> {
    auto h = weft::spawn(wait_cancelled(src.token(), woke));
    while (cancellation_registrations(src.token()) == 0) co_await weft::yield_now();
    src.cancel();
    co_await h;
    EXPECT_FALSE(src.cancel());        // idempotent
    co_await src.token().cancelled();  // ready at once, still
  }());
  EXPECT_EQ(woke.load(), 1);
}

TEST_P(Cancel, OneCancelWakesEveryAwaiter) {
  weft::cancellation_source src;
  std::atomic<int> woke{0};
  constexpr int n = 50;
  rt.block_on([&]() -> weft::task<> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < n; ++i) hs.push_back(weft::spawn(wait_cancelled(src.token(), woke)));
    while (cancellation_registrations(src.token()) < n) co_await weft::yield_now();
    src.cancel();
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(woke.load(), n);
}

TEST_P(Cancel, AWaiterDestroyedWhileWaitingIsNeverTouchedAgain) {
  // timeout destroys the losing branch, so the awaiter dies while linked; the
  // later cancel must not touch it (ASan sees any use of the freed frame).
  weft::cancellation_source src;
  std::atomic<int> woke{0};
  rt.block_on([&]() -> weft::task<> {
    auto r = co_await weft::timeout(1ms, wait_cancelled(src.token(), woke));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
  EXPECT_EQ(cancellation_registrations(src.token()), 0u);
  EXPECT_TRUE(src.cancel());
  EXPECT_EQ(woke.load(), 0);
}

TEST_P(Cancel, ATokenWithoutSourceIsNeverCancelled) {
  weft::cancellation_token never;
  EXPECT_FALSE(never.can_be_cancelled());
  EXPECT_FALSE(never.is_cancelled());
  std::atomic<int> woke{0};
  rt.block_on([&]() -> weft::task<> {
    auto r = co_await weft::timeout(1ms, wait_cancelled(never, woke));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
  EXPECT_EQ(woke.load(), 0);
}

TEST_P(Cancel, AwaitingACancelledTokenInAHotLoopStillLetsOthersRun) {
  weft::cancellation_source src;
  src.cancel();
  std::atomic<bool> other_ran{false};
  rt.block_on([&]() -> weft::task<> {
    auto other = weft::spawn([&]() -> weft::task<> {
      other_ran.store(true);
      co_return;
    });
    while (!other_ran.load()) co_await src.token().cancelled();
    co_await other;
  }());
  EXPECT_TRUE(other_ran.load());
}

TEST(CancelWithoutRuntime, BlockOnIsWokenByAForeignCancel) {
  weft::cancellation_source src;
  std::thread canceller([&] {
    spin_until([&] { return cancellation_registrations(src.token()) == 1; });
    src.cancel();
  });
  weft::block_on([&]() -> weft::task<> { co_await src.token().cancelled(); }());
  canceller.join();
}

// ---- sources, tokens, children ---------------------------------------------------

TEST(CancellationSource, CopiesShareOneState) {
  weft::cancellation_source a;
  weft::cancellation_source b = a;
  weft::cancellation_token t = b.token();
  EXPECT_TRUE(t.can_be_cancelled());
  EXPECT_EQ(t, a.token());
  EXPECT_FALSE(t.is_cancelled());
  EXPECT_TRUE(b.cancel());
  EXPECT_FALSE(a.cancel());
  EXPECT_TRUE(a.is_cancelled());
  EXPECT_TRUE(t.is_cancelled());
}

TEST(CancellationSource, AMovedFromSourceCancelsNothing) {
  weft::cancellation_source a;
  weft::cancellation_source b = std::move(a);
  EXPECT_FALSE(a.cancel());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_FALSE(a.token().can_be_cancelled());
  EXPECT_FALSE(b.is_cancelled());
}

TEST(CancellationSource, AChildIsCancelledWithItsParent) {
  weft::cancellation_source parent;
  weft::cancellation_source child = parent.child();
  weft::cancellation_source grandchild = child.token().child();
  EXPECT_FALSE(child.is_cancelled());
  parent.cancel();
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_TRUE(grandchild.is_cancelled());
}

TEST(CancellationSource, AParentIsNotCancelledWithItsChild) {
  weft::cancellation_source parent;
  weft::cancellation_source child = parent.child();
  weft::cancellation_source sibling = parent.child();
  EXPECT_TRUE(child.cancel());
  EXPECT_FALSE(parent.is_cancelled());
  EXPECT_FALSE(sibling.is_cancelled());
}

TEST(CancellationSource, AChildOfACancelledSourceStartsCancelled) {
  weft::cancellation_source parent;
  parent.cancel();
  weft::cancellation_source child = parent.child();
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_FALSE(child.cancel());
  EXPECT_EQ(cancellation_registrations(parent.token()), 0u);
}

TEST(CancellationSource, AChildOfATokenWithoutSourceIsIndependent) {
  weft::cancellation_source child = weft::cancellation_token{}.child();
  EXPECT_FALSE(child.is_cancelled());
  EXPECT_TRUE(child.cancel());
}

TEST(CancellationSource, ManyShortLivedChildrenLeaveTheParentsListEmpty) {
  weft::cancellation_source parent;
  for (int i = 0; i < 10'000; ++i) {
    weft::cancellation_source child = parent.child();
    weft::cancellation_token t = child.token();  // the last of both references goes below
    EXPECT_EQ(cancellation_registrations(parent.token()), 1u);
  }
  EXPECT_EQ(cancellation_registrations(parent.token()), 0u);
  // Live children are counted while they live.
  std::vector<weft::cancellation_source> live;
  for (int i = 0; i < 100; ++i) live.push_back(parent.child());
  EXPECT_EQ(cancellation_registrations(parent.token()), 100u);
  live.clear();
  EXPECT_EQ(cancellation_registrations(parent.token()), 0u);
}

TEST(CancellationSource, ADeepChainOfChildrenIsFreedWithoutRecursion) {
  // Dropping the leaf frees the whole chain (each child holds its parent);
  // the release is a loop, so 200,000 levels do not exhaust the stack.
  std::optional<weft::cancellation_source> leaf{weft::cancellation_source{}};
  for (int i = 0; i < 200'000; ++i) leaf.emplace(leaf->child());
  weft::cancellation_token t = leaf->token();
  leaf.reset();
  EXPECT_FALSE(t.is_cancelled());
}

TEST(CancellationSource, CancellingADeepChainOfChildrenDoesNotRecurse) {
  // 200,000 levels: a cancel that recursed per level would exhaust the
  // stack. Every token of the chain sees the cancellation, and each level's
  // callback runs once.
  static constexpr int kDepth = 200'000;
  weft::cancellation_source root;
  std::vector<weft::cancellation_source> chain;
  chain.reserve(kDepth);
  weft::cancellation_token t = root.token();
  for (int i = 0; i < kDepth; ++i) {
    chain.push_back(t.child());
    t = chain.back().token();
  }
  int leaf_runs = 0;
  weft::cancellation_callback cb(chain.back().token(), [&] { ++leaf_runs; });
  EXPECT_TRUE(root.cancel());
  EXPECT_EQ(leaf_runs, 1);
  int not_cancelled = 0;
  for (const auto& c : chain) not_cancelled += c.is_cancelled() ? 0 : 1;
  EXPECT_EQ(not_cancelled, 0);
  EXPECT_EQ(cancellation_registrations(root.token()), 0u);
  // Freed from the leaf up (the release is a loop as well).
  while (!chain.empty()) chain.pop_back();
}

TEST(CancellationSource, CallbacksRunDepthFirstInRegistrationOrder) {
  // The parent's registrations run in order; a child's link cancels the whole
  // subtree (its callbacks, then its own children) before the next one.
  weft::cancellation_source root;
  std::vector<int> order;
  weft::cancellation_callback a(root.token(), [&] { order.push_back(1); });
  weft::cancellation_source child = root.child();
  weft::cancellation_callback b(root.token(), [&] { order.push_back(5); });
  weft::cancellation_callback ca(child.token(), [&] { order.push_back(2); });
  weft::cancellation_source grandchild = child.child();
  weft::cancellation_callback cb(child.token(), [&] { order.push_back(4); });
  weft::cancellation_callback ga(grandchild.token(), [&] { order.push_back(3); });
  root.cancel();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(CancellationSource, ADeepChainThroughStopTokenBridgesDoesNotRecurse) {
  // Each level: a child of a from_stop_token token, bridged on through
  // to_stop_token into the next from_stop_token. The std::stop_callback of a
  // bridge runs inside the request_stop of the level above; the outermost
  // cancel walk takes the bridged states in turn instead of nesting.
  static constexpr int kDepth = 100'000;
  weft::cancellation_source root;
  std::vector<weft::cancellation_source> chain;
  chain.reserve(kDepth);
  weft::cancellation_token t = root.token();
  for (int i = 0; i < kDepth; ++i) {
    chain.push_back(weft::from_stop_token(weft::to_stop_token(t)).child());
    t = chain.back().token();
  }
  EXPECT_TRUE(root.cancel());
  int not_cancelled = 0;
  for (const auto& c : chain) not_cancelled += c.is_cancelled() ? 0 : 1;
  EXPECT_EQ(not_cancelled, 0);
  while (!chain.empty()) chain.pop_back();
}

TEST(CancellationSource, AFromStopTokenMadeInsideACallbackOfARequestedTokenIsCancelledAtOnce) {
  weft::cancellation_source src;
  std::stop_source requested;
  requested.request_stop();
  bool was_cancelled = false;
  weft::cancellation_callback cb(src.token(), [&] {
    was_cancelled = weft::from_stop_token(requested.get_token()).is_cancelled();
  });
  src.cancel();
  EXPECT_TRUE(was_cancelled);
}

// Found in review of the iterative walk: a request_stop() made by a callback
// queued the bridged token for after the walk, so code right after it (a
// std::jthread's request_stop(); join(), the thread waiting on the bridged
// token) saw it still uncancelled — or deadlocked. Bridges nested up to a
// small depth cancel at once again; only deeper chains are deferred.
TEST(CancellationSource, ARequestStopInsideACallbackCancelsItsBridgedTokenBeforeItReturns) {
  weft::cancellation_source src;
  std::stop_source other;
  weft::cancellation_token bridged = weft::from_stop_token(other.get_token());
  bool bridged_ran = false;
  weft::cancellation_callback on_bridged(bridged, [&] { bridged_ran = true; });
  bool seen_cancelled = false;
  bool seen_callback = false;
  weft::cancellation_callback cb(src.token(), [&] {
    other.request_stop();
    seen_cancelled = bridged.is_cancelled();
    seen_callback = bridged_ran;
  });
  src.cancel();
  EXPECT_TRUE(seen_cancelled);
  EXPECT_TRUE(seen_callback);
}

TEST(CancellationSource, ChildrenDroppedWhileTheParentCancelsAreSafe) {
  // A child's last reference races the parent's cancel running its link.
  for (int round = 0; round < 200; ++round) {
    weft::cancellation_source parent;
    std::vector<weft::cancellation_source> children;
    for (int i = 0; i < 20; ++i) children.push_back(parent.child());
    std::atomic<bool> go{false};
    std::thread dropper([&] {
      spin_until([&] { return go.load(); });
      children.clear();
    });
    go.store(true);
    parent.cancel();
    dropper.join();
    EXPECT_EQ(cancellation_registrations(parent.token()), 0u);
  }
}

// ---- callbacks --------------------------------------------------------------------

TEST(CancellationCallback, RunsOnceOnCancelOnTheCancellingThread) {
  weft::cancellation_source src;
  int runs = 0;
  std::thread::id ran_on;
  weft::cancellation_callback cb(src.token(), [&] {
    ++runs;
    ran_on = std::this_thread::get_id();
  });
  EXPECT_EQ(runs, 0);
  std::thread t([&] { src.cancel(); });
  const std::thread::id canceller = t.get_id();
  t.join();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(ran_on, canceller);
  src.cancel();
  EXPECT_EQ(runs, 1);
}

TEST(CancellationCallback, RegisteredAfterCancelRunsInline) {
  weft::cancellation_source src;
  src.cancel();
  int runs = 0;
  weft::cancellation_callback cb(src.token(), [&] { ++runs; });
  EXPECT_EQ(runs, 1);  // in the constructor
  EXPECT_EQ(cancellation_registrations(src.token()), 0u);
}

TEST(CancellationCallback, DestroyedBeforeCancelNeverRuns) {
  weft::cancellation_source src;
  int runs = 0;
  {
    weft::cancellation_callback cb(src.token(), [&] { ++runs; });
    EXPECT_EQ(cancellation_registrations(src.token()), 1u);
  }
  EXPECT_EQ(cancellation_registrations(src.token()), 0u);
  src.cancel();
  EXPECT_EQ(runs, 0);
}

TEST(CancellationCallback, OnATokenWithoutSourceNeverRuns) {
  int runs = 0;
  {
    weft::cancellation_callback cb(weft::cancellation_token{}, [&] { ++runs; });
  }
  EXPECT_EQ(runs, 0);
}

TEST(CancellationCallback, RunInRegistrationOrder) {
  weft::cancellation_source src;
  std::vector<int> order;
  weft::cancellation_callback a(src.token(), [&] { order.push_back(1); });
  weft::cancellation_callback b(src.token(), [&] { order.push_back(2); });
  weft::cancellation_callback c(src.token(), [&] { order.push_back(3); });
  src.cancel();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(CancellationCallback, DeregisteredWhileRunningOnAnotherThreadWaitsForIt) {
  weft::cancellation_source src;
  std::atomic<bool> started{false}, main_destroying{false}, done{false};
  auto fn = [&] {
    started.store(true);
    spin_until([&] { return main_destroying.load(); });
    // Give the main thread time to get inside the destructor and find us
    // running; it must wait for us.
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();
    done.store(true);
  };
  std::optional<weft::cancellation_callback<decltype(fn)>> cb;
  cb.emplace(src.token(), fn);
  std::thread canceller([&] { src.cancel(); });
  spin_until([&] { return started.load(); });
  main_destroying.store(true);
  cb.reset();
  EXPECT_TRUE(done.load());
  canceller.join();
}

TEST(CancellationCallback, ACallbackMayDestroyItsOwnRegistration) {
  weft::cancellation_source src;
  int runs = 0;
  struct self_destroying {
    std::optional<weft::cancellation_callback<std::function<void()>>> cb;
  } holder;
  holder.cb.emplace(src.token(), std::function<void()>([&] {
                      ++runs;
                      holder.cb.reset();  // same thread, during the callback
                    }));
  src.cancel();
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(holder.cb.has_value());
}

TEST(CancellationCallback, ACallbackMayDropTheLastReferenceToItsState) {
  // The parent's cancel cancels the child, whose callback drops the child's
  // source and its own registration: the child's state dies on this thread,
  // inside both cancel loops, which must not touch it afterwards (ASan).
  weft::cancellation_source parent;
  std::optional<weft::cancellation_source> child{parent.child()};
  std::optional<weft::cancellation_callback<std::function<void()>>> cb;
  int runs = 0;
  cb.emplace(child->token(), std::function<void()>([&] {
               ++runs;
               child.reset();
               cb.reset();  // last: it destroys this lambda
             }));
  parent.cancel();
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(child.has_value());
  EXPECT_EQ(cancellation_registrations(parent.token()), 0u);
}

TEST(CancellationCallback, ACallbackMayRegisterAndCancelFromInside) {
  weft::cancellation_source src;
  weft::cancellation_source other;
  int inner_runs = 0;
  std::optional<weft::cancellation_callback<std::function<void()>>> inner;
  weft::cancellation_callback outer(src.token(), [&] {
    inner.emplace(src.token(), std::function<void()>([&] { ++inner_runs; }));  // runs inline
    EXPECT_FALSE(src.cancel());
    other.cancel();
  });
  src.cancel();
  EXPECT_EQ(inner_runs, 1);
  EXPECT_TRUE(other.is_cancelled());
}

TEST(CancellationCallback, ManyThreadsCancellingRunEachCallbackExactlyOnce) {
  constexpr int threads = 8;
  constexpr int callbacks = 32;
  for (int round = 0; round < 50; ++round) {
    weft::cancellation_source src;
    std::vector<std::atomic<int>> runs(callbacks);
    std::vector<std::unique_ptr<weft::cancellation_callback<std::function<void()>>>> cbs;
    for (int i = 0; i < callbacks; ++i) {
      cbs.push_back(std::make_unique<weft::cancellation_callback<std::function<void()>>>(
          src.token(), std::function<void()>([&runs, i] { runs[i].fetch_add(1); })));
    }
    std::atomic<int> ready{0}, winners{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&] {
        ready.fetch_add(1);
        spin_until([&] { return ready.load() == threads; });
        if (src.cancel()) winners.fetch_add(1);
      });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(winners.load(), 1);
    for (auto& r : runs) EXPECT_EQ(r.load(), 1);
  }
}

TEST(CancellationCallback, RegistrationsRacingACancelEachRunExactlyOnce) {
  // Registered before the cancel: run by it; after: inline. Never both, never
  // neither.
  constexpr int threads = 4;
  constexpr int per_thread = 200;
  weft::cancellation_source src;
  std::atomic<int> runs{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  std::vector<std::vector<std::unique_ptr<weft::cancellation_callback<std::function<void()>>>>> cbs(
      threads);
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      for (int i = 0; i < per_thread; ++i) {
        cbs[t].push_back(std::make_unique<weft::cancellation_callback<std::function<void()>>>(
            src.token(), std::function<void()>([&] { runs.fetch_add(1); })));
      }
    });
  }
  spin_until([&] { return ready.load() == threads; });
  src.cancel();
  for (auto& t : ts) t.join();
  EXPECT_EQ(runs.load(), threads * per_thread);
}

// ---- std::stop_token bridges ----------------------------------------------------------

TEST(StopToken, ToStopTokenIsRequestedOnCancel) {
  weft::cancellation_source src;
  std::stop_token st = weft::to_stop_token(src.token());
  EXPECT_TRUE(st.stop_possible());
  EXPECT_FALSE(st.stop_requested());
  int runs = 0;
  std::stop_callback cb(st, [&] { ++runs; });
  src.cancel();
  EXPECT_TRUE(st.stop_requested());
  EXPECT_EQ(runs, 1);
  // The same std state every time.
  EXPECT_EQ(weft::to_stop_token(src.token()), st);
}

TEST(StopToken, ToStopTokenAfterCancelIsAlreadyRequested) {
  weft::cancellation_source src;
  src.cancel();
  EXPECT_TRUE(weft::to_stop_token(src.token()).stop_requested());
}

TEST(StopToken, ToStopTokenOfATokenWithoutSourceCannotStop) {
  EXPECT_FALSE(weft::to_stop_token(weft::cancellation_token{}).stop_possible());
}

TEST(StopToken, FromStopTokenIsCancelledOnRequest) {
  std::stop_source ss;
  weft::cancellation_token t = weft::from_stop_token(ss.get_token());
  EXPECT_TRUE(t.can_be_cancelled());
  EXPECT_FALSE(t.is_cancelled());
  int runs = 0;
  weft::cancellation_callback cb(t, [&] { ++runs; });
  ss.request_stop();
  EXPECT_TRUE(t.is_cancelled());
  EXPECT_EQ(runs, 1);
}

TEST(StopToken, FromARequestedStopTokenStartsCancelled) {
  std::stop_source ss;
  ss.request_stop();
  EXPECT_TRUE(weft::from_stop_token(ss.get_token()).is_cancelled());
}

TEST(StopToken, FromAStopTokenWithoutStateIsNeverCancelled) {
  EXPECT_FALSE(weft::from_stop_token(std::stop_token{}).can_be_cancelled());
}

TEST(StopToken, TheBridgeOutlivesTheStdSourceAndDiesWithTheToken) {
  weft::cancellation_token t;
  {
    std::stop_source ss;
    t = weft::from_stop_token(ss.get_token());
  }
  EXPECT_FALSE(t.is_cancelled());
  t = weft::cancellation_token{};  // frees the state and its std::stop_callback
}

TEST(StopToken, RoundTripBothWays) {
  std::stop_source ss;
  std::stop_token back = weft::to_stop_token(weft::from_stop_token(ss.get_token()));
  ss.request_stop();
  EXPECT_TRUE(back.stop_requested());

  weft::cancellation_source src;
  weft::cancellation_token again = weft::from_stop_token(weft::to_stop_token(src.token()));
  src.cancel();
  EXPECT_TRUE(again.is_cancelled());
}

TEST(StopToken, ATokenDroppedWhileTheStdSourceRequestsStopIsSafe) {
  for (int round = 0; round < 200; ++round) {
    std::stop_source ss;
    std::optional<weft::cancellation_token> t{weft::from_stop_token(ss.get_token())};
    std::atomic<bool> go{false};
    std::thread requester([&] {
      spin_until([&] { return go.load(); });
      ss.request_stop();
    });
    go.store(true);
    t.reset();
    requester.join();
  }
}

TEST(StopToken, JthreadStopsWhenTheSourceIsCancelled) {
  weft::cancellation_source src;
  std::atomic<bool> stopped{false};
  {
    std::jthread worker([&](std::stop_token st) {
      spin_until([&] { return st.stop_requested(); });
      stopped.store(true);
    });
    std::stop_callback forward(weft::to_stop_token(src.token()), [&] { worker.request_stop(); });
    src.cancel();
  }
  EXPECT_TRUE(stopped.load());
}

}  // namespace
