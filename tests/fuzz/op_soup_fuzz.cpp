// Fuzz target: an "operation soup" — the input becomes a sequence of runtime
// calls, run twice: on a multi-thread runtime with 2 workers (real time, every
// wait 0-1 ms) and on a current-thread runtime with paused virtual time.
//
// Each pair of input bytes is one operation of a driver task (block_on): the
// first byte's low nibble picks it, its high nibble and the second byte are
// its arguments. Operations: spawn a worker task (it sleeps, locks the mutex,
// takes semaphore permits, sends on the channel, waits on a cancellation
// token, races a sleep against a token, yields, or throws), join a handle
// under a timeout, cancel a cancellation_source, sleep, timeout a sleep,
// when_any, when_all, send and receive on a bounded mpsc channel, lock the
// mutex, take semaphore permits, post to a dispatcher, spawn a task on it,
// shut it down, close the channel's receiver, detach a handle,
// with_cancellation.
//
// Properties checked:
//  - no lost join: every handle still held at the end is joined under a
//    deadline and gets its task's value (its id) or its exception; a deadline
//    that passes means a task never finished (a hang becomes a failure);
//  - no double resume: every await in the soup's coroutines goes through a
//    resume_probe, which fails if a suspension is resumed twice or a task ends
//    with resumptions and suspensions unequal;
//  - no lost or doubled task: every task frame holds a task_guard, so after
//    runtime shutdown tasks created == tasks finished + tasks destroyed early;
//  - every dispatcher callback is called exactly once (ok or canceled) and
//    every dispatcher's shutdown observer once;
//  - the channel neither loses nor duplicates a value: each id is received
//    at most once, and values made == received + handed back + dropped;
//  - a sleep never ends early (weft::now() after it >= before + duration);
//    with paused time the shorter of two timers wins a race, deterministically;
//  - no leak: a live-object counter (frames, values, callbacks) is zero at the
//    end (LSan checks the rest in the asan build).
// All counters are relaxed atomics read after runtime shutdown, which joins
// the workers (that join orders their writes before the reads).
#include <weft/cancellation.hpp>
#include <weft/channel.hpp>
#include <weft/dispatcher.hpp>
#include <weft/runtime.hpp>
#include <weft/sync.hpp>
#include <weft/time.hpp>
#include <weft/when_all.hpp>
#include <weft/when_any.hpp>
#include <weft/with_cancellation.hpp>

#include "fuzz_check.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::task;

constexpr std::size_t max_ops = 48;
constexpr auto forever_bound = 10s;  // a wait that should end long before: a hang

struct counters {
  // ORDERING: every counter is relaxed: read only after runtime shutdown has
  // joined the threads that wrote them (see the file comment).
  std::atomic<long> live{0};
  std::atomic<long> tasks_made{0}, tasks_finished{0}, tasks_destroyed{0};
  std::atomic<long> posted{0}, called{0};
  std::atomic<long> dispatchers{0}, observers{0};
  std::atomic<long> msgs_made{0}, msgs_received{0}, msgs_returned{0}, msgs_dropped{0};
  void add(std::atomic<long>& n) { n.fetch_add(1, std::memory_order_relaxed); }
  static long get(const std::atomic<long>& n) { return n.load(std::memory_order_relaxed); }
};

/// One live object (counted in counters::live while it exists).
class tracked {
 public:
  explicit tracked(counters& c) : c_(&c) { c_->live.fetch_add(1, std::memory_order_relaxed); }
  tracked(const tracked& o) : c_(o.c_) { c_->live.fetch_add(1, std::memory_order_relaxed); }
  tracked& operator=(const tracked&) = delete;
  ~tracked() { c_->live.fetch_sub(1, std::memory_order_relaxed); }
  counters& c() const { return *c_; }

 private:
  counters* c_;
};

/// A channel value. "armed" moves with it: the last holder that did not
/// receive or get it back counts it as dropped.
struct msg {
  msg(counters& c, std::uint32_t i) : t(c), id(i) { c.add(c.msgs_made); }
  msg(msg&& o) noexcept : t(o.t), id(o.id), armed(std::exchange(o.armed, false)) {}
  msg& operator=(msg&& o) noexcept {
    if (armed) t.c().add(t.c().msgs_dropped);
    id = o.id;
    armed = std::exchange(o.armed, false);
    return *this;
  }
  ~msg() {
    if (armed) t.c().add(t.c().msgs_dropped);
  }
  tracked t;
  std::uint32_t id;
  bool armed = true;
};

