// The dispatchers of one runtime. See dispatch_domain.hpp.
#include "dispatcher/dispatch_domain.hpp"

#include "dispatcher/dispatcher_state.hpp"
#include "scheduler/runtime_core.hpp"

#include <weft/error.hpp>

#include <utility>
#include <vector>

namespace weft::detail {

std::shared_ptr<dispatch_domain> dispatch_domain::of(runtime_core* core) {
  runtime_core* root = core->root();
  std::shared_ptr<runtime_extension> e = root->attach_extension(
      [root]() -> std::shared_ptr<runtime_extension> { return std::make_shared<dispatch_domain>(root); });
  // The only extension a runtime has is its dispatch domain.
  return std::static_pointer_cast<dispatch_domain>(std::move(e));
}

void dispatch_domain::throw_shutting_down() {
  throw_error(errc::runtime_shut_down,
              "dispatcher_builder::create: the runtime is shutting down; create dispatchers "
              "before its shutdown begins");
}

runtime_core* dispatch_domain::group_for(const std::string& role) const {
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (closed_) throw_shutting_down();
  }
  if (runtime_core* core = root_->children().role(role)) return core;
  std::string msg = "dispatcher_builder::scheduler_role(\"" + role +
                    "\"): the runtime declares no such role; declare it with "
                    "runtime_builder::scheduler_role, or use \"\" for the runtime's own workers "
                    "(declared roles:";
  const std::vector<std::string> names = root_->children().role_names();
  if (names.empty()) msg += " none";
  for (const std::string& name : names) msg += " \"" + name + "\"";
  msg += ")";
  throw_error(errc::unknown_scheduler_role, msg.c_str());
}

runtime_core* dispatch_domain::make_dedicated(const std::string& name, const std::string& role) {
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (closed_) throw_shutting_down();
  }
  runtime_core* core = root_->children().make_dedicated(name, role);
  if (core == nullptr) throw_shutting_down();
  return core;
}

void dispatch_domain::retire_dedicated(runtime_core* core) noexcept {
  root_->children().retire_dedicated(core);
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

void dispatch_domain::begin_shutdown() noexcept {
  std::vector<std::shared_ptr<dispatcher_state>> states;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;  // create() refused from now on
    states.reserve(live_.size());
    for (const auto& entry : live_) states.push_back(entry.second);
  }
  // Every live dispatcher starts its shutdown; the cores it runs on stop
  // next (runtime_core::shutdown_tree).
  for (const auto& s : states) s->begin_shutdown();
}

}  // namespace weft::detail
