// The simulation flavour's driver. See simulation.hpp for the design.
#include "scheduler/simulation.hpp"

#include "cancel/cancellation_walk.hpp"
#include "io/sim_network.hpp"
#include "scheduler/runtime_core.hpp"

#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define WEFT_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define WEFT_SIM_ASAN 1
#endif
#endif

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

namespace weft::detail {
namespace {

/// A virtual worker's driver: it never waits (the simulation decides when a
/// parked worker acts again); unpark leaves a token the simulation reads.
class sim_park_driver final : public park_driver {
 public:
  explicit sim_park_driver(std::shared_ptr<sim_network> net) noexcept : net_(std::move(net)) {}
  [[nodiscard]] sim_network& network() const noexcept { return *net_; }
  void park(std::optional<std::chrono::nanoseconds>) override {}
  void unpark() noexcept override {
    // ORDERING: release: pairs with take_token's acquire. Only the driving
    // thread unparks in a well-formed simulation; the atomic keeps a stray
    // wake from another thread a lost determinism, not a data race.
    token_.store(true, std::memory_order_release);
  }
  [[nodiscard]] bool has_token() const noexcept {
    // ORDERING: acquire: pairs with unpark's release.
    return token_.load(std::memory_order_acquire);
  }
  void take_token() noexcept {
    // ORDERING: acquire: pairs with unpark's release.
    (void)token_.exchange(false, std::memory_order_acquire);
  }

 private:
  std::atomic<bool> token_{false};
  std::shared_ptr<sim_network> net_;  // the workers' shared I/O driver
};

sim_park_driver& sim_driver(worker& w) noexcept {
  return static_cast<sim_park_driver&>(*w.driver);
}

/// Points where a step may be paused while other actors act: weft's code
/// holds no lock there, and what another thread does in the window is what
/// the code after the point must survive.
bool preemptible(const char* name) noexcept {
  static constexpr const char* points[] = {
      "cell_complete.before_wake_joiner",  // a joiner may be cancelled, drop its handle
      "wait_queue.between_rounds",         // a still-linked waiter may be destroyed
      "join_handle.registered",            // the joined task may complete, wake us
      "inject_queue.pop_n.list_taken",     // others find the inject queue empty, may park
  };
  for (const char* p : points) {
    if (std::strcmp(p, name) == 0) return true;
  }
  return false;
}

/// A blocking-pool thread's view while a simulated blocking job runs: no
/// worker of any runtime (its wakes go through the inject queue, even when it
/// runs inside a paused worker's step), not a runner.
class blocking_actor_scope {
 public:
  blocking_actor_scope() noexcept : not_a_worker_(nullptr, nullptr) { in_runner() = false; }
  blocking_actor_scope(const blocking_actor_scope&) = delete;
  blocking_actor_scope& operator=(const blocking_actor_scope&) = delete;
  ~blocking_actor_scope() = default;  // worker_scope restores every field

 private:
  worker_scope not_a_worker_;
};

/// Installs the simulation's preemption hook on this thread for a run.
class hook_scope {
 public:
  explicit hook_scope(preemption_hook* h) noexcept : prev_(set_thread_preemption_hook(h)) {}
  hook_scope(const hook_scope&) = delete;
  hook_scope& operator=(const hook_scope&) = delete;
  ~hook_scope() { (void)set_thread_preemption_hook(prev_); }