/// Lives in a task's frame (a parameter, so it exists before the first step):
/// says at destruction whether the body finished. A moved-from one is inert.
class task_guard {
 public:
  explicit task_guard(counters& c) : t_(c), c_(&c) { c.add(c.tasks_made); }
  task_guard(task_guard&& o) noexcept : t_(o.t_), c_(std::exchange(o.c_, nullptr)) {}
  task_guard& operator=(task_guard&&) = delete;
  ~task_guard() {
    if (c_ != nullptr) c_->add(done_ ? c_->tasks_finished : c_->tasks_destroyed);
  }
  void done() { done_ = true; }

 private:
  tracked t_;
  counters* c_;
  bool done_ = false;
};

/// Brackets every await of a coroutine: before() at suspension, after() at
/// resumption. A suspension resumed twice finds the probe running.
class resume_probe {
 public:
  void before() {
    // ORDERING: acq_rel exchange, pairs with the one in after(): a resume on
    // another worker sees this step's writes (the runtime orders them too).
    WEFT_FUZZ_CHECK(state_.exchange(1, std::memory_order_acq_rel) == 0,
                    "a task suspended while a suspension was pending");
    ++suspends_;
  }
  void after() {
    // ORDERING: acq_rel exchange, pairs with before().
    WEFT_FUZZ_CHECK(state_.exchange(0, std::memory_order_acq_rel) == 1,
                    "a task was resumed twice for one suspension");
    ++resumes_;
  }
  void end() const { WEFT_FUZZ_CHECK(suspends_ == resumes_, "resumptions != suspensions"); }

 private:
  std::atomic<int> state_{0};
  long suspends_ = 0;
  long resumes_ = 0;
};

/// What the operations share; outlives the runtime (its tasks' guards and
/// permits point here).
struct env {
  explicit env(counters& c, bool p) : cnt(c), paused(p), ch(weft::mpsc::channel<msg>(2)) {}
  counters& cnt;
  bool paused;
  weft::mutex mu;
  weft::semaphore sem{2};
  std::pair<weft::mpsc::sender<msg>, weft::mpsc::receiver<msg>> ch;
  std::array<weft::cancellation_source, 4> sources;
  std::atomic<std::uint32_t> next_msg{0};

  /// A short duration: 0 or 1 ms on real time, 0-70 ms of virtual time.
  std::chrono::milliseconds d(std::uint8_t arg) const {
    return paused ? std::chrono::milliseconds((arg & 7) * 10) : std::chrono::milliseconds(arg & 1);
  }
  weft::cancellation_token token(std::uint8_t arg) const { return sources[arg & 3].token(); }
};

/// Sleep `d` and check it did not end early.
task<void> checked_sleep(resume_probe& p, std::chrono::milliseconds d) {
  const auto start = weft::now();
  p.before();
  co_await weft::sleep(d);
  p.after();
  WEFT_FUZZ_CHECK(weft::now() - start >= d, "a sleep of %lld ms ended early",
                  static_cast<long long>(d.count()));
}

task<int> worker(env* e, task_guard g, int id, std::uint8_t kind, std::uint8_t arg) {
  resume_probe p;
  switch (kind & 7) {
    case 0:
      co_await checked_sleep(p, e->d(arg));
      break;
    case 1: {
      p.before();
      auto r = co_await weft::timeout(e->d(arg), e->mu.lock());
      p.after();
      if (r) {
        p.before();
        co_await weft::yield_now();  // hold it across a suspension
        p.after();
      }
      break;
    }
    case 2: {
      p.before();
      auto r = co_await weft::timeout(e->d(arg), e->sem.acquire(1 + (arg >> 7)));
      p.after();
      if (r) co_await checked_sleep(p, e->d(arg >> 1));
      break;
    }
    case 3: {
      p.before();
      auto r = co_await weft::timeout(
          e->d(arg), e->ch.first.send(msg(e->cnt, e->next_msg.fetch_add(1, std::memory_order_relaxed))));
      p.after();
      if (r && !*r) {  // closed: the value comes back
        msg m = r->take_value();
        m.armed = false;
        e->cnt.add(e->cnt.msgs_returned);
      }
      break;
    }
    case 4: {
      p.before();
      auto r = co_await weft::with_cancellation(e->token(arg), weft::sleep(e->d(arg) + 1ms));
      p.after();
      (void)r;
      break;
    }
    case 5: {
      p.before();
      auto r = co_await weft::when_any(weft::sleep(e->d(arg)),
                                       weft::with_cancellation(e->token(arg >> 2), weft::sleep(2ms)));
      p.after();
      WEFT_FUZZ_CHECK(r.index < 2, "when_any index");
      break;
    }
    case 6:
      for (int i = 0; i < (arg & 3); ++i) {
        p.before();
        co_await weft::yield_now();
        p.after();
      }
      break;
    default:
      p.end();
      g.done();  // finished, by throwing
      throw std::runtime_error("worker threw");  // its join gets the exception
  }
  p.end();
  g.done();
  co_return id;
}

