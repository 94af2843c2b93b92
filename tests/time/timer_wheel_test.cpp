// tests/time/timer_wheel_test.cpp — behaviour of the hierarchical timing wheel.
//
// Everything runs on virtual time: the wheel takes ticks, so no test sleeps or reads a clock.
// Randomized tests use fixed seeds and compare against a std::multimap model.
#include "time/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

namespace weft::detail {
namespace {

constexpr std::uint64_t k64_1 = 64;
constexpr std::uint64_t k64_2 = 64 * k64_1;
constexpr std::uint64_t k64_3 = 64 * k64_2;
constexpr std::uint64_t k64_4 = 64 * k64_3;
constexpr std::uint64_t k64_5 = 64 * k64_4;
constexpr std::uint64_t k64_6 = 64 * k64_5;  // the wheel's span, 2^36

// One on_expired call, as observed.
struct firing {
  timer_entry* entry;
  std::uint64_t deadline;  // e.deadline when handed over
  std::uint64_t elapsed;   // wheel.elapsed() during the call
  std::uint64_t now;       // the `now` of the advance() that fired it
};

// Advances `w` to `now`, appending every firing to `log`.
std::size_t advance_logged(timer_wheel& w, std::uint64_t now, std::vector<firing>& log) {
  return w.advance(now, [&](timer_entry& e) {
    EXPECT_FALSE(e.is_linked());
    log.push_back({&e, e.deadline, w.elapsed(), now});
  });
}

std::size_t advance_ignoring(timer_wheel& w, std::uint64_t now) {
  return w.advance(now, [](timer_entry&) {});
}

// Deadlines on and around every level boundary, as offsets from the start tick, plus the
// next aligned boundary of each level above `start` (+/- 1), plus far clamped deadlines.
std::vector<std::uint64_t> boundary_deadlines(std::uint64_t start) {
  std::vector<std::uint64_t> out;
  const std::uint64_t offsets[] = {1,         2,         63,    64,        65,        4095,
                                   4096,      4097,      k64_3 - 1,       k64_3,     k64_3 + 1,
                                   k64_4 - 1, k64_4,     k64_5 - 1,       k64_5,     k64_6 - 1,
                                   k64_6,     k64_6 + 1, 3 * k64_6 + 12345};
  for (std::uint64_t off : offsets) out.push_back(start + off);
  for (std::uint64_t span : {k64_1, k64_2, k64_3, k64_4, k64_5, k64_6}) {
    const std::uint64_t aligned = (start / span + 1) * span;
    for (std::uint64_t d : {aligned - 1, aligned, aligned + 1}) {
      if (d > start) out.push_back(d);
    }
  }
  return out;
}

// Interesting start ticks: zero, misaligned, and the last ticks of a top-level window (where
// even a deadline 1 tick ahead lies in the next 2^36 window and must wrap the top level).
const std::uint64_t kStarts[] = {0, 12345, k64_6 - 1, k64_6 - 100, 7 * k64_6 + 63 * k64_5 + 5,
                                 k64_6 - k64_3 - 7};

TEST(TimerWheel, InsertRejectsDeadlinesAtOrBeforeElapsed) {
  timer_wheel w(100);
  timer_entry past{.deadline = 99};
  timer_entry now{.deadline = 100};
  EXPECT_FALSE(w.insert(past));
  EXPECT_FALSE(w.insert(now));
  EXPECT_FALSE(past.is_linked());
  EXPECT_FALSE(now.is_linked());
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.elapsed(), 100u);
}

TEST(TimerWheel, FiresAtExactTickNotBefore) {
  timer_wheel w;
  timer_entry e{.deadline = 10};
  ASSERT_TRUE(w.insert(e));
  std::vector<firing> log;
  for (std::uint64_t t = 1; t < 10; ++t) {
    EXPECT_EQ(advance_logged(w, t, log), 0u) << "tick " << t;
  }
  EXPECT_TRUE(e.is_linked());
  EXPECT_EQ(advance_logged(w, 10, log), 1u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].entry, &e);
  EXPECT_EQ(log[0].elapsed, 10u);
  EXPECT_FALSE(e.is_linked());
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(advance_logged(w, 1000, log), 0u);
}

class TimerWheelBoundaries : public ::testing::TestWithParam<std::uint64_t> {};

