// child_cores — a runtime's child scheduler cores.
//
// Design
// ------
// A root runtime (built by runtime_builder) owns:
//   * one child core per scheduler role declared with
//     runtime_builder::scheduler_role — multi_thread, the role's number of
//     workers, its own timers, I/O drivers and blocking pool, the role's
//     thread hooks; started with the root (runtime_create);
//   * a one-worker core for each dispatcher that may block its thread
//     (dispatcher_builder::allow_thread_blocking), made on request and
//     retired when that dispatcher has finished.
// A child shares its root's configuration (I/O backend the root found to
// work, timeouts) and holds a counted reference to its root, which it
// reaches with runtime_core::root().
//
// Shutdown (runtime_core::shutdown_tree, after the extensions' turn and
// before the root's own): close — no more dedicated cores —, then shut every
// child down (each waits up to the deadline for its tasks, then destroys the
// rest) and release it. A child is never shut down from one of its own
// threads (that would join itself): a dedicated core is retired by a job on
// the root's blocking pool, which the root's shutdown waits for; the job's
// guard does the work, so a job the pool destroys unrun does it too. Whoever
// takes a core out of dedicated_ (that job, or shutdown) stops and releases
// it — exactly once.
#pragma once

#include <weft/detail/runtime_api.hpp>
#include <weft/detail/sync_shim.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace weft::detail {

class child_cores {
 public:
  explicit child_cores(runtime_core& root) noexcept : root_(root) {}
  child_cores(const child_cores&) = delete;
  child_cores& operator=(const child_cores&) = delete;
  ~child_cores() = default;  // INVARIANT: shut down (every child released) before

  /// Start one core per role. Throws what creating a core throws; the roles
  /// started before the failure stay listed (shutdown stops them).
  void start_roles(const std::vector<role_spec>& roles);

  /// The core running `role` ("" = the root itself); nullptr if no such role
  /// was declared.
  [[nodiscard]] runtime_core* role(const std::string& name) const;
  /// The declared role names, for error messages.
  [[nodiscard]] std::vector<std::string> role_names() const;
  /// True once shutdown began.
  [[nodiscard]] bool closed() const;

  /// Start a one-worker core named `name` with `role`'s thread hooks (the
  /// root's if "" or unknown). nullptr once closed. Throws what creating a
  /// core throws.
  [[nodiscard]] runtime_core* make_dedicated(const std::string& name, const std::string& role);
  /// Hand a dedicated core to the root's blocking pool to be shut down and
  /// released (never on its own thread). No effect if shutdown took it.
  void retire_dedicated(runtime_core* core) noexcept;

  /// Close, then shut down and release every child (roles and dedicated).
  /// Idempotent.
  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

 private:
  struct role_core {
    runtime_core* core = nullptr;
    role_spec spec;
  };
  [[nodiscard]] runtime_config child_config() const;
  runtime_core* create_child(const runtime_config& cfg);
  void finish_retire(runtime_core* core) noexcept;
  static void stop(runtime_core* core, std::chrono::nanoseconds timeout) noexcept;

  runtime_core& root_;
  mutable sync::mutex mu_;
  bool closed_ = false;                     // guarded by mu_
  std::map<std::string, role_core> roles_;  // guarded by mu_
  std::vector<runtime_core*> dedicated_;    // guarded by mu_
};

}  // namespace weft::detail