 private:
  preemption_hook* prev_;
};

#if defined(WEFT_SIM_ASAN)
/// An ASan report on a thread that drives a simulation ends with its seed.
void describe_simulation_on_asan_death() {
  preemption_hook* h = set_thread_preemption_hook(nullptr);
  if (h != nullptr) h->describe_on_crash();
}
#endif

/// WEFT_SIM_STEP_LIMIT if it holds a positive number, else the default.
std::uint64_t step_limit_from_env() noexcept {
  const char* v = std::getenv("WEFT_SIM_STEP_LIMIT");
  if (v == nullptr || *v == '\0') return simulation::default_step_limit;
  if (*v < '0' || *v > '9') return simulation::default_step_limit;  // no sign: "-1" is no limit
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  return *end != '\0' || n == 0 ? simulation::default_step_limit : n;
}

}  // namespace

driver_factory simulation_drivers(const runtime_config& cfg) {
  // One network (and file system) for all the virtual workers, owned by
  // their park drivers (and by its sockets and files, which may outlive the
  // runtime).
  auto net = std::make_shared<sim_network>(cfg.network, cfg.files, cfg.rng_seed);
  return {io_backend::simulated, [net](scheduler*, bool) {
            return worker_drivers{std::make_unique<sim_park_driver>(net), net.get()};
          }};
}

simulation::simulation(runtime_core& rt, std::uint64_t seed)
    : rt_(rt),
      seed_(seed),
      step_limit_(step_limit_from_env()),
      net_(sim_driver(*rt.workers_.front()).network()),
      rng_(seed),
      state_(rt.workers_.size(), vstate::running),
      busy_(rt.workers_.size(), false) {
  net_.set_origin(rt.clock_.time_of(0));
#if defined(WEFT_SIM_ASAN)
  __sanitizer_set_death_callback(&describe_simulation_on_asan_death);
#endif
}

void simulation::describe_on_crash() noexcept {
  try {
    std::fprintf(stderr, "%s\n", describe("a fatal error").c_str());
  } catch (...) {
    std::fprintf(stderr, "weft simulation seed %llu: a fatal error\n",
                 static_cast<unsigned long long>(seed_));
  }
}

std::uint64_t simulation::next_random() noexcept {
  // splitmix64: every seed, including 0, gives a well-spread sequence.
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool simulation::act_once() {
  candidates_.clear();
  const std::uint64_t now = rt_.clock_.now_tick();
  for (std::size_t i = 0; i < state_.size(); ++i) {
    if (busy_[i]) continue;
    worker& w = *rt_.workers_[i];
    if (state_[i] != vstate::parked || sim_driver(w).has_token() ||
        w.timers.due_hint <= now) {
      candidates_.push_back(i);
    }
  }
  if (rt_.blocking_.has_queued()) candidates_.push_back(blocking_actor);
  net_.set_now(rt_.clock_.now());
  if (auto next = net_.next_event(); next && *next <= rt_.clock_.now()) {
    candidates_.push_back(network_actor);
  }
  if (candidates_.empty()) return false;
  const std::size_t pick = candidates_[next_random() % candidates_.size()];
  ++steps_;
  act(pick);
  return true;
}

void simulation::act(std::size_t actor) {
  if (actor == blocking_actor) {
    blocking_actor_scope scope;
    (void)rt_.blocking_.run_one_here();
    return;
  }
  if (actor == network_actor) {
    // A delivery is no worker's: the tasks it wakes go through the inject
    // queue, as from a blocking-pool thread.
    blocking_actor_scope scope;
    (void)net_.deliver_one();
    return;
  }
  worker& w = *rt_.workers_[actor];
  busy_[actor] = true;
  {
    worker_scope scope(&rt_, &w);
    switch (state_[actor]) {
      case vstate::running:
        if (rt_.step(w) == runtime_core::step_outcome::idle) state_[actor] = vstate::wants_park;
        break;
      case vstate::wants_park:
        state_[actor] = rt_.park_enter(w) ? vstate::parked : vstate::running;
        break;
      case vstate::parked:
        // As the driver's park returning: the token is spent.
        sim_driver(w).take_token();
        if (rt_.park_after_wake(w)) state_[actor] = vstate::running;
        break;
    }
  }
  busy_[actor] = false;
}

bool simulation::advance_time() {
  std::optional<std::uint64_t> earliest;
  for (auto& w : rt_.workers_) {
    if (auto next = w->timers.next_expiration()) {
      if (!earliest || *next < *earliest) earliest = next;
    }
  }
  std::optional<std::chrono::steady_clock::time_point> at;
  if (earliest) at = rt_.clock_.time_of(*earliest);
  if (auto next = net_.next_event(); next && (!at || *next < *at)) at = next;
  if (!at) return false;
  rt_.clock_.advance_to(*at);
  return true;
}

void simulation::at_point(const char* name) noexcept {
  // At most two pauses nested, each for at most four transitions of others.
  if (depth_ >= 2 || !preemptible(name)) return;
  // Never inside a cancellation walk: it tells "the canceller" from others
  // by thread, and every virtual worker is this one thread (another worker
  // withdrawing a callback that is still running would not wait for it).
  if (cancellation_walk_on_this_thread()) return;
  if (next_random() % 2 != 0) return;
  const std::uint64_t n = 1 + next_random() % 4;
  ++depth_;
  const int saved_budget = budget();
  for (std::uint64_t k = 0; k < n; ++k) {
    if (!act_once()) break;
  }
  budget() = saved_budget;
  --depth_;
}

std::string simulation::describe(const char* what) const {
  std::string s = "weft simulation seed " + std::to_string(seed_) + " (" +
                  std::to_string(state_.size()) + " workers): " + what + " at step " +
                  std::to_string(steps_) + ", virtual time +" +
                  std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                     rt_.clock_.now() - rt_.clock_.time_of(0))
                                     .count()) +
                  " us. Workers:";
  for (std::size_t i = 0; i < state_.size(); ++i) {
    const worker& w = *rt_.workers_[i];
    const char* st = state_[i] == vstate::running      ? "running"
                     : state_[i] == vstate::wants_park ? "about to park"
                                                       : "parked";
    s += " [" + std::to_string(i) + ": " + st + ", " +
         (w.queue.has_tasks() ? "local queue not empty" : "local queue empty") +
         (w.lifo != nullptr ? ", a task in its LIFO slot" : "") + "]";
  }
  s += std::string("; inject queue ") + (rt_.inject_.is_empty() ? "empty" : "NOT empty") +
       "; " + net_.describe() +
       ". Replay it with runtime_builder().flavor(runtime_flavor::simulation).rng_seed(" +
       std::to_string(seed_) + ") (or WEFT_SIM_SEED=" + std::to_string(seed_) +
       " with weft::simulate)";
  return s;
}