// Steps one tick at a time through the first 64^3 + 2 ticks and through the 5000 ticks before
// every later deadline, and hops by next_expiration() in between, as the driver does (2^36
// single ticks would take too long); every entry must fire in the advance() whose `now` is
// its deadline.
TEST_P(TimerWheelBoundaries, FireExactlyAtDeadlineWhenSteppingTickByTick) {
  const std::uint64_t start = GetParam();
  timer_wheel w(start);
  const std::vector<std::uint64_t> deadlines = boundary_deadlines(start);
  std::vector<timer_entry> entries(deadlines.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].deadline = deadlines[i];
    ASSERT_TRUE(w.insert(entries[i]));
  }
  const std::multiset<std::uint64_t> pending_init(deadlines.begin(), deadlines.end());
  std::multiset<std::uint64_t> pending = pending_init;
  constexpr std::uint64_t kTickByTick = 5000;
  std::vector<firing> log;
  while (!pending.empty()) {
    const std::uint64_t next_deadline = *pending.begin();
    std::uint64_t now;
    // Strictly tick by tick through the first 64^3 + 2 ticks (every level-0..2 boundary).
    if (next_deadline - w.elapsed() <= kTickByTick || w.elapsed() - start <= k64_3 + 2) {
      now = w.elapsed() + 1;
    } else {
      const std::optional<std::uint64_t> next = w.next_expiration();
      ASSERT_TRUE(next.has_value());
      ASSERT_GT(*next, w.elapsed());
      ASSERT_LE(*next, next_deadline);
      now = std::min(*next, next_deadline - kTickByTick);
    }
    const std::size_t before = log.size();
    advance_logged(w, now, log);
    for (std::size_t i = before; i < log.size(); ++i) {
      ASSERT_EQ(log[i].deadline, now) << "fired in the wrong advance()";
      ASSERT_EQ(log[i].elapsed, now);
      auto it = pending.find(log[i].deadline);
      ASSERT_NE(it, pending.end()) << "fired twice";
      pending.erase(it);
    }
    ASSERT_EQ(w.size(), pending.size());
  }
  EXPECT_EQ(log.size(), deadlines.size());
  EXPECT_TRUE(w.empty());
}

// One advance() far past every deadline: each entry is handed over while elapsed() equals its
// deadline, in non-decreasing order, exactly once.
TEST_P(TimerWheelBoundaries, FireExactlyAtDeadlineInOneBigJump) {
  const std::uint64_t start = GetParam();
  timer_wheel w(start);
  const std::vector<std::uint64_t> deadlines = boundary_deadlines(start);
  std::vector<timer_entry> entries(deadlines.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].deadline = deadlines[i];
    ASSERT_TRUE(w.insert(entries[i]));
  }
  const std::uint64_t last = *std::max_element(deadlines.begin(), deadlines.end());
  std::vector<firing> log;
  EXPECT_EQ(advance_logged(w, last + 1000, log), deadlines.size());
  ASSERT_EQ(log.size(), deadlines.size());
  std::set<timer_entry*> seen;
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].elapsed, log[i].deadline);
    if (i > 0) {
      EXPECT_LE(log[i - 1].deadline, log[i].deadline);
    }
    EXPECT_TRUE(seen.insert(log[i].entry).second) << "fired twice";
  }
  EXPECT_EQ(w.elapsed(), last + 1000);
  EXPECT_TRUE(w.empty());
}

// Each deadline alone: a jump to one tick before it fires nothing, the next tick fires it.
TEST_P(TimerWheelBoundaries, EachDeadlineAloneDoesNotFireOneTickEarly) {
  const std::uint64_t start = GetParam();
  for (std::uint64_t d : boundary_deadlines(start)) {
    SCOPED_TRACE(::testing::Message() << "deadline " << d);
    timer_wheel w(start);
    timer_entry e{.deadline = d};
    ASSERT_TRUE(w.insert(e));
    EXPECT_EQ(advance_ignoring(w, d - 1), 0u);
    EXPECT_TRUE(e.is_linked());
    std::vector<firing> log;
    EXPECT_EQ(advance_logged(w, d, log), 1u);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].elapsed, d);
    EXPECT_TRUE(w.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Starts, TimerWheelBoundaries, ::testing::ValuesIn(kStarts));

