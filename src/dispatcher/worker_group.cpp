// Scheduler roles and dedicated groups: a runtime's dispatch_domain. See
// worker_group.hpp.
#include "dispatcher/worker_group.hpp"

#include "dispatcher/dispatcher_state.hpp"
#include "scheduler/runtime_core.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/error.hpp>
#include <weft/runtime.hpp>

#include <algorithm>
#include <utility>

namespace weft {

runtime_builder& runtime_builder::scheduler_role(std::string name, role_options options) {
  if (name.empty()) {
    throw_error(errc::invalid_builder_setting,
                "runtime_builder::scheduler_role: the name must not be empty (the empty role "
                "already means the runtime's own workers); give the role a name");
  }
  if (options.threads == 0 || options.threads > 64) {
    const std::string msg = "runtime_builder::scheduler_role(\"" + name +
                            "\"): threads = " + std::to_string(options.threads) +
                            " must be between 1 and 64";
    throw_error(errc::invalid_builder_setting, msg.c_str());
  }
  for (const detail::role_entry& r : roles_) {
    if (r.name == name) {
      const std::string msg = "runtime_builder::scheduler_role(\"" + name +
                              "\"): the role is already declared; declare each role once";
      throw_error(errc::invalid_builder_setting, msg.c_str());
    }
  }
  roles_.push_back(detail::role_entry{std::move(name), std::move(options)});
  return *this;
}

}  // namespace weft

namespace weft::detail {

namespace {

// Core → domain, for every runtime built by runtime_builder and every group.
// Leaked on purpose: runtimes may be destroyed during static destruction.
struct domain_registry {
  sync::mutex mu;
  std::unordered_map<const runtime_core*, std::shared_ptr<dispatch_domain>> map;
};

domain_registry& registry() {
  static domain_registry* r = new domain_registry;
  return *r;
}

void registry_add(const runtime_core* core, std::shared_ptr<dispatch_domain> d) {
  domain_registry& r = registry();
  sync::lock_guard<sync::mutex> lock(r.mu);
  r.map[core] = std::move(d);
}

void registry_remove(const runtime_core* core) noexcept {
  std::shared_ptr<dispatch_domain> dropped;  // released outside the lock
  domain_registry& r = registry();
  sync::lock_guard<sync::mutex> lock(r.mu);
  auto it = r.map.find(core);
  if (it == r.map.end()) return;
  dropped = std::move(it->second);
  r.map.erase(it);
}

std::chrono::nanoseconds left_until(std::chrono::steady_clock::time_point deadline) noexcept {
  return time_left(deadline, std::chrono::steady_clock::now());
}

void stop_group(runtime_core* g, std::chrono::nanoseconds timeout) noexcept {
  runtime_shutdown(g, timeout);
  registry_remove(g);
  runtime_release(g);
}

}  // namespace

dispatch_domain::~dispatch_domain() {
  // INVARIANT: shut down before the last reference went (runtime shutdown,
  // or a failed build), so no group is left running.
}

std::shared_ptr<dispatch_domain> dispatch_domain::of(const runtime_core* core) {
  domain_registry& r = registry();
  sync::lock_guard<sync::mutex> lock(r.mu);
  auto it = r.map.find(core);
  return it == r.map.end() ? nullptr : it->second;
}

runtime_config dispatch_domain::child_config() const {
  runtime_config cfg = runtime_get_config(parent_);
  cfg.flavor = runtime_flavor::multi_thread;
  cfg.start_paused = false;
  // The backend the parent found to work.
  cfg.io = runtime_io_backend(parent_) == io_backend::io_uring ? io_backend_choice::io_uring
                                                               : io_backend_choice::epoll;
  cfg.io_set_by_builder = true;
  return cfg;
}

void dispatch_domain::start_roles(const std::vector<role_entry>& roles) {
  for (const role_entry& r : roles) {
    runtime_config cfg = child_config();
    cfg.worker_threads = r.options.threads;
    cfg.thread_name_prefix = r.name;
    cfg.on_thread_start = r.options.on_thread_start;
    cfg.on_thread_stop = r.options.on_thread_stop;
    runtime_core* core = runtime_create(cfg);
    sync::lock_guard<sync::mutex> lock(mu_);
    registry_add(core, shared_from_this());
    roles_[r.name] = role_group{core, r.options};
  }
}

runtime_core* dispatch_domain::group_for(const std::string& role) const {
  sync::lock_guard<sync::mutex> lock(mu_);
  if (closed_) {
    throw_error(errc::runtime_shut_down,
                "dispatcher_builder::create: the runtime is shutting down; create dispatchers "
                "before its shutdown begins");
  }
  if (role.empty()) return parent_;
  auto it = roles_.find(role);
  if (it != roles_.end()) return it->second.core;
  std::string msg = "dispatcher_builder::scheduler_role(\"" + role +
                    "\"): the runtime declares no such role; declare it with "
                    "runtime_builder::scheduler_role, or use \"\" for the runtime's own workers "
                    "(declared roles:";
  if (roles_.empty()) msg += " none";
  for (const auto& entry : roles_) msg += " \"" + entry.first + "\"";
  msg += ")";
  throw_error(errc::unknown_scheduler_role, msg.c_str());
}

runtime_core* dispatch_domain::make_dedicated(const std::string& name, const std::string& role) {
  runtime_config cfg = child_config();
  cfg.worker_threads = 1;
  cfg.thread_name_prefix = name.empty() ? std::string("weft-dispatch") : name;
  if (!role.empty()) {
    sync::lock_guard<sync::mutex> lock(mu_);
    auto it = roles_.find(role);
    if (it != roles_.end()) {
      cfg.on_thread_start = it->second.options.on_thread_start;
      cfg.on_thread_stop = it->second.options.on_thread_stop;
    }
  }
  runtime_core* core = runtime_create(cfg);
  bool closed;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    closed = closed_;
    if (!closed) {
      registry_add(core, shared_from_this());  // before anyone can retire it
      dedicated_.push_back(core);
    }
  }
  if (closed) {
    runtime_shutdown(core, cfg.shutdown_timeout);  // from the creating thread: not its own
    runtime_release(core);
    throw_error(errc::runtime_shut_down,
                "dispatcher_builder::create: the runtime is shutting down; create dispatchers "
                "before its shutdown begins");
  }
  return core;
}