task<void> dispatcher_task(env* e, task_guard g, std::uint8_t arg) {
  resume_probe p;
  co_await checked_sleep(p, e->d(arg));
  p.end();
  g.done();
}

struct joinable {
  weft::join_handle<int> h;
  int id;
  bool throws;
};

/// Join `j` under `bound`: true once it has an outcome (value or exception).
task<bool> join_one(resume_probe& p, joinable& j, std::chrono::milliseconds bound) {
  try {
    p.before();
    auto r = co_await weft::timeout(bound, j.h);  // an lvalue: the handle stays usable
    p.after();
    if (!r) {
      WEFT_FUZZ_CHECK(r.error() == weft::errc::timed_out, "join error %s",
                      r.error().message().c_str());
      co_return false;
    }
    WEFT_FUZZ_CHECK(!j.throws && *r == j.id, "join gave %d for task %d", *r, j.id);
  } catch (const std::runtime_error& ex) {
    p.after();
    WEFT_FUZZ_CHECK(j.throws, "task %d threw: %s", j.id, ex.what());
  }
  co_return true;
}

task<void> driver(env* e, const std::uint8_t* data, std::size_t size) {
  resume_probe p;
  counters& c = e->cnt;
  std::vector<joinable> handles;
  std::optional<weft::dispatcher> disp;
  std::vector<bool> seen;
  int next_id = 0;
  for (std::size_t i = 0; i + 1 < size && i / 2 < max_ops; i += 2) {
    const std::uint8_t op = data[i] & 15;
    const std::uint8_t kind = data[i] >> 4;
    const std::uint8_t arg = data[i + 1];
    switch (op) {
      case 0:
      case 1: {
        const int id = next_id++;
        handles.push_back({weft::spawn(worker, e, task_guard(c), id, kind, arg), id, (kind & 7) == 7});
        break;
      }
      case 2:
        if (!handles.empty()) {
          const std::size_t k = arg % handles.size();
          if (co_await join_one(p, handles[k], e->d(kind))) handles.erase(handles.begin() + static_cast<std::ptrdiff_t>(k));
        }
        break;
      case 3:
        e->sources[arg & 3].cancel();
        break;
      case 4:
        co_await checked_sleep(p, e->d(arg));
        break;
      case 5: {
        const auto a = e->d(arg);
        const auto b = e->d(kind);
        p.before();
        auto r = co_await weft::timeout(a, weft::sleep(b));
        p.after();
        if (e->paused && a != b) WEFT_FUZZ_CHECK(r.has_value() == (b < a), "timeout race (paused)");
        break;
      }
      case 6: {
        const auto a = e->d(arg);
        const auto b = e->d(kind);
        p.before();
        auto r = co_await weft::when_any(weft::sleep(a), weft::sleep(b));
        p.after();
        if (e->paused && a != b) WEFT_FUZZ_CHECK(r.index == (a < b ? 0u : 1u), "when_any race (paused)");
        break;
      }
      case 7: {
        const int id = next_id++;
        p.before();
        try {
          auto [slept, v] = co_await weft::when_all(weft::sleep(e->d(arg)),
                                                    worker(e, task_guard(c), id, kind, arg));
          (void)slept;
          WEFT_FUZZ_CHECK(v == id && (kind & 7) != 7, "when_all value");
        } catch (const std::runtime_error&) {
          WEFT_FUZZ_CHECK((kind & 7) == 7, "when_all threw");
        }
        p.after();
        break;
      }
      case 8: {
        p.before();
        auto r = co_await weft::timeout(
            e->d(arg), e->ch.first.send(msg(c, e->next_msg.fetch_add(1, std::memory_order_relaxed))));
        p.after();
        if (r && !*r) {
          msg m = r->take_value();
          m.armed = false;
          c.add(c.msgs_returned);
        }
        break;
      }
      case 9: {
        p.before();
        auto r = co_await weft::timeout(e->d(arg), e->ch.second.recv());
        p.after();
        if (r && *r) {
          msg& m = **r;
          if (seen.size() <= m.id) seen.resize(m.id + 1);
          WEFT_FUZZ_CHECK(!seen[m.id], "message %u received twice", m.id);
          seen[m.id] = true;
          m.armed = false;
          c.add(c.msgs_received);
        }
        break;
      }
      case 10: {
        if (auto g = e->mu.try_lock()) break;  // free: taken and released at once
        p.before();
        auto r = co_await weft::timeout(e->d(arg), e->mu.lock());
        p.after();
        break;
      }
      case 11: {
        p.before();
        auto r = co_await weft::timeout(e->d(arg), e->sem.acquire(1 + (kind & 1)));
        p.after();
        if (r) co_await checked_sleep(p, e->d(arg >> 1));
        break;
      }
      case 12:
      case 13: {
        if (!disp || disp->is_shut_down()) {
          c.add(c.dispatchers);
          counters* cp = &c;
          weft::dispatcher_builder b;
          b.name("soup").shutdown_observer([cp](weft::dispatcher_ref) { cp->add(cp->observers); });
          if (kind & 1) b.unsynchronized();
          disp.emplace(b.create());
        }
        if (op == 12) {
          counters* cp = &c;
          tracked t(c);
          if (!disp->post_task([cp, t](weft::status) { cp->add(cp->called); })) c.add(c.posted);
        } else {
          (void)disp->spawn_task(dispatcher_task(e, task_guard(c), arg));
        }
        break;
      }
      case 14:
        if (kind & 1) {
          e->ch.second.close();  // sends now hand their value back; the buffer drains
        } else if (disp) {
          disp->shutdown();
        }
        break;
      default:
        if (!handles.empty() && (kind & 1)) {
          handles.erase(handles.begin() + static_cast<std::ptrdiff_t>(arg % handles.size()));  // detach
        } else {
          // A token cancelled before the call completes it at once, unstarted.
          const bool was_cancelled = e->sources[arg & 3].is_cancelled();
          p.before();
          auto r = co_await weft::with_cancellation(e->token(arg), weft::sleep(e->d(arg)));
          p.after();
          if (was_cancelled) {
            WEFT_FUZZ_CHECK(!r && r.error() == weft::errc::operation_canceled,
                            "with_cancellation on a cancelled token did not cancel");
          }
        }
        break;
    }
  }
  disp.reset();  // asynchronous shutdown
  // Every join gets an outcome: a task that never finishes is a failure.
  for (joinable& j : handles) {
    WEFT_FUZZ_CHECK(co_await join_one(p, j, forever_bound), "task %d never finished", j.id);
  }
  // What is still buffered is received (or dropped with the receiver).
  while (auto r = e->ch.second.try_recv()) {
    r->armed = false;
    c.add(c.msgs_received);
  }
  p.end();
}