TEST(TimerWheel, EntriesAreLinkedAtTheLevelOfTheirHighestDifferingDigit) {
  timer_wheel w;
  const std::pair<std::uint64_t, unsigned> cases[] = {
      {1, 0},         {63, 0},        {64, 1},         {4095, 1},          {4096, 2},
      {k64_3 - 1, 2}, {k64_3, 3},     {k64_4 - 1, 3},  {k64_4, 4},         {k64_5 - 1, 4},
      {k64_5, 5},     {k64_6 - 1, 5}, {k64_6, 5},      {1000 * k64_6, 5},  {~0ULL, 5}};
  std::vector<timer_entry> entries(std::size(cases));
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].deadline = cases[i].first;
    ASSERT_TRUE(w.insert(entries[i]));
    EXPECT_EQ(entries[i].level_, cases[i].second) << "deadline " << cases[i].first;
  }
  for (timer_entry& e : entries) w.remove(e);
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, FarDeadlinesAreClampedIntoTopLevelAndNeverFireEarly) {
  for (std::uint64_t start : kStarts) {
    for (std::uint64_t ahead : {k64_6, k64_6 + 1, 2 * k64_6 - 1, 5 * k64_6 + 777}) {
      SCOPED_TRACE(::testing::Message() << "start " << start << " ahead " << ahead);
      timer_wheel w(start);
      timer_entry e{.deadline = start + ahead};
      ASSERT_TRUE(w.insert(e));
      EXPECT_EQ(e.level_, timer_wheel::levels - 1);
      // Hop by next_expiration (cascading the clamped entry down) but stop one tick short.
      int hops = 0;
      while (true) {
        const std::optional<std::uint64_t> next = w.next_expiration();
        ASSERT_TRUE(next.has_value());
        ASSERT_GT(*next, w.elapsed());
        ASSERT_LE(*next, e.deadline);
        if (*next >= e.deadline) break;
        ASSERT_EQ(advance_ignoring(w, *next), 0u);
        ASSERT_LT(++hops, 100) << "clamped entry does not make progress";
      }
      EXPECT_EQ(advance_ignoring(w, e.deadline - 1), 0u);
      EXPECT_EQ(advance_ignoring(w, e.deadline), 1u);
      EXPECT_TRUE(w.empty());
    }
  }
}

TEST(TimerWheel, RemoveFromEveryLevelUnlinksAndTheEntryNeverFires) {
  timer_wheel w(5);
  // Three entries per level sharing one slot (so head, middle and tail removal are all
  // exercised), and a keeper per level that must still fire.
  const std::uint64_t per_level[] = {7, 2 * k64_1, 2 * k64_2, 2 * k64_3, 2 * k64_4, 2 * k64_5,
                                     3 * k64_6};
  struct group {
    timer_entry removed[3];
    timer_entry keeper;
  };
  std::vector<group> groups(std::size(per_level));
  for (std::size_t i = 0; i < groups.size(); ++i) {
    for (timer_entry& e : groups[i].removed) {
      e.deadline = per_level[i];
      ASSERT_TRUE(w.insert(e));
    }
    groups[i].keeper.deadline = per_level[i];
    ASSERT_TRUE(w.insert(groups[i].keeper));
    EXPECT_EQ(groups[i].keeper.level_, std::min<std::size_t>(i, timer_wheel::levels - 1));
  }
  ASSERT_EQ(w.size(), 4 * groups.size());
  // Removal order: middle, head, tail of each slot's list.
  for (group& g : groups) {
    for (int idx : {1, 0, 2}) {
      w.remove(g.removed[idx]);
      EXPECT_FALSE(g.removed[idx].is_linked());
      EXPECT_TRUE(g.keeper.is_linked());
    }
  }
  EXPECT_EQ(w.size(), groups.size());
  std::vector<firing> log;
  advance_logged(w, 4 * k64_6, log);
  ASSERT_EQ(log.size(), groups.size());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    EXPECT_EQ(log[i].entry, &groups[i].keeper);
    EXPECT_EQ(log[i].elapsed, per_level[i]);
  }
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, RemoveOfUnlinkedEntryIsANoOp) {
  timer_wheel w;
  timer_entry never_linked{.deadline = 3};
  timer_entry other{.deadline = 3};
  ASSERT_TRUE(w.insert(other));
  w.remove(never_linked);
  EXPECT_EQ(w.size(), 1u);
  w.remove(other);
  w.remove(other);  // twice: still a no-op
  EXPECT_TRUE(w.empty());
  EXPECT_FALSE(w.next_expiration().has_value());
  // A removed entry can be linked again.
  ASSERT_TRUE(w.insert(other));
  EXPECT_EQ(advance_ignoring(w, 3), 1u);
}