void simulation::run_until(task_header* root) {
  hook_scope hook(this);
  // Per block_on call; saturating, so a huge limit means none.
  const std::uint64_t limit =
      step_limit_ > UINT64_MAX - steps_ ? UINT64_MAX : steps_ + step_limit_;
  while (!root->is_complete()) {
    if (steps_ >= limit) {
      const std::string what =
          describe("the step limit was reached before block_on's task completed");
      abandon(root);
      throw_error(errc::simulation_step_limit, what.c_str());
    }
    if (act_once()) continue;
    if (advance_time()) continue;
    const std::string what =
        describe("stalled: block_on's task waits, and no worker, timer or blocking job "
                 "can act (a deadlock or a lost wake-up)");
    abandon(root);
    throw_error(errc::simulation_stalled, what.c_str());
  }
}

void simulation::abandon(task_header* root) noexcept {
  // block_on throws next, and the awaitable its task awaits by reference
  // goes with the caller's frame: the task must never run again (shutdown's
  // drain resumed it into a destroyed coroutine before this). Its frame is
  // destroyed now; a leaf whose cancellation completes later (none on the
  // in-memory network, whose cancel is synchronous) is driven to the end.
  if (root->is_complete() || cell_request_cancel(root)) return;
  try {
    for (std::uint64_t k = 0; k < drain_step_limit && !root->is_complete(); ++k) {
      if (!act_once() && !advance_time()) break;
    }
  } catch (...) {
    // Out of memory while driving it: it is not complete, stop below.
  }
  if (!root->is_complete()) {
    std::fprintf(stderr,
                 "weft simulation seed %llu: block_on's task could not be cancelled after the "
                 "run failed; it refers to the caller's frame, so the process stops here\n",
                 static_cast<unsigned long long>(seed_));
    std::abort();
  }
}

void simulation::drain(std::chrono::nanoseconds timeout) noexcept {
  hook_scope hook(this);
  // The shutdown timeout in virtual time (a ticker would otherwise keep the
  // drain going for ever), and a step bound for tasks that only yield.
  const auto deadline = rt_.clock_.now() + std::min(timeout, std::chrono::nanoseconds(
                                                                 std::chrono::hours(24 * 365)));
  const std::uint64_t limit = steps_ + drain_step_limit;
  while ((!rt_.owned_.all_empty() || rt_.blocking_.has_queued()) && steps_ < limit &&
         rt_.clock_.now() < deadline) {
    if (act_once()) continue;
    if (!advance_time()) return;  // the rest wait forever: shutdown destroys them
  }
}

}  // namespace weft::detail
