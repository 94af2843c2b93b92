// The workloads in which tests/scheduler/planted_bugs_test.cpp plants its
// bugs (weft/detail/planted_bug.hpp), shared with the threaded comparison
// program planted_bugs_threaded.cpp.
#pragma once

#include <weft/detail/planted_bug.hpp>
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <memory>
#include <vector>

#include "scheduler/sim_support.hpp"

namespace weft_test::planted_workloads {

using namespace std::chrono_literals;
using weft::task;
using weft::detail::planted_bug;
using weft_test::check;

/// Plants exactly `b` for its lifetime.
class planted {
 public:
  explicit planted(planted_bug b) noexcept
      : prev_(weft::detail::set_planted_bugs(static_cast<std::uint32_t>(b))) {}
  planted(const planted&) = delete;
  planted& operator=(const planted&) = delete;
  ~planted() { (void)weft::detail::set_planted_bugs(prev_); }

 private:
  std::uint32_t prev_;
};

/// Tasks that each wait for blocking jobs in turn: a job's completion wakes
/// its task from outside the workers, through the inject queue — while a
/// worker may be between its last look at that queue and its park.
inline task<> blocking_joins(weft::runtime&) {
  std::vector<weft::join_handle<int>> hs;
  for (int i = 0; i < 8; ++i) {
    hs.push_back(weft::spawn([i]() -> task<int> {
      int sum = 0;
      for (int k = 0; k < 4; ++k) sum += co_await weft::spawn_blocking([k] { return k; });
      co_return sum + i;
    }));
  }
  for (int i = 0; i < 8; ++i) check(co_await hs[i] == 6 + i, "a join returned another value");
}

/// A producer hands out 12 notify_one calls one at a time (each waits for an
/// ack); two steady consumers and six flaky ones (each waits once, under a
/// token a canceller cancels after a few yields) take them. A notify_one that
/// reaches a flaky waiter just before its cancel must be passed on: if it is
/// dropped, nobody acks and everything waits.
inline task<> notify_handoffs(weft::runtime&) {
  constexpr int rounds = 12;
  struct state {
    weft::notify n;
    weft::notify ack;
    int consumed = 0;
    bool done = false;
    std::vector<weft::cancellation_source> flaky_stop{6};
  };
  auto st = std::make_shared<state>();
  std::vector<weft::join_handle<void>> hs;
  for (int f = 0; f < 6; ++f) {
    hs.push_back(weft::spawn([st, f]() -> task<> {
      auto r = co_await weft::with_cancellation(st->flaky_stop[f].token(), st->n.notified());
      if (r && !st->done) {
        ++st->consumed;
        st->ack.notify_one();
      }
    }));
  }
  for (int c = 0; c < 2; ++c) {
    hs.push_back(weft::spawn([st]() -> task<> {
      for (;;) {
        co_await st->n.notified();
        if (st->done) co_return;
        ++st->consumed;
        st->ack.notify_one();
      }
    }));
  }
  hs.push_back(weft::spawn([st]() -> task<> {  // the canceller
    for (int f = 0; f < 6; ++f) {
      for (int k = 0; k < f % 3; ++k) co_await weft::yield_now();
      st->flaky_stop[f].cancel();
    }
  }));
  for (int i = 0; i < rounds; ++i) {
    st->n.notify_one();
    co_await st->ack.notified();
  }
  st->done = true;
  st->n.notify_all();
  for (auto& h : hs) co_await h;
  check(st->consumed == rounds, "a notify_one was consumed twice or lost");
}

/// 40 parties, three phases. Each phase's waits can be cancelled by its own
/// token, which the first party to return from that phase cancels: by then
/// the phase is complete, so a cancelled waiter only leaves a completed
/// phase, and every party goes on to the next. The leader wakes the 39 in
/// rounds of 32; a party of the first round that runs on the other worker
/// while the leader is between rounds cancels waiters still linked.
inline task<> barrier_phases(weft::runtime&) {
  constexpr int parties = 40;
  constexpr int phases = 3;
  // Shared with the parties: when a failing seed ends the run with them
  // still waiting, shutdown destroys them after this frame.
  struct state {
    weft::barrier b{parties};
    std::vector<weft::cancellation_source> phase_stop{phases};
    std::vector<bool> stopped = std::vector<bool>(phases, false);
    int finished = 0;
  };
  auto st = std::make_shared<state>();
  std::vector<weft::join_handle<void>> hs;
  for (int p = 0; p < parties; ++p) {
    hs.push_back(weft::spawn([st]() -> task<> {
      for (int k = 0; k < phases; ++k) {
        auto r = co_await weft::with_cancellation(st->phase_stop[k].token(),
                                                  st->b.arrive_and_wait());
        if (r && !st->stopped[k]) {
          st->stopped[k] = true;
          st->phase_stop[k].cancel();
        }
      }
      ++st->finished;
    }));
  }
  for (auto& h : hs) co_await h;
  check(st->finished == parties, "a party did not finish");
}

/// Eight times: a task that yields a few times and completes; a joiner that
/// awaits it under a token; a canceller that yields a few times and cancels.
/// When the cancel lands while the task's worker is waking the joiner, the
/// joiner drops its handle in that window.
inline task<> cancelled_joins(weft::runtime&) {
  for (int rep = 0; rep < 8; ++rep) {
    weft::cancellation_source stop;
    auto target = weft::spawn([rep]() -> task<int> {
      for (int k = 0; k < rep % 3; ++k) co_await weft::yield_now();
      co_return rep;
    });
    auto joiner = weft::spawn(
        [](weft::join_handle<int> h, weft::cancellation_token tok) -> task<> {
          auto r = co_await weft::with_cancellation(std::move(tok), h);
          if (r) check(*r >= 0, "a join returned garbage");
        },
        std::move(target), stop.token());
    auto canceller = weft::spawn([&stop, rep]() -> task<> {
      for (int k = 0; k < (rep + 1) % 4; ++k) co_await weft::yield_now();
      stop.cancel();
    });
    co_await joiner;
    co_await canceller;
  }
}

}  // namespace weft_test::planted_workloads