TEST(TimerWheel, NextExpirationIsEmptyWhenNothingIsLinked) {
  timer_wheel w(42);
  EXPECT_FALSE(w.next_expiration().has_value());
  EXPECT_EQ(advance_ignoring(w, 1000), 0u);
  EXPECT_FALSE(w.next_expiration().has_value());
  EXPECT_EQ(w.elapsed(), 1000u);
}

TEST(TimerWheel, NextExpirationIsNeverLaterThanEarliestDeadlineAndExactOnLevelZero) {
  std::mt19937_64 rng(7);
  for (std::uint64_t start : kStarts) {
    timer_wheel w(start);
    std::vector<timer_entry> entries(2000);
    std::multiset<std::uint64_t> model;
    for (timer_entry& e : entries) {
      // Mix of near (level 0/1), medium and far (clamped) deadlines.
      const std::uint64_t r = rng();
      const std::uint64_t ahead = r % 3 == 0 ? 1 + rng() % 64
                                  : r % 3 == 1 ? 1 + rng() % k64_4
                                               : 1 + rng() % (3 * k64_6);
      e.deadline = start + ahead;
      ASSERT_TRUE(w.insert(e));
      model.insert(e.deadline);
    }
    while (!model.empty()) {
      const std::optional<std::uint64_t> next = w.next_expiration();
      ASSERT_TRUE(next.has_value());
      const std::uint64_t earliest = *model.begin();
      ASSERT_GT(*next, w.elapsed());
      ASSERT_LE(*next, earliest);
      if (earliest / 64 == w.elapsed() / 64) {
        ASSERT_EQ(*next, earliest) << "level-0 entry";
      }
      w.advance(*next, [&](timer_entry& e) {
        ASSERT_EQ(e.deadline, *model.begin());
        model.erase(model.begin());
      });
    }
    EXPECT_TRUE(w.empty());
  }
}

TEST(TimerWheel, FiringOrderIsNonDecreasingAcrossSlotsAndLevels) {
  std::mt19937_64 rng(11);
  timer_wheel w(1000);
  std::vector<timer_entry> entries(5000);
  for (timer_entry& e : entries) {
    e.deadline = 1001 + rng() % (2 * k64_4);
    ASSERT_TRUE(w.insert(e));
  }
  std::vector<firing> log;
  // A few uneven jumps, each crossing many slots on several levels.
  for (std::uint64_t now : {1500ULL, 70000ULL, 70001ULL, 9000000ULL, 40000000ULL}) {
    advance_logged(w, now, log);
  }
  ASSERT_EQ(log.size(), entries.size());
  for (std::size_t i = 1; i < log.size(); ++i) {
    ASSERT_LE(log[i - 1].deadline, log[i].deadline);
    ASSERT_EQ(log[i].elapsed, log[i].deadline);
  }
}

TEST(TimerWheel, ReinsertFromInsideOnExpiredMakesAPeriodicTimer) {
  timer_wheel w;
  timer_entry periodic{.deadline = 100};
  ASSERT_TRUE(w.insert(periodic));
  std::vector<std::uint64_t> fired_at;
  // One jump covering ten periods: each re-insert lands ahead of elapsed() and fires later in
  // the same advance().
  const std::size_t n = w.advance(1000, [&](timer_entry& e) {
    fired_at.push_back(w.elapsed());
    e.deadline += 100;
    EXPECT_TRUE(w.insert(e));
  });
  EXPECT_EQ(n, 10u);
  const std::vector<std::uint64_t> expected = {100, 200, 300, 400, 500, 600, 700, 800, 900, 1000};
  EXPECT_EQ(fired_at, expected);
  EXPECT_TRUE(periodic.is_linked());
  // 1100 is on level 1 as seen from 1000, so the park timeout is its slot's start (1088).
  EXPECT_EQ(w.next_expiration(), std::optional<std::uint64_t>(1088));
  w.remove(periodic);
}

