// weft/detail/model/execution.hpp — the model checker's scheduler: one
// execution of a body under a chosen interleaving (the search over
// executions, model::check, is in check.hpp).
//
// Model threads are real threads (from a pool reused across executions) that take turns: a baton (`active_`,
// guarded by a std::mutex and handed over with a condition variable) says
// which one runs; all others wait for it. Every model operation (atomic
// access, mutex lock/unlock, condvar wait/notify, spin_hint, thread spawn,
// join, thread exit) first calls point(), where the checker picks the thread
// that performs the next operation. The baton hand-off is a real mutex, so
// ThreadSanitizer sees the happens-before between turns.
//
// Thread states (per model thread):
//
//   runnable ──lock of a held mutex──> blocked_mutex ──holder unlocks──> runnable
//   runnable ──join of a live thread─> blocked_join  ──target exits────> runnable
//   runnable ──cv wait──> blocked_cv ──notify──> blocked_mutex ──> runnable
//   runnable ──body returns / throws──> finished
//
// A thread is *enabled* if runnable, or blocked on a mutex that is free, or
// joining a finished thread. "Chosen while blocked" means the wait is over.
//
// Search (check):
//   exhaustive  stateless depth-first search over the choice points (points
//               with more than one enabled thread), replaying a prefix of
//               choices and then taking the default (keep running the current
//               thread). A choice that switches away from a current thread
//               that could continue is a preemption; schedules with more than
//               options::preemption_bound preemptions are not explored
//               (CHESS-style bounding). Switching at a block, an exit or a
//               spin_hint is free.
//   random      options::random_executions executions, each choice uniform
//               among the enabled threads (seeded, reproducible).
//   replay      options::replay: exactly one execution following the printed
//               choices of a failing run.
//
// spin_hint is a yield: at the point right after it the spinning thread is not
// chosen if any other thread is enabled (as loom's yield_now). The switch to
// the next enabled thread round-robin is free; choosing any other thread there
// costs a preemption, so spinners cannot pass the turn among themselves for
// free (that would make the search exponential in the number of spins). So a
// spin loop costs one step per turn of the thread it waits for, and the
// default schedule never spins forever while the thread it waits for can run.
//
// Failure = a model::require that does not hold, an exception escaping a
// model thread, a deadlock (no enabled thread, not all finished), more than
// options::max_steps operations (livelock), a model atomic accessed after its
// destructor ran, a mutex unlocked by a non-owner. The failing execution stops
// at once: its threads stay blocked forever (they are detached and the
// execution is leaked on purpose — code under test is often noexcept, so they
// cannot be unwound). check() returns the failure, the steps and the choices.
#pragma once

#include <weft/detail/model/worker_pool.hpp>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace weft::detail::model {

/// WEFT_MODEL_PREEMPTIONS=<n> in the environment raises (or lowers) the
/// default bound for a deeper local run; tests that set their own keep it.
inline unsigned default_preemption_bound() {
  if (const char* e = std::getenv("WEFT_MODEL_PREEMPTIONS")) {
    const long v = std::strtol(e, nullptr, 10);
    if (v >= 0 && v < 100) return static_cast<unsigned>(v);
  }
  return 2;
}

struct options {
  /// Exhaustive mode: at most this many preemptions per schedule.
  unsigned preemption_bound = default_preemption_bound();
  /// Weak memory (see model_sync.hpp): a non-seq_cst load may read one of
  /// the last `history` stores to its atomic that C++ coherence and
  /// happens-before allow. At most `stale_read_bound` loads per schedule read
  /// a store other than the latest (exhaustive mode).
  bool weak_memory = true;
  unsigned history = 4;
  unsigned stale_read_bound = 1;
  /// Exhaustive mode stops (result::complete = false) after this many.
  std::size_t max_interleavings = 200000;
  /// Operations per execution before it is reported as a livelock.
  std::size_t max_steps = 5000;
  /// > 0: run this many random schedules instead of the exhaustive search.
  std::size_t random_executions = 0;
  std::uint64_t seed = 1;
  /// Non-empty: run one execution with these choices (thread ids at each
  /// choice point), as printed by a failure.
  std::vector<unsigned> replay;
  /// Print the failure and its schedule to stderr.
  bool print_failure = true;
};

struct result {
  bool ok = true;
  bool complete = true;  // every schedule within the bound was explored
  std::size_t interleavings = 0;
  std::string failure;           // what went wrong
  std::string schedule;          // the failing execution, one operation a line
  std::vector<unsigned> replay;  // pass as options::replay to rerun it
};

