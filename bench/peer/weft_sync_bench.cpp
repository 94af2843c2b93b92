// Channel and lock benchmarks: the shapes of tokio's own rt_multi_threaded
// (ping_pong), sync_mpsc, sync_mpsc_oneshot, sync_mutex and sync_semaphore
// benches. Twin of tokio/src/sync_bench.rs; keep the two in step.
//
// Output: one line per benchmark, name<TAB>median_ns<TAB>min_ns.

#include <weft/channel.hpp>
#include <weft/runtime.hpp>
#include <weft/sync.hpp>

#include "bench_common.hpp"

#include <cstddef>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

namespace weft_bench {
namespace {

constexpr std::size_t num_pings = 1'000;
constexpr std::size_t producers = 5;
constexpr std::size_t sends_per_producer = 1'000;
constexpr std::size_t uncontended_sends = 5'000;
constexpr std::size_t requests = 1'000;
constexpr std::size_t lock_tasks = 5;
constexpr std::size_t locks_per_task = 1'000;
constexpr std::size_t semaphore_tasks = 6;
constexpr std::size_t semaphore_permits = 5;
constexpr std::size_t acquires_per_task = 1'000;

// A broken channel or lock must not produce a fast, wrong number.
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "weft_sync_bench: %s\n", what);
    std::abort();
  }
}

countdown pings_done;

// num_pings pairs of tasks; in each, one sends on a oneshot, the other
// answers on a second oneshot. The last pair to finish signals the
// measuring thread.
void ping_pong(weft::runtime& rt, int reps) {
  measure("ping_pong", reps, [&] {
    pings_done.reset(num_pings);
    (void)rt.spawn([]() -> weft::task<> {
      for (std::size_t i = 0; i < num_pings; ++i) {
        (void)weft::spawn([]() -> weft::task<> {
          auto [tx1, rx1] = weft::oneshot::channel<int>();
          auto [tx2, rx2] = weft::oneshot::channel<int>();
          auto responder = [](weft::oneshot::receiver<int> rx,
                              weft::oneshot::sender<int> tx) -> weft::task<> {
            check((co_await rx).has_value(), "ping lost");
            check(tx.send(1).has_value(), "pong refused");
          };
          (void)weft::spawn(responder, std::move(rx1), std::move(tx2));
          check(tx1.send(1).has_value(), "ping refused");
          check((co_await rx2).has_value(), "pong lost");
          pings_done.arrive();
        });
      }
      co_return;
    });
    pings_done.done.acquire();
  });
}

// `producers` tasks each send sends_per_producer values; the block_on task
// receives them all. capacity 0: unbounded.
weft::task<> contention_round(std::size_t capacity) {
  if (capacity != 0) {
    auto [tx, rx] = weft::mpsc::channel<std::size_t>(capacity);
    for (std::size_t p = 0; p < producers; ++p) {
      auto producer = [](weft::mpsc::sender<std::size_t> tx) -> weft::task<> {
        for (std::size_t i = 0; i < sends_per_producer; ++i) {
          check((co_await tx.send(i)).has_value(), "bounded send failed");
        }
      };
      (void)weft::spawn(producer, tx);
    }
    for (std::size_t i = 0; i < producers * sends_per_producer; ++i) {
      check((co_await rx.recv()).has_value(), "bounded recv failed");
    }
  } else {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::size_t>();
    for (std::size_t p = 0; p < producers; ++p) {
      auto producer = [](weft::mpsc::unbounded_sender<std::size_t> tx) -> weft::task<> {
        for (std::size_t i = 0; i < sends_per_producer; ++i) {
          check(tx.send(i).has_value(), "unbounded send failed");
        }
        co_return;
      };
      (void)weft::spawn(producer, tx);
    }
    for (std::size_t i = 0; i < producers * sends_per_producer; ++i) {
      check((co_await rx.recv()).has_value(), "unbounded recv failed");
    }
  }
}

void mpsc_contention(weft::runtime& rt, int reps, const char* name, std::size_t capacity) {
  measure(name, reps, [&] { rt.block_on(contention_round(capacity)); });
}

// One task sends uncontended_sends values, then receives them.
weft::task<> uncontended_round(bool bounded) {
  if (bounded) {
    auto [tx, rx] = weft::mpsc::channel<std::size_t>(1'000'000);
    for (std::size_t i = 0; i < uncontended_sends; ++i) {
      check((co_await tx.send(i)).has_value(), "bounded send failed");
    }
    for (std::size_t i = 0; i < uncontended_sends; ++i) {
      check((co_await rx.recv()).has_value(), "bounded recv failed");
    }
  } else {
    auto [tx, rx] = weft::mpsc::unbounded_channel<std::size_t>();
    for (std::size_t i = 0; i < uncontended_sends; ++i) {
      check(tx.send(i).has_value(), "unbounded send failed");
    }
    for (std::size_t i = 0; i < uncontended_sends; ++i) {
      check((co_await rx.recv()).has_value(), "unbounded recv failed");
    }
  }
}

