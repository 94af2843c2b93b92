// weft/detail/model/check.hpp — the search over executions: check(), the
// DFS backtracking over choice points, require(), and the SIGABRT handler
// that prints the schedule when an assert fires in the code under test.
//
// check's loop:
//
//   run an execution with prefix P ──failed──> report (schedule, replay) and stop
//        │ passed
//        ├─ exhaustive: next P = deepest choice with an untried alternative
//        │  within the preemption and stale-read bounds; none left → done
//        ├─ random: until options::random_executions
//        └─ replay: one execution only
#pragma once

#include <weft/detail/model/execution.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace weft::detail::model {

/// Inside a body: fail the execution (and so the check) unless `cond`.
inline void require(bool cond, const char* what) {
  if (cond) return;
  if (execution* ex = current()) ex->fail(std::string("requirement failed: ") + what);
  std::fprintf(stderr, "weft model: requirement failed outside an execution: %s\n", what);
  std::abort();
}

namespace detail_ {
inline void on_abort(int) {
  if (execution* ex = g_running.load()) ex->dump_for_abort();
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

// Next DFS prefix after an execution with decisions `ds`; false if none.
inline bool next_prefix(const std::vector<execution::decision>& ds, unsigned bound,
                        unsigned stale_bound, std::vector<unsigned>& prefix) {
  for (std::size_t i = ds.size(); i-- > 0;) {
    const auto& d = ds[i];
    for (unsigned j = d.chosen + 1; j < d.ncand; ++j) {
      const unsigned pre = d.pre_before + ((!d.value && d.costly && j != 0) ? 1u : 0u);
      const unsigned stale = d.stale_before + ((d.value && j != 0) ? 1u : 0u);
      if (pre <= bound && stale <= stale_bound) {
        prefix.clear();
        for (std::size_t k = 0; k < i; ++k) prefix.push_back(ds[k].chosen);
        prefix.push_back(j);
        return true;
      }
    }
  }
  return false;
}
}  // namespace detail_

/// Run `body` (as model thread t0) under every schedule within the bound (or
/// random / replayed schedules, see options). Stops at the first failure.
inline result check(const std::function<void()>& body, options opts = {}) {
  result r;
  const bool random = opts.random_executions > 0 && opts.replay.empty();
  std::mt19937_64 seeds(opts.seed);
  std::vector<unsigned> prefix;
  auto old_handler = std::signal(SIGABRT, detail_::on_abort);
  for (;;) {
    auto* ex = new execution(opts, prefix, seeds(), random);
    detail_::g_running.store(ex);
    ex->run(body);
    detail_::g_running.store(nullptr);
    ++r.interleavings;
    if (ex->failed()) {
      r.ok = false;
      r.failure = ex->failure();
      r.schedule = ex->format_schedule();
      r.replay = ex->replay_choices();
      // Its threads stay blocked forever; `ex` is leaked on purpose.
      if (opts.print_failure) {
        std::string rp;
        for (unsigned c : r.replay) rp += std::to_string(c) + ",";
        std::fprintf(stderr,
                     "weft model: FAILED after %zu interleavings: %s\nschedule:\n%sreplay "
                     "choices (options::replay): {%s}\n",
                     r.interleavings, r.failure.c_str(), r.schedule.c_str(), rp.c_str());
      }
      break;
    }
    ex->join_all();
    const bool more = !opts.replay.empty()
                          ? false
                          : random ? r.interleavings < opts.random_executions
                                   : detail_::next_prefix(ex->decisions(), opts.preemption_bound,
                                                          opts.stale_read_bound, prefix);
    delete ex;
    if (!more) break;
    if (!random && r.interleavings >= opts.max_interleavings) {
      r.complete = false;
      break;
    }
  }
  std::signal(SIGABRT, old_handler);
  return r;
}

}  // namespace weft::detail::model
