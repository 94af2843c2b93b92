// The work-stealing scheduler. See runtime_core.hpp for the design.
#include "scheduler/runtime_core.hpp"

#include "scheduler/simulation.hpp"

#include <weft/detail/deadline.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>

#include <pthread.h>
#include <csignal>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <string>

namespace weft::detail {
namespace {
// The worker this thread is (and of which runtime). A thread is a worker of
// at most one runtime at a time (a simulation switches it from one virtual
// worker to the next, step by step).
thread_local worker* tl_worker = nullptr;
thread_local runtime_core* tl_worker_rt = nullptr;

/// The I/O backend: the builder's choice, else WEFT_IO_BACKEND, else
/// automatic (io_uring where the kernel allows it, epoll otherwise).
driver_factory choose_drivers(const runtime_config& cfg) {
  const io_backend_choice choice = cfg.io_set_by_builder ? cfg.io : io_backend_from_env();
  driver_factory f = select_io_backend(choice);
  const char* log = std::getenv("WEFT_LOG");
  if (log != nullptr && std::string_view(log) == "debug") {
    std::fprintf(stderr, "weft: runtime I/O backend: %s\n", to_string(f.backend));
  }
  return f;
}

std::size_t worker_count_for(const runtime_config& cfg) {
  if (cfg.flavor == runtime_flavor::current_thread) return 1;
  if (cfg.worker_threads != 0) return cfg.worker_threads;
  if (cfg.flavor == runtime_flavor::simulation) return 2;
  return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

worker_scope::worker_scope(runtime_core* rt, worker* w) noexcept
    : prev_worker_(tl_worker),
      prev_rt_(tl_worker_rt),
      prev_current_(current_runtime()),
      prev_in_runner_(in_runner()) {
  tl_worker = w;
  tl_worker_rt = rt;
  current_runtime() = rt;
  in_runner() = true;
}

worker_scope::~worker_scope() {
  tl_worker = prev_worker_;
  tl_worker_rt = prev_rt_;
  current_runtime() = prev_current_;
  in_runner() = prev_in_runner_;
}

runtime_core::runtime_core(const runtime_config& cfg, runtime_core* root)
    : cfg_(cfg),
      root_(root),
      current_thread_(cfg.flavor == runtime_flavor::current_thread),
      simulated_(cfg.flavor == runtime_flavor::simulation),
      idle_(worker_count_for(cfg)),
      clock_(cfg.start_paused || simulated_),
      blocking_(*this, blocking_pool::config{cfg.max_blocking_threads, cfg.blocking_keep_alive,
                                             cfg.thread_name_prefix, cfg.on_thread_start,
                                             cfg.on_thread_stop, /*threadless=*/simulated_}) {
  const std::size_t n = worker_count_for(cfg);
  // Chosen once: every worker parks in the same kind of driver.
  driver_factory drivers;
  if (simulated_) {
    drivers = simulation_drivers(cfg);
  } else {
    drivers = choose_drivers(cfg);
  }
  backend_ = drivers.backend;
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto w = std::make_unique<worker>();
    w->index = i;
    // xorshift must not start at 0; distinct per worker.
    w->rng = (cfg.rng_seed ^ (0x9e3779b97f4a7c15ull * (i + 1))) | 1;
    // A worker thread drives its ring alone for its whole life; a
    // current-thread runtime is driven by whichever thread calls block_on.
    worker_drivers d = drivers.make(this, /*single_owner=*/!current_thread_);
    w->driver = std::move(d.park);
    w->io = d.io;
    workers_.push_back(std::move(w));
  }
  if (root_ != nullptr) root_->retain();  // released by ~runtime_core
  if (simulated_) {
    owned_.use_spawn_order();
    sim_thread_ = std::this_thread::get_id();
    sim_ = std::make_unique<simulation>(*this, cfg.rng_seed);
  }
}

runtime_core::~runtime_core() {
  if (root_ != nullptr) root_->release();
}

void runtime_core::start() {
  if (current_thread_ || simulated_) return;  // driven by block_on
  for (auto& wp : workers_) {
    worker& w = *wp;
    w.thread = std::thread([this, &w] { worker_main(w); });
    const std::string name = (cfg_.thread_name_prefix + "-" + std::to_string(w.index)).substr(0, 15);
    pthread_setname_np(w.thread.native_handle(), name.c_str());
  }
}

io_driver* current_io_driver() noexcept { return tl_worker != nullptr ? tl_worker->io : nullptr; }
scheduler* current_worker_runtime() noexcept { return tl_worker_rt; }

worker* runtime_core::this_worker() const noexcept {
  return tl_worker_rt == this ? tl_worker : nullptr;
}

void runtime_core::retain() noexcept {
  // ORDERING: relaxed: made from a reference the caller holds.
  refs_.fetch_add(1, std::memory_order_relaxed);
}

void runtime_core::release() noexcept {
  // ORDERING: acq_rel: the last release sees every other holder's writes
  // before the core is destroyed.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

// ---- scheduling ----------------------------------------------------------------

void runtime_core::schedule(task_header* t) noexcept {
  worker* w = this_worker();
  if (w == nullptr) {
    push_remote(t);
    return;
  }
  // Woken by the task running here (or a timer this worker fired): run it
  // next. The task it displaces goes to the queue where others may steal it.
  if (task_header* prev = std::exchange(w->lifo, t)) push_local(*w, prev);
}

void runtime_core::enqueue_local(worker& w, task_header* t) {
  w.queue.push_back_or_overflow(t, [this, &w](task_header* head, task_header* tail, std::size_t n) {
    // Closed only at shutdown, which destroys every owned task anyway.
    (void)inject_.push_batch(head, tail, n);
    // ORDERING: relaxed: a hint for thieves (steal_from_spawner).
    w.overflowing.store(true, std::memory_order_relaxed);
  });
}

void runtime_core::push_local(worker& w, task_header* t) {
  enqueue_local(w, t);
  notify_parked();
}

void runtime_core::push_remote(task_header* t) {
  if (!inject_.push(t)) return;  // shut down: the task is destroyed with the rest
  if (current_thread_) {
    workers_[0]->driver->unpark();
  } else {
    notify_parked();
  }
}

void runtime_core::notify_parked() {
  if (current_thread_) return;
  if (auto i = idle_.worker_to_notify()) workers_[*i]->driver->unpark();
}

void runtime_core::notify_if_work_pending() {
  for (auto& w : workers_) {
    if (w->queue.has_tasks()) {
      notify_parked();
      return;
    }
  }
  if (!inject_.is_empty()) notify_parked();
}

void runtime_core::check_simulation_thread(const char* what) const {
  if (!simulated_ || std::this_thread::get_id() == sim_thread_ || simulation_driven_here()) return;
  const std::string msg = std::string(what) +
                          " on a simulation runtime from a thread other than the one that built "
                          "it: a simulation is driven by one thread (its order comes from the "
                          "seed); spawn from its tasks or from that thread";
  throw_error(errc::nested_runtime, msg.c_str());
}

void runtime_core::spawn(task_header* t) {
  check_simulation_thread("spawn");
  // ORDERING: acquire: pairs with the release store in shutdown step 1.
  if (this_worker() == nullptr && closed_to_remote_.load(std::memory_order_acquire)) {
    throw_error(errc::runtime_shut_down, "spawn on a runtime that is shut down");
  }
  retain();  // the header's reference to its scheduler
  t->scheduler_ = this;
  t->prepare_unpublished(task_header::notified, 1);  // + the owned reference
  bool inserted = false;
  try {
    inserted = owned_.insert(t);
  } catch (...) {
    t->unref();  // the owned reference; the caller's handle frees the cell
    throw;
  }
  if (!inserted) {
    t->unref();  // as above
    throw_error(errc::runtime_shut_down, "spawn on a runtime that is shut down");
  }
  schedule(t);
}

void runtime_core::spawn_blocking(task_header* t) {
  check_simulation_thread("spawn_blocking");
  if (!blocking_.submit(t)) {
    throw_error(errc::runtime_shut_down, "spawn_blocking on a runtime that is shut down");
  }
}

bool runtime_core::on_complete(task_header* t) noexcept {
  owned_.remove(t);
  return true;  // the owned reference goes with completion
}

bool runtime_core::timer_register(timer_node& n, timer_shard*& shard) {
  worker* w = this_worker();
  if (w == nullptr) throw_error(errc::no_runtime, "a timer was set outside a runtime worker");
  if (!w->timers.insert(n)) return false;
  shard = &w->timers;
  return true;
}

std::shared_ptr<runtime_extension> runtime_core::attach_extension(
    const std::function<std::shared_ptr<runtime_extension>()>& make) {
  sync::lock_guard<sync::mutex> lock(extension_mu_);
  if (extension_ == nullptr && !extension_closed_) extension_ = make();
  return extension_;
}

void runtime_core::shutdown_tree(std::chrono::nanoseconds timeout) noexcept {
  const auto deadline = steady_deadline_after(timeout);  // saturating
  std::shared_ptr<runtime_extension> extension;
  {
    sync::lock_guard<sync::mutex> lock(extension_mu_);
    extension_closed_ = true;  // none attached from now on
    extension = extension_;
  }
  // 1. The extension (dispatchers) refuses new work and starts finishing.
  if (extension != nullptr) extension->begin_shutdown();
  // 2. The child cores: each waits up to the deadline for its tasks.
  children_.shutdown(deadline);
  // 3. This core; the extension stays reachable (dispatchers finish during
  //    its wait for tasks) until it is over.
  shutdown(time_left(deadline, std::chrono::steady_clock::now()));
  sync::lock_guard<sync::mutex> lock(extension_mu_);
  extension_.reset();
}

// ---- the runtime API ---------------------------------------------------------------

runtime_core* runtime_create(const runtime_config& cfg, const std::vector<role_spec>& roles) {
  auto* rt = new runtime_core(cfg);
  rt->start();
  try {
    rt->children().start_roles(roles);
  } catch (...) {
    rt->shutdown_tree(cfg.shutdown_timeout);
    rt->release();
    throw;
  }
  return rt;
}

bool runtime_runs_here(const runtime_core* rt) noexcept {
  // The core this thread belongs to: the one it runs a runner of, or the one
  // whose blocking pool it is a thread of (blocking pools belong only to
  // runtime cores: runtime_core constructs each one with itself as owner).
  const runtime_core* mine = nullptr;
  if (in_runner() && current_runtime() != nullptr) {
    mine = current_runtime();
  } else if (const scheduler* owner = blocking_pool_owner()) {
    mine = static_cast<const runtime_core*>(owner);
  }
  return mine != nullptr && mine->root() == rt->root();
}

void runtime_release(runtime_core* rt) noexcept { rt->release(); }

const runtime_config& runtime_get_config(const runtime_core* rt) noexcept { return rt->config(); }

io_backend runtime_io_backend(const runtime_core* rt) noexcept { return rt->backend(); }

void runtime_spawn(runtime_core* rt, task_header* t) { rt->spawn(t); }

void runtime_spawn_blocking(runtime_core* rt, task_header* t) { rt->spawn_blocking(t); }

void runtime_run_until_complete(runtime_core* rt, task_header* t) { rt->run_until_complete(t); }

void runtime_shutdown(runtime_core* rt, std::chrono::nanoseconds timeout) noexcept {
  rt->shutdown_tree(timeout);
}

bool runtime_wait_idle(runtime_core* rt, std::chrono::nanoseconds timeout) noexcept {
  return rt->wait_idle(timeout);
}

std::chrono::steady_clock::time_point runtime_now() noexcept {
  if (runtime_core* rt = current_runtime()) return rt->now();
  return std::chrono::steady_clock::now();
}

runtime_core& runtime_for(const char* what) {
  if (runtime_core* rt = current_runtime()) return *rt;
  const std::string msg = std::string(what) +
                          " needs a weft runtime: call it from a task running on one "
                          "(runtime::block_on, runtime::spawn, WEFT_MAIN)";
  throw_error(errc::no_runtime, msg.c_str());
}

bool timer_register(runtime_core& rt, timer_entry& e, timer_shard*& shard) {
  return rt.timer_register(static_cast<timer_node&>(e), shard);
}

bool timer_cancel(timer_shard* shard, timer_entry& e) noexcept {
  return shard->cancel(static_cast<timer_node&>(e));
}

std::uint64_t timer_tick_for(const runtime_core& rt, std::chrono::steady_clock::time_point tp) {
  return rt.tick_for(tp);
}

}  // namespace weft::detail