namespace {
/// Owns the retirement of a dedicated group: whatever happens to the job
/// (run, or destroyed unrun by the pool's shutdown), its destruction does it.
class group_retirer {
 public:
  group_retirer(std::shared_ptr<dispatch_domain> d, runtime_core* g) noexcept
      : d_(std::move(d)), g_(g) {}
  group_retirer(group_retirer&& o) noexcept
      : d_(std::move(o.d_)), g_(std::exchange(o.g_, nullptr)) {}
  group_retirer& operator=(group_retirer&&) = delete;
  ~group_retirer() {
    if (g_ != nullptr) d_->finish_retire(g_);
  }

 private:
  std::shared_ptr<dispatch_domain> d_;
  runtime_core* g_;
};
}  // namespace

void dispatch_domain::retire_dedicated(runtime_core* group) noexcept {
  // Called on the group's own worker (its dispatcher's finisher) or, when
  // runtime shutdown destroyed the pump, by the thread shutting the group
  // down — which has already taken it out of dedicated_. Never shut a group
  // down on its own thread: the parent's blocking pool does it.
  try {
    auto job = [r = group_retirer(shared_from_this(), group)]() {};
    (void)spawn_blocking_on(parent_, check_created(make_cell<void, decltype(job)>(std::move(job))));
  } catch (...) {
    // Refused: the parent's blocking pool is shut down, so runtime shutdown
    // has taken the group already (the destroyed job found it gone).
  }
}

void dispatch_domain::finish_retire(runtime_core* group) noexcept {
  bool mine = false;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    auto it = std::find(dedicated_.begin(), dedicated_.end(), group);
    if (it != dedicated_.end()) {
      dedicated_.erase(it);
      mine = true;
    }
  }
  if (mine) stop_group(group, runtime_get_config(group).shutdown_timeout);
}

bool dispatch_domain::add(std::shared_ptr<dispatcher_state> s) {
  sync::lock_guard<sync::mutex> lock(mu_);
  if (closed_) return false;
  dispatcher_state* key = s.get();
  live_.emplace(key, std::move(s));
  return true;
}

void dispatch_domain::remove(dispatcher_state* s) noexcept {
  std::shared_ptr<dispatcher_state> dropped;  // released outside the lock
  sync::lock_guard<sync::mutex> lock(mu_);
  auto it = live_.find(s);
  if (it == live_.end()) return;
  dropped = std::move(it->second);
  live_.erase(it);
}

void dispatch_domain::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  std::vector<std::shared_ptr<dispatcher_state>> states;
  std::vector<runtime_core*> groups;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;  // 1. create() refused from now on
    states.reserve(live_.size());
    for (const auto& entry : live_) states.push_back(entry.second);
    for (const auto& entry : roles_) groups.push_back(entry.second.core);
    groups.insert(groups.end(), dedicated_.begin(), dedicated_.end());
    roles_.clear();
    dedicated_.clear();
  }
  // 2. Every live dispatcher starts its shutdown.
  for (const auto& s : states) s->begin_shutdown();
  states.clear();
  // 3. The groups: each lets its pumps finish (up to the deadline), then
  //    destroys what is left; a destroyed pump finishes its dispatcher.
  for (runtime_core* g : groups) stop_group(g, left_until(deadline));
}

// ---- the runtime's entry points (weft/runtime.hpp) ---------------------------------

runtime_core* runtime_create_with_roles(const runtime_config& cfg,
                                        const std::vector<role_entry>& roles) {
  runtime_core* core = runtime_create(cfg);
  auto domain = std::make_shared<dispatch_domain>(core);
  registry_add(core, domain);
  try {
    domain->start_roles(roles);
  } catch (...) {
    runtime_shutdown_with_roles(core, cfg.shutdown_timeout);
    runtime_release(core);
    throw;
  }
  return core;
}

bool runs_on_runtime_or_its_groups(const runtime_core* rt) noexcept {
  // The core this thread belongs to: the one it runs a runner of, or the one
  // whose blocking pool it is a thread of (blocking pools belong only to
  // runtime cores: runtime_core constructs each one with itself as owner).
  const runtime_core* mine = nullptr;
  if (in_runner() && current_runtime() != nullptr) {
    mine = current_runtime();
  } else if (const scheduler* owner = blocking_pool_owner()) {
    mine = static_cast<const runtime_core*>(owner);
  }
  if (mine == nullptr) return false;
  if (mine == rt) return true;
  // A role's or a blocking dispatcher's thread: its core maps to rt's domain.
  const std::shared_ptr<dispatch_domain> domain = dispatch_domain::of(mine);
  return domain != nullptr && domain == dispatch_domain::of(rt);
}

void runtime_shutdown_with_roles(runtime_core* rt, std::chrono::nanoseconds timeout) noexcept {
  const auto deadline = steady_deadline_after(timeout);  // saturating
  if (std::shared_ptr<dispatch_domain> d = dispatch_domain::of(rt)) d->shutdown(deadline);
  // 4. The runtime itself: its pumps finish during its wait for tasks.
  runtime_shutdown(rt, left_until(deadline));
  registry_remove(rt);
}

}  // namespace weft::detail
