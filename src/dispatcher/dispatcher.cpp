// weft::dispatcher_builder, weft::dispatcher_ref: creating dispatchers and
// handing them work. See weft/dispatcher.hpp and dispatcher_state.hpp.
#include <weft/dispatcher.hpp>

#include "dispatcher/dispatcher_state.hpp"
#include "dispatcher/dispatch_domain.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/task_cell.hpp>
#include <weft/runtime.hpp>

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

namespace weft {

namespace detail {

std::error_code dispatcher_post(dispatcher_state* s, dispatch_callback* cb) noexcept {
  if (s == nullptr) {
    cb->call_and_delete(cb, status::canceled_status(), /*call=*/false);
    return make_error_code(errc::dispatcher_shut_down);
  }
  return s->post(cb);
}

namespace {

const std::string empty_string;

/// Pumps for a group: one (synchronized), or one per worker (unsynchronized).
std::size_t pump_count(runtime_core* group, bool unsynchronized) {
  if (!unsynchronized) return 1;
  const runtime_config& cfg = runtime_get_config(group);
  if (cfg.flavor == runtime_flavor::current_thread) return 1;
  // A simulation's default is 2 virtual workers, whatever the machine.
  if (cfg.flavor == runtime_flavor::simulation && cfg.worker_threads == 0) return 2;
  const std::size_t n = cfg.worker_threads != 0
                            ? cfg.worker_threads
                            : std::max<std::size_t>(1, std::thread::hardware_concurrency());
  return std::min<std::size_t>(n, 64);
}

dispatcher_ref create_on(runtime_core* rt, dispatcher_config cfg) {
  std::shared_ptr<dispatch_domain> domain = dispatch_domain::of(rt);
  if (domain == nullptr) {
    throw_error(errc::runtime_shut_down,
                "dispatcher_builder::create: the runtime has shut down; create dispatchers on "
                "a running runtime");
  }
  runtime_core* group = domain->group_for(cfg.role);  // throws for an unknown role
  const bool dedicated = cfg.allow_blocking;
  if (dedicated && runtime_get_config(rt).flavor == runtime_flavor::simulation) {
    throw_error(errc::invalid_builder_setting,
                "dispatcher_builder::allow_thread_blocking on a simulation runtime: such a "
                "dispatcher runs on a thread of its own, which the simulation's seed cannot "
                "order; drop allow_thread_blocking in simulated tests");
  }
  if (dedicated) group = domain->make_dedicated(cfg.name, cfg.role);
  const std::size_t pumps = pump_count(group, cfg.unsynchronized);
  std::function<void(dispatcher_ref)> observer = std::move(cfg.observer);
  cfg.observer = nullptr;
  std::shared_ptr<dispatcher_state> s;
  try {
    s = std::make_shared<dispatcher_state>(std::move(cfg), domain, group, dedicated, pumps);
  } catch (...) {
    if (dedicated) domain->retire_dedicated(group);
    throw;
  }
  for (std::size_t i = 0; i < pumps; ++i) {
    try {
      (void)spawn_on(
          group, make_spawn_cell(&dispatcher_state::pump_main, dispatcher_state::pump_ticket(s)));
    } catch (...) {
      // The refused pump's ticket accounted for it; the ones started finish
      // the dispatcher, without an observer.
      s->abandon(pumps - i - 1);
      throw;
    }
  }
  // Nobody can shut it down before add() makes it visible to the runtime.
  s->arm_observer(std::move(observer));
  if (!domain->add(s)) {
    s->abandon(0);
    throw_error(errc::runtime_shut_down,
                "dispatcher_builder::create: the runtime is shutting down; create dispatchers "
                "before its shutdown begins");
  }
  return dispatcher_ref(std::move(s));
}

}  // namespace
}  // namespace detail

// ---- dispatcher_ref -------------------------------------------------------------------

std::error_code dispatcher_ref::spawn_task(task<void> t) const {
  if (state_ == nullptr) return make_error_code(errc::dispatcher_shut_down);
  detail::cell<void> c = detail::check_created(detail::make_await_cell<void>(std::move(t)));
  return state_->spawn(c.header);
}

void dispatcher_ref::shutdown() const noexcept {
  if (state_ != nullptr) state_->begin_shutdown();
}

const std::string& dispatcher_ref::name() const noexcept {
  return state_ != nullptr ? state_->config().name : detail::empty_string;
}

const std::string& dispatcher_ref::scheduler_role() const noexcept {
  return state_ != nullptr ? state_->config().role : detail::empty_string;
}

bool dispatcher_ref::is_unsynchronized() const noexcept {
  return state_ != nullptr && state_->config().unsynchronized;
}

bool dispatcher_ref::allows_thread_blocking() const noexcept {
  return state_ != nullptr && state_->config().allow_blocking;
}

bool dispatcher_ref::is_shut_down() const noexcept {
  return state_ == nullptr || state_->is_shut_down();
}

// ---- dispatcher_builder -----------------------------------------------------------------

dispatcher_builder& dispatcher_builder::name(std::string n) {
  name_ = std::move(n);
  return *this;
}

namespace {
[[noreturn]] void refuse_blocking_and_unsynchronized(const char* what) {
  throw_error(errc::invalid_builder_setting,
              (std::string("dispatcher_builder::") + what +
               ": a dispatcher that allows thread blocking runs on one dedicated thread, so it "
               "cannot be unsynchronized; choose one of the two (use spawn_blocking for parallel "
               "blocking work)")
                  .c_str());
}
}  // namespace

dispatcher_builder& dispatcher_builder::unsynchronized() {
  if (allow_blocking_) {
    refuse_blocking_and_unsynchronized("unsynchronized after allow_thread_blocking");
  }
  unsynchronized_ = true;
  return *this;
}

dispatcher_builder& dispatcher_builder::allow_thread_blocking() {
  if (unsynchronized_) {
    refuse_blocking_and_unsynchronized("allow_thread_blocking after unsynchronized");
  }
  allow_blocking_ = true;
  return *this;
}

dispatcher_builder& dispatcher_builder::scheduler_role(std::string role) {
  role_ = std::move(role);
  return *this;
}

dispatcher_builder& dispatcher_builder::shutdown_observer(std::function<void(dispatcher_ref)> fn) {
  observer_ = std::move(fn);
  return *this;
}

dispatcher dispatcher_builder::create() const {
  return dispatcher(create_released());
}

dispatcher dispatcher_builder::create(runtime& rt) const {
  return dispatcher(create_released(rt));
}

dispatcher_ref dispatcher_builder::create_released() const {
  detail::runtime_core* rt = detail::current_runtime();
  if (rt == nullptr) {
    throw_error(errc::no_runtime,
                "dispatcher_builder::create() needs a weft runtime: call it from a task running "
                "on one (runtime::block_on, runtime::spawn, a dispatcher's callback), or pass "
                "the runtime: create(rt)");
  }
  return detail::create_on(
      rt, detail::dispatcher_config{name_, role_, unsynchronized_, allow_blocking_, observer_});
}

dispatcher_ref dispatcher_builder::create_released(runtime& rt) const {
  if (rt.core() == nullptr) {
    throw_error(errc::runtime_shut_down, "dispatcher_builder::create: a moved-from weft::runtime");
  }
  return detail::create_on(rt.core(), detail::dispatcher_config{name_, role_, unsynchronized_,
                                                                allow_blocking_, observer_});
}

}  // namespace weft