TEST(TimerWheel, InsertFromOnExpiredAtOrBeforeElapsedIsRejected) {
  timer_wheel w;
  timer_entry a{.deadline = 5000};
  timer_entry b;
  ASSERT_TRUE(w.insert(a));
  w.advance(6000, [&](timer_entry& fired) {
    b.deadline = w.elapsed();  // "now": the caller must fire it itself
    EXPECT_FALSE(w.insert(b));
    fired.deadline = w.elapsed() - 1;  // re-arming into the past is rejected too
    EXPECT_FALSE(w.insert(fired));
  });
  EXPECT_FALSE(a.is_linked());
  EXPECT_FALSE(b.is_linked());
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, InsertFromOnExpiredWithinTheSameAdvanceFiresInThatAdvance) {
  timer_wheel w;
  timer_entry first{.deadline = 10};
  timer_entry spawned_near{.deadline = 11};             // level 0 from elapsed 10
  timer_entry spawned_far{.deadline = 10 + 2 * k64_3};  // a higher level, still <= now
  timer_entry spawned_late{.deadline = 10 * k64_4};     // beyond now: stays linked
  ASSERT_TRUE(w.insert(first));
  std::vector<firing> log;
  w.advance(5 * k64_3, [&](timer_entry& e) {
    log.push_back({&e, e.deadline, w.elapsed(), 0});
    if (&e == &first) {
      EXPECT_TRUE(w.insert(spawned_far));
      EXPECT_TRUE(w.insert(spawned_near));
      EXPECT_TRUE(w.insert(spawned_late));
    }
  });
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].entry, &first);
  EXPECT_EQ(log[1].entry, &spawned_near);
  EXPECT_EQ(log[1].elapsed, 11u);
  EXPECT_EQ(log[2].entry, &spawned_far);
  EXPECT_EQ(log[2].elapsed, spawned_far.deadline);
  EXPECT_TRUE(spawned_late.is_linked());
  w.remove(spawned_late);
}

// Entries due at the same tick sit on the wheel's expired list while earlier ones run; a
// removal from on_expired must take them off it.
TEST(TimerWheel, RemoveOfAnotherDueEntryFromInsideOnExpiredStopsItFiring) {
  for (std::uint64_t deadline : {std::uint64_t{20}, 3 * k64_1, k64_3 + 64, 2 * k64_6 + 5}) {
    SCOPED_TRACE(::testing::Message() << "deadline " << deadline);
    timer_wheel w;
    std::vector<timer_entry> same(5);
    for (timer_entry& e : same) {
      e.deadline = deadline;
      ASSERT_TRUE(w.insert(e));
    }
    std::vector<timer_entry*> fired;
    w.advance(deadline, [&](timer_entry& e) {
      fired.push_back(&e);
      if (fired.size() == 1) {
        // Cancel every other still-pending sibling.
        for (timer_entry& s : same) {
          if (&s != &e && s.is_linked()) {
            w.remove(s);
            break;
          }
        }
        for (timer_entry& s : same) {
          if (&s != &e && s.is_linked()) {
            EXPECT_EQ(s.level_, timer_wheel::expired_level);
          }
        }
      }
    });
    EXPECT_EQ(fired.size(), same.size() - 1);
    std::set<timer_entry*> unique(fired.begin(), fired.end());
    EXPECT_EQ(unique.size(), fired.size());
    EXPECT_TRUE(w.empty());
  }
}

TEST(TimerWheel, RemoveOfALaterEntryFromInsideOnExpiredStopsItFiring) {
  timer_wheel w;
  timer_entry trigger{.deadline = 50};
  timer_entry later_same_level{.deadline = 60};
  timer_entry later_level2{.deadline = 3 * k64_2 + 1};
  timer_entry later_clamped{.deadline = 2 * k64_6};
  timer_entry survivor{.deadline = 3 * k64_2 + 1};
  for (timer_entry* e : {&trigger, &later_same_level, &later_level2, &later_clamped, &survivor}) {
    ASSERT_TRUE(w.insert(*e));
  }
  std::vector<timer_entry*> fired;
  w.advance(3 * k64_6, [&](timer_entry& e) {
    fired.push_back(&e);
    if (&e == &trigger) {
      w.remove(later_same_level);
      w.remove(later_level2);
      w.remove(later_clamped);
    }
  });
  const std::vector<timer_entry*> expected = {&trigger, &survivor};
  EXPECT_EQ(fired, expected);
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, TimeGoingBackwardsIsIgnored) {
  timer_wheel w(500);
  timer_entry e{.deadline = 570};
  ASSERT_TRUE(w.insert(e));
  EXPECT_EQ(advance_ignoring(w, 550), 0u);
  EXPECT_EQ(advance_ignoring(w, 10), 0u);
  EXPECT_EQ(w.elapsed(), 550u);
  EXPECT_EQ(advance_ignoring(w, 550), 0u);
  EXPECT_EQ(w.next_expiration(), std::optional<std::uint64_t>(570));
  EXPECT_EQ(advance_ignoring(w, 569), 0u);
  EXPECT_EQ(advance_ignoring(w, 570), 1u);
}