void run(const std::uint8_t* data, std::size_t size, bool paused) {
  counters c;
  {
    env e(c, paused);
    {
      weft::runtime rt = paused ? weft::runtime_builder{}
                                      .flavor(weft::runtime_flavor::current_thread)
                                      .start_paused(true)
                                      .build()
                                : weft::runtime_builder{}.worker_threads(2).build();
      rt.block_on(driver(&e, data, size));
      rt.shutdown(forever_bound);
    }
  }
  if (std::getenv("WEFT_FUZZ_VERBOSE") != nullptr) {  // what the input exercised
    std::fprintf(stderr,
                 "op_soup %s: tasks %ld (finished %ld, destroyed %ld), callbacks %ld, "
                 "dispatchers %ld, messages %ld (received %ld, returned %ld, dropped %ld)\n",
                 paused ? "paused" : "2 workers", counters::get(c.tasks_made),
                 counters::get(c.tasks_finished), counters::get(c.tasks_destroyed),
                 counters::get(c.posted), counters::get(c.dispatchers), counters::get(c.msgs_made),
                 counters::get(c.msgs_received), counters::get(c.msgs_returned),
                 counters::get(c.msgs_dropped));
  }
  WEFT_FUZZ_CHECK(counters::get(c.tasks_made) ==
                      counters::get(c.tasks_finished) + counters::get(c.tasks_destroyed),
                  "tasks made %ld, finished %ld, destroyed %ld", counters::get(c.tasks_made),
                  counters::get(c.tasks_finished), counters::get(c.tasks_destroyed));
  WEFT_FUZZ_CHECK(counters::get(c.posted) == counters::get(c.called),
                  "posted %ld callbacks, %ld calls", counters::get(c.posted), counters::get(c.called));
  WEFT_FUZZ_CHECK(counters::get(c.dispatchers) == counters::get(c.observers),
                  "%ld dispatchers, %ld observer calls", counters::get(c.dispatchers),
                  counters::get(c.observers));
  WEFT_FUZZ_CHECK(counters::get(c.msgs_made) == counters::get(c.msgs_received) +
                                                    counters::get(c.msgs_returned) +
                                                    counters::get(c.msgs_dropped),
                  "messages made %ld != received %ld + returned %ld + dropped %ld",
                  counters::get(c.msgs_made), counters::get(c.msgs_received),
                  counters::get(c.msgs_returned), counters::get(c.msgs_dropped));
  WEFT_FUZZ_CHECK(counters::get(c.live) == 0, "%ld objects still alive", counters::get(c.live));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run(data, size, /*paused=*/true);
  run(data, size, /*paused=*/false);
  return 0;
}
