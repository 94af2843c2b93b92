// dispatch_domain — a runtime's dispatchers and worker groups.
//
// Design
// ------
// Every runtime built by runtime_builder has one domain. It holds:
//   * the scheduler-role groups: one child runtime core per role declared
//     with runtime_builder::scheduler_role (multi_thread, its own workers,
//     timers, I/O drivers and blocking pool), started by build();
//   * the dedicated groups: a one-worker child core per allow_thread_blocking
//     dispatcher, started by its create() and shut down after the dispatcher
//     finished;
//   * the live dispatchers (a strong reference each, dropped when the
//     dispatcher's shutdown completes), so runtime shutdown can shut down the
//     released ones.
//
// Finding the domain: create() knows only the calling thread's runtime core
// (a worker of the runtime or of one of its groups). A process-wide map from
// core to domain answers that; a core is in it from its creation until its
// shutdown.
//
// A group is never shut down from one of its own threads (that would join
// itself): a dedicated group is retired by a job on the parent's blocking
// pool, which runtime shutdown waits for; the job's guard does the work, so
// a job the pool destroys unrun does it too. Whoever takes a group out of
// dedicated_ (that job, or the domain's shutdown) shuts it down and releases
// it — exactly once.
//
// Runtime shutdown (runtime_shutdown_with_roles), before the runtime's own:
//   1. close the domain: create() now throws errc::runtime_shut_down;
//   2. begin the shutdown of every live dispatcher;
//   3. shut down every group (role and dedicated): each waits up to the
//      timeout for its tasks — the pumps finishing their dispatchers — then
//      destroys the rest (a destroyed pump finishes its dispatcher inline);
//   4. then the runtime itself shuts down (its pumps finish the same way).
//
// Lifetime: the parent core outlives every group's threads (its runtime
// object holds it until shutdown, which joins them), so the raw parent_ is
// safe wherever a group's or the parent's thread uses it.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/runtime.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace weft::detail {

class runtime_core;
class dispatcher_state;

class dispatch_domain : public std::enable_shared_from_this<dispatch_domain> {
 public:
  explicit dispatch_domain(runtime_core* parent) noexcept : parent_(parent) {}
  dispatch_domain(const dispatch_domain&) = delete;
  dispatch_domain& operator=(const dispatch_domain&) = delete;
  ~dispatch_domain();

  /// The domain of a runtime or group core; nullptr once it shut down.
  static std::shared_ptr<dispatch_domain> of(const runtime_core* core);

  /// Start the role groups (build()). Throws what runtime_create throws.
  void start_roles(const std::vector<role_entry>& roles);

  /// The group running `role` ("" = the parent). Throws
  /// errc::unknown_scheduler_role, errc::runtime_shut_down.
  [[nodiscard]] runtime_core* group_for(const std::string& role) const;
  /// Start a dedicated one-worker group for the dispatcher `name` (on
  /// `role`'s thread hooks). Throws errc::runtime_shut_down.
  [[nodiscard]] runtime_core* make_dedicated(const std::string& name, const std::string& role);
  /// Hand a dedicated group to the parent's blocking pool to be shut down.
  void retire_dedicated(runtime_core* group) noexcept;

  /// Register a dispatcher; false once the domain is closed.
  [[nodiscard]] bool add(std::shared_ptr<dispatcher_state> s);
  void remove(dispatcher_state* s) noexcept;

  /// Steps 1–3 of runtime shutdown (see the header comment). Idempotent.
  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  /// Shut `group` down and release it if it is still in dedicated_.
  void finish_retire(runtime_core* group) noexcept;

 private:
  struct role_group {
    runtime_core* core = nullptr;
    role_options options;
  };
  [[nodiscard]] runtime_config child_config() const;

  runtime_core* const parent_;
  mutable sync::mutex mu_;
  bool closed_ = false;                                                            // guarded by mu_
  std::map<std::string, role_group> roles_;                                        // guarded by mu_
  std::vector<runtime_core*> dedicated_;                                           // guarded by mu_
  std::unordered_map<dispatcher_state*, std::shared_ptr<dispatcher_state>> live_;  // mu_
};

}  // namespace weft::detail