TEST(TimerWheel, SizeAndEmptyTrackLinkedEntries) {
  timer_wheel w;
  timer_entry a{.deadline = 1}, b{.deadline = 100}, c{.deadline = 10 * k64_6};
  EXPECT_TRUE(w.empty());
  ASSERT_TRUE(w.insert(a));
  ASSERT_TRUE(w.insert(b));
  ASSERT_TRUE(w.insert(c));
  EXPECT_EQ(w.size(), 3u);
  EXPECT_FALSE(w.empty());
  EXPECT_EQ(advance_ignoring(w, 100), 2u);
  EXPECT_EQ(w.size(), 1u);
  w.remove(c);
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, ThrowingOnExpiredLeavesOtherDueEntriesForTheNextAdvance) {
  timer_wheel w;
  std::vector<timer_entry> due(3);
  for (timer_entry& e : due) {
    e.deadline = 30;
    ASSERT_TRUE(w.insert(e));
  }
  int calls = 0;
  EXPECT_THROW(w.advance(40, [&](timer_entry&) {
    if (++calls == 1) throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(w.next_expiration(), std::optional<std::uint64_t>(30));
  // Even an advance() that does not move time hands over the leftovers.
  EXPECT_EQ(advance_ignoring(w, 30), 2u);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.elapsed(), 30u);
}

// 100,000 timers, deadlines in [1, 200000], a random third cancelled at random times before
// their deadline, time advanced in random steps. Each surviving timer must fire exactly once,
// at its deadline tick; the model is a multimap of deadline -> timer index.
TEST(TimerWheel, RandomizedHundredThousandTimersFireExactlyOnceAtTheirDeadline) {
  constexpr std::size_t kTimers = 100'000;
  constexpr std::uint64_t kMaxDeadline = 200'000;
  std::mt19937_64 rng(20240601);
  timer_wheel w;
  auto entries = std::make_unique<timer_entry[]>(kTimers);
  std::multimap<std::uint64_t, std::size_t> model;
  std::vector<std::multimap<std::uint64_t, std::size_t>::iterator> where(kTimers);
  for (std::size_t i = 0; i < kTimers; ++i) {
    entries[i].deadline = 1 + rng() % kMaxDeadline;
    ASSERT_TRUE(w.insert(entries[i]));
    where[i] = model.emplace(entries[i].deadline, i);
  }
  // Cancellation plan: a third of the timers, each at a random tick before its deadline.
  std::vector<std::size_t> order(kTimers);
  for (std::size_t i = 0; i < kTimers; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::multimap<std::uint64_t, std::size_t> cancels;  // cancel tick -> index
  for (std::size_t k = 0; k < kTimers / 3; ++k) {
    const std::size_t i = order[k];
    cancels.emplace(rng() % entries[i].deadline, i);
  }
  std::vector<int> fire_count(kTimers, 0);
  std::size_t cancelled = 0;
  while (w.elapsed() <= kMaxDeadline) {
    // Cancel everything planned up to now (if it has not fired already).
    while (!cancels.empty() && cancels.begin()->first <= w.elapsed()) {
      const std::size_t i = cancels.begin()->second;
      cancels.erase(cancels.begin());
      if (entries[i].is_linked()) {
        w.remove(entries[i]);
        model.erase(where[i]);
        ++cancelled;
      }
      ASSERT_FALSE(entries[i].is_linked());
    }
    ASSERT_EQ(w.size(), model.size());
    if (!model.empty()) {
      const std::optional<std::uint64_t> next = w.next_expiration();
      ASSERT_TRUE(next.has_value());
      ASSERT_LE(*next, model.begin()->first);
      ASSERT_GT(*next, w.elapsed());
    }
    const std::uint64_t step = rng() % 4 == 0 ? 1 + rng() % 5000 : 1 + rng() % 64;
    const std::uint64_t now = w.elapsed() + step;
    std::uint64_t last_deadline = 0;
    w.advance(now, [&](timer_entry& e) {
      const auto i = static_cast<std::size_t>(&e - entries.get());
      ++fire_count[i];
      // The model's earliest entry is due now; same-deadline entries may fire in any order.
      ASSERT_FALSE(model.empty());
      ASSERT_EQ(e.deadline, model.begin()->first);
      ASSERT_EQ(w.elapsed(), e.deadline);
      ASSERT_LE(last_deadline, e.deadline);
      last_deadline = e.deadline;
      model.erase(where[i]);
    });
    // Everything due by now has fired.
    if (!model.empty()) {
      ASSERT_GT(model.begin()->first, now);
    }
  }
  EXPECT_TRUE(model.empty());
  EXPECT_TRUE(w.empty());
  EXPECT_GT(cancelled, kTimers / 4);  // most planned cancels happen before the deadline
  std::size_t fired = 0;
  for (std::size_t i = 0; i < kTimers; ++i) {
    ASSERT_LE(fire_count[i], 1) << "timer " << i << " fired twice";
    fired += static_cast<std::size_t>(fire_count[i]);
  }
  EXPECT_EQ(fired + cancelled, kTimers);
}

// Mixed inserts, removes and re-inserts from on_expired, near a top-level window edge and with
// far (clamped) deadlines, checked against the same multimap model.
TEST(TimerWheel, RandomizedMixedOperationsNearWindowEdgeMatchModel) {
  for (std::uint64_t start : {k64_6 - 3000, 5 * k64_6 - 1, std::uint64_t{12345}}) {
    SCOPED_TRACE(::testing::Message() << "start " << start);
    std::mt19937_64 rng(start);
    constexpr std::size_t kTimers = 4000;
    timer_wheel w(start);
    auto entries = std::make_unique<timer_entry[]>(kTimers);
    std::multimap<std::uint64_t, std::size_t> model;
    std::vector<std::multimap<std::uint64_t, std::size_t>::iterator> where(kTimers);
    auto random_ahead = [&]() -> std::uint64_t {
      switch (rng() % 4) {
        case 0: return 1 + rng() % 64;
        case 1: return 1 + rng() % 5000;
        case 2: return 1 + rng() % k64_3;
        default: return 1 + rng() % (2 * k64_6);  // sometimes beyond the span
      }
    };
    auto link = [&](std::size_t i, std::uint64_t deadline) {
      entries[i].deadline = deadline;
      ASSERT_TRUE(w.insert(entries[i]));
      where[i] = model.emplace(deadline, i);
    };
    for (int round = 0; round < 3000; ++round) {
      // A handful of random inserts/removes.
      for (int op = 0; op < 4; ++op) {
        const std::size_t i = rng() % kTimers;
        if (entries[i].is_linked()) {
          w.remove(entries[i]);
          model.erase(where[i]);
        } else {
          link(i, w.elapsed() + random_ahead());
        }
      }
      ASSERT_EQ(w.size(), model.size());
      // Advance either to the next expiration (driver style) or by a random step.
      std::uint64_t now = w.elapsed() + random_ahead() / (1 + rng() % 64);
      if (rng() % 2 == 0) {
        if (auto next = w.next_expiration()) now = *next;
      }
      w.advance(now, [&](timer_entry& e) {
        const auto i = static_cast<std::size_t>(&e - entries.get());
        ASSERT_FALSE(model.empty());
        ASSERT_EQ(e.deadline, model.begin()->first);
        ASSERT_EQ(w.elapsed(), e.deadline);
        model.erase(where[i]);
        if (rng() % 3 == 0) link(i, w.elapsed() + random_ahead());  // re-arm
        if (rng() % 5 == 0) {  // cancel some other timer
          const std::size_t j = rng() % kTimers;
          if (entries[j].is_linked()) {
            w.remove(entries[j]);
            model.erase(where[j]);
          }
        }
      });
      if (!model.empty()) {
        ASSERT_GT(model.begin()->first, now);
        const std::optional<std::uint64_t> next = w.next_expiration();
        ASSERT_TRUE(next.has_value());
        ASSERT_LE(*next, model.begin()->first);
      }
    }
    // Drain: every remaining timer fires at its deadline.
    while (!model.empty()) {
      const std::uint64_t next = *w.next_expiration();
      w.advance(next, [&](timer_entry& e) {
        ASSERT_EQ(e.deadline, model.begin()->first);
        ASSERT_EQ(w.elapsed(), e.deadline);
        model.erase(where[static_cast<std::size_t>(&e - entries.get())]);
      });
    }
    EXPECT_TRUE(w.empty());
  }
}

}  // namespace
}  // namespace weft::detail