void mpsc_uncontended(weft::runtime& rt, int reps, const char* name, bool bounded) {
  measure(name, reps, [&] { rt.block_on(uncontended_round(bounded)); });
}

// A server task answers requests that carry a oneshot sender; the block_on
// task makes `requests` requests one after the other.
using reply_sender = weft::oneshot::sender<int>;

weft::task<> reply_server(weft::mpsc::receiver<reply_sender> rx) {
  for (;;) {
    weft::result<reply_sender> reply = co_await rx.recv();
    if (!reply) co_return;  // every requester is gone
    check(reply->send(1).has_value(), "reply refused");
  }
}

weft::task<> request_round(weft::mpsc::sender<reply_sender>& tx) {
  for (std::size_t i = 0; i < requests; ++i) {
    auto [o_tx, o_rx] = weft::oneshot::channel<int>();
    check((co_await tx.send(std::move(o_tx))).has_value(), "request refused");
    check((co_await o_rx).has_value(), "reply lost");
  }
}

void request_reply(weft::runtime& rt, int reps) {
  // Not a structured binding: clang 14 cannot capture one in the lambda below.
  auto channel = weft::mpsc::channel<reply_sender>(10);
  weft::mpsc::sender<reply_sender> tx = std::move(channel.first);
  weft::join_handle<void> server = rt.spawn(reply_server, std::move(channel.second));
  measure("mpsc_oneshot_request_reply", reps, [&] { rt.block_on(request_round(tx)); });
  { auto closing = std::move(tx); }  // the server sees the channel closed
  rt.block_on(std::move(server));
}

// lock_tasks tasks each take the lock locks_per_task times to bump a counter.
weft::task<> mutex_round(weft::mutex& m, std::size_t& counter) {
  std::vector<weft::join_handle<void>> handles;
  for (std::size_t t = 0; t < lock_tasks; ++t) {
    auto locker = [](weft::mutex& m, std::size_t& counter) -> weft::task<> {
      for (std::size_t i = 0; i < locks_per_task; ++i) {
        weft::mutex_guard g = co_await m.lock();
        ++counter;
      }
    };
    handles.push_back(weft::spawn(locker, std::ref(m), std::ref(counter)));
  }
  for (auto& h : handles) co_await std::move(h);
}

void mutex_contended(weft::runtime& rt, int reps) {
  weft::mutex m;
  std::size_t counter = 0;
  measure("mutex_contended", reps, [&] { rt.block_on(mutex_round(m, counter)); });
  check(counter == (reps + warmups) * lock_tasks * locks_per_task, "mutex lost an increment");
}

// semaphore_tasks tasks share semaphore_permits permits, each acquiring and
// releasing one acquires_per_task times.
weft::task<> semaphore_round(weft::semaphore& s) {
  std::vector<weft::join_handle<void>> handles;
  for (std::size_t t = 0; t < semaphore_tasks; ++t) {
    auto acquirer = [](weft::semaphore& s) -> weft::task<> {
      for (std::size_t i = 0; i < acquires_per_task; ++i) {
        weft::semaphore_permit permit = co_await s.acquire();
      }
    };
    handles.push_back(weft::spawn(acquirer, std::ref(s)));
  }
  for (auto& h : handles) co_await std::move(h);
}

void semaphore_contended(weft::runtime& rt, int reps) {
  weft::semaphore s(semaphore_permits);
  measure("semaphore_contended", reps, [&] { rt.block_on(semaphore_round(s)); });
  check(s.available() == semaphore_permits, "semaphore lost a permit");
}

}  // namespace

void run_sync_benchmarks(weft::runtime& rt, int reps) {
  ping_pong(rt, reps);
  mpsc_contention(rt, reps, "mpsc_bounded_100", 100);
  mpsc_contention(rt, reps, "mpsc_bounded_1e6", 1'000'000);
  mpsc_contention(rt, reps, "mpsc_unbounded", 0);
  mpsc_uncontended(rt, reps, "mpsc_uncontended_bounded", true);
  mpsc_uncontended(rt, reps, "mpsc_uncontended_unbounded", false);
  request_reply(rt, reps);
  mutex_contended(rt, reps);
  semaphore_contended(rt, reps);
}

}  // namespace weft_bench