// Base of every model object that can be checked for use after destruction.
struct object_record {
  virtual ~object_record() = default;
  std::uint64_t id = 0;
  const void* exec = nullptr;  // the execution that made it (nullptr: none)
  bool alive = true;
  unsigned created_by = 0;
  std::size_t created_step = 0;
  unsigned destroyed_by = 0;
  std::size_t destroyed_step = 0;
};

class execution;
struct mutex_state;

/// A vector clock over the model threads (happens-before for weak memory).
using vclock = std::array<std::uint32_t, 8>;
inline void join_clock(vclock& into, const vclock& from) noexcept {
  for (std::size_t i = 0; i < into.size(); ++i) into[i] = std::max(into[i], from[i]);
}

namespace detail_ {
inline thread_local execution* tl_exec = nullptr;
inline thread_local unsigned tl_id = 0;
inline std::atomic<execution*> g_running{nullptr};  // for the abort handler
}  // namespace detail_

/// The execution the calling thread is a model thread of, or nullptr.
inline execution* current() noexcept { return detail_::tl_exec; }

class execution {
 public:
  static constexpr unsigned max_threads = 8;
  static constexpr unsigned none = ~0u;

  enum class tstate { runnable, blocked_mutex, blocked_join, blocked_cv, finished };

  struct mthread {
    tstate st = tstate::runnable;
    const mutex_state* wait_mutex = nullptr;
    unsigned wait_thread = none;
    bool yielded = false;
    vclock clock{};  // this thread's view of happens-before
  };
  struct step {
    unsigned thread;
    const char* op;
    std::uint64_t obj;
    std::uint64_t a;
    std::uint64_t b;
    int kind;  // 0: op obj; 1: op obj a; 2: op obj a -> b; 3: op only; 4: op thread
  };
  struct decision {
    unsigned cand[max_threads];
    unsigned ncand = 0;
    unsigned chosen = 0;
    unsigned pre_before = 0;
    bool cur_eligible = false;
    bool costly = false;  // choosing other than cand[0] is a preemption
    bool value = false;   // a load's choice of store (cand[i] == i; 0 = latest)
    unsigned stale_before = 0;
  };

  execution(const options& o, std::vector<unsigned> prefix, std::uint64_t rng_seed, bool random)
      : opts_(o), prefix_(std::move(prefix)), rng_(rng_seed), random_(random) {}

  // ---- run by check() ------------------------------------------------------
  void run(const std::function<void()>& body) {
    std::unique_lock<std::mutex> lk(mu_);
    threads_.emplace_back();
    active_ = 0;
    worker_pool::get().run([this, &body] { thread_main(0, body, [] {}); });
    cv_.wait(lk, [this] { return done_; });
  }
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] const std::string& failure() const { return failure_; }
  [[nodiscard]] const std::vector<decision>& decisions() const { return decisions_; }
  // After a passing execution: wait until every model thread has left
  // thread_main (its worker no longer touches this execution).
  void join_all() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [this] { return exited_ == threads_.size(); });
  }
  std::vector<unsigned> replay_choices() const {
    std::vector<unsigned> r;
    for (const auto& d : decisions_) r.push_back(d.cand[d.chosen]);
    return r;
  }
  std::string format_schedule() const {
    std::string s;
    char buf[200];
    for (std::size_t i = 0; i < trace_.size(); ++i) {
      const step& st = trace_[i];
      format_step(buf, sizeof buf, i, st);
      s += buf;
    }
    return s;
  }
  static void format_step(char* buf, std::size_t n, std::size_t i, const step& st) {
    const auto a = static_cast<unsigned long long>(st.a);
    const auto b = static_cast<unsigned long long>(st.b);
    const auto o = static_cast<unsigned long long>(st.obj);
    switch (st.kind) {
      case 0: std::snprintf(buf, n, "  #%zu t%u %s obj%llu\n", i, st.thread, st.op, o); break;
      case 1:
        std::snprintf(buf, n, "  #%zu t%u %s obj%llu 0x%llx\n", i, st.thread, st.op, o, a);
        break;
      case 2:
        std::snprintf(buf, n, "  #%zu t%u %s obj%llu 0x%llx -> 0x%llx\n", i, st.thread, st.op, o,
                      a, b);
        break;
      case 4: std::snprintf(buf, n, "  #%zu t%u %s t%llu\n", i, st.thread, st.op, o); break;
      default: std::snprintf(buf, n, "  #%zu t%u %s\n", i, st.thread, st.op); break;
    }
  }
  // Best effort from a SIGABRT handler (an assert in the code under test).
  void dump_for_abort() const noexcept {
    char buf[200];
    const char* head = "weft model: abort inside a model execution; steps so far:\n";
    (void)!::write(2, head, std::char_traits<char>::length(head));
    for (std::size_t i = 0; i < trace_.size(); ++i) {
      format_step(buf, sizeof buf, i, trace_[i]);
      (void)!::write(2, buf, std::char_traits<char>::length(buf));
    }
    std::string r = "replay choices: {";
    for (const auto& d : decisions_) r += std::to_string(d.cand[d.chosen]) + ",";
    r += "}\n";
    (void)!::write(2, r.data(), r.size());
  }

  // ---- called by model threads (the active one) ----------------------------
  unsigned self() const noexcept { return detail_::tl_id; }
  mthread& me() { return threads_[self()]; }
  std::size_t steps() const noexcept { return trace_.size(); }

  /// A scheduling point before an operation of the calling thread (whose
  /// wait state, if any, is already set). Returns when it is chosen.
  void point() {
    if (trace_.size() >= opts_.max_steps) {
      fail("livelock: more than " + std::to_string(opts_.max_steps) +
           " operations in one execution (raise options::max_steps if the body is that long)");
    }
    const unsigned next = choose(self());
    if (next == none) {
      fail("deadlock: every unfinished thread is blocked");
    }
    if (next != self()) switch_to(next);
    mthread& t = me();
    ++t.clock[self()];  // every operation is a new event of this thread
    t.st = tstate::runnable;
    t.wait_mutex = nullptr;
    t.wait_thread = none;
  }

  void record(const char* op, std::uint64_t obj, std::uint64_t a, std::uint64_t b, int kind) {
    trace_.push_back(step{self(), op, obj, a, b, kind});
  }

  /// Stop this execution with a failure; the calling thread never returns.
  [[noreturn]] void fail(const std::string& what) {
    record_failure(what);
    std::unique_lock<std::mutex> lk(mu_);
    active_ = none;
    done_ = true;
    cv_.notify_all();
    for (;;) cv_.wait(lk);  // blocked forever: the execution is abandoned
  }

  void check_alive(const object_record& r, const char* op) {
    if (r.exec != nullptr && r.exec != this) {
      fail(std::string("model object obj") + std::to_string(r.id) + " (" + op +
           ") was made in another execution: create model objects inside the body");
    }
    if (!r.alive) {
      fail(std::string("use after free: ") + op + " on obj" + std::to_string(r.id) +
           " (made by t" + std::to_string(r.created_by) + " at step #" +
           std::to_string(r.created_step) + ", destroyed by t" + std::to_string(r.destroyed_by) +
           " at step #" + std::to_string(r.destroyed_step) + ")");
    }
  }

  template <class R>
  R* make_record() {
    auto rec = std::make_unique<R>();
    R* p = rec.get();
    p->id = objects_.size() + 1;
    p->exec = this;
    p->created_by = self();
    p->created_step = trace_.size();
    objects_.push_back(std::move(rec));
    return p;
  }
  void destroy_record(object_record& r) {
    r.alive = false;
    r.destroyed_by = self();
    r.destroyed_step = trace_.size();
  }

  // Threads.
  unsigned spawn(std::function<void()> fn) {
    if (threads_.size() >= max_threads) fail("more than 8 model threads");
    const auto id = static_cast<unsigned>(threads_.size());
    threads_.emplace_back();
    threads_.back().clock = me().clock;  // the spawn happens-before the body
    worker_pool::get().run([this, id, f = std::move(fn)]() mutable {
      thread_main(id, f, [&f] { f = nullptr; });  // captures die inside the execution
    });
    record("spawn", id, 0, 0, 4);
    return id;
  }
  void join(unsigned id) {
    me().st = tstate::blocked_join;
    me().wait_thread = id;
    point();
    join_clock(me().clock, threads_[id].clock);  // the body happens-before join's return
    record("join", id, 0, 0, 4);
  }
  void block_on_mutex(const mutex_state* m) {
    me().st = tstate::blocked_mutex;
    me().wait_mutex = m;
  }
  void block_on_cv() { me().st = tstate::blocked_cv; }
  // A notify moves a cv waiter to waiting for its mutex.
  void wake_cv_waiter(unsigned id, const mutex_state* m) {
    threads_[id].st = tstate::blocked_mutex;
    threads_[id].wait_mutex = m;
  }
  void set_yield() { me().yielded = true; }
  vclock& clock() { return me().clock; }
  const options& opts() const noexcept { return opts_; }

 private:
  bool enabled(unsigned id) const;  // model/mutex.hpp (needs mutex_state)

  void record_failure(const std::string& what) {
    if (!failed_) {
      failed_ = true;
      failure_ = "thread t" + std::to_string(self()) + ": " + what;
    }
  }

  template <class Done>
  void thread_main(unsigned id, const std::function<void()>& fn, Done&& drop_fn) {
    detail_::tl_exec = this;
    detail_::tl_id = id;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this, id] { return active_ == id; });
    }
    try {
      fn();
    } catch (const std::exception& e) {
      fail(std::string("exception escaped the thread: ") + e.what());
    } catch (...) {
      fail("exception of unknown type escaped the thread");
    }
    drop_fn();
    threads_[id].st = tstate::finished;
    record("exit", 0, 0, 0, 3);
    const unsigned next = choose(id);
    std::unique_lock<std::mutex> lk(mu_);
    if (next == none) {
      bool all = true;
      for (const auto& t : threads_) all = all && t.st == tstate::finished;
      if (!all) {
        lk.unlock();
        fail("deadlock: every unfinished thread is blocked");
      }
      done_ = true;
    }
    active_ = next;
    ++exited_;
    cv_.notify_all();
  }

  void switch_to(unsigned next) {
    const unsigned id = self();
    std::unique_lock<std::mutex> lk(mu_);
    active_ = next;
    cv_.notify_all();
    cv_.wait(lk, [this, id] { return active_ == id; });
  }

  unsigned choose(unsigned cur) {
    decision d;
    const bool cur_yielded = threads_[cur].yielded;
    const bool cur_enabled = enabled(cur);
    d.cur_eligible = cur_enabled && !cur_yielded;
    // Switching away costs a preemption when the current thread could go on.
    // After a spin_hint the default is the next thread round-robin (free);
    // choosing any other one costs a preemption too, so spinners cannot hand
    // the turn back and forth for free (which would make the search
    // exponential in the spin count).
    d.costly = d.cur_eligible || (cur_enabled && cur_yielded);
    if (d.cur_eligible) d.cand[d.ncand++] = cur;
    const auto n = static_cast<unsigned>(threads_.size());
    for (unsigned k = 1; k <= n; ++k) {
      const unsigned i = cur_yielded ? (cur + k) % n : k - 1;
      if (i != cur && enabled(i)) d.cand[d.ncand++] = i;
    }
    if (d.ncand == 0 && cur_enabled) d.cand[d.ncand++] = cur;  // only the yielder can run
    for (auto& t : threads_) t.yielded = false;
    if (d.ncand == 0) return none;
    if (d.ncand == 1) return d.cand[0];
    return decide(d);
  }

  // Records a choice point and picks (replay, random, DFS prefix, default).
  unsigned decide(decision& d) {
    if (!decisions_.empty()) {
      const decision& b = decisions_.back();
      const bool moved = b.chosen != 0;
      d.pre_before = b.pre_before + ((!b.value && b.costly && moved) ? 1u : 0u);
      d.stale_before = b.stale_before + ((b.value && moved) ? 1u : 0u);
    }
    const std::size_t k = decisions_.size();
    if (!opts_.replay.empty()) {
      if (k >= opts_.replay.size()) {
        d.chosen = 0;
      } else {
        const unsigned want = opts_.replay[k];
        const auto* it = std::find(d.cand, d.cand + d.ncand, want);
        if (it == d.cand + d.ncand) {
          decisions_.push_back(d);
          fail("replay diverged: choice " + std::to_string(want) + " is not possible at choice " +
               std::to_string(k));
        }
        d.chosen = static_cast<unsigned>(it - d.cand);
      }
    } else if (random_) {
      d.chosen = static_cast<unsigned>(rng_() % d.ncand);
    } else if (k < prefix_.size()) {
      if (prefix_[k] >= d.ncand) {
        decisions_.push_back(d);
        fail("the body is not deterministic: a replayed choice point has fewer choices");
      }
      d.chosen = prefix_[k];
    } else {
      d.chosen = 0;
    }
    decisions_.push_back(d);
    return d.cand[d.chosen];
  }

 public:
  /// A load may read one of `n` stores (0 = the latest): a choice point.
  unsigned choose_store(unsigned n) {
    if (n <= 1) return 0;
    decision d;
    d.value = true;
    d.ncand = n;
    for (unsigned i = 0; i < n; ++i) d.cand[i] = i;
    return decide(d);
  }

 private:

  const options& opts_;
  std::vector<unsigned> prefix_;
  std::mt19937_64 rng_;
  bool random_;

  std::mutex mu_;
  std::condition_variable cv_;
  unsigned active_ = none;  // guarded by mu_
  bool done_ = false;       // guarded by mu_
  std::size_t exited_ = 0;  // guarded by mu_: threads out of thread_main

  // Below: touched only by the thread holding the baton (hand-offs go
  // through mu_, which orders them).
  bool failed_ = false;
  std::string failure_;
  std::deque<mthread> threads_;
  std::vector<step> trace_;
  std::vector<decision> decisions_;
  std::vector<std::unique_ptr<object_record>> objects_;
};

}  // namespace weft::detail::model
