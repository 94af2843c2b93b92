// weft::runtime, weft::runtime_builder and WEFT_MAIN's helpers.
#include "runtime/deferred_shutdown.hpp"

#include <weft/main.hpp>
#include <weft/runtime.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

namespace weft {

namespace {
[[noreturn]] void bad_setting(const std::string& msg) {
  throw_error(errc::invalid_builder_setting, msg.c_str());
}
}  // namespace

runtime_builder& runtime_builder::worker_threads(std::size_t n) {
  if (n == 0 || n > 1024) {
    bad_setting("runtime_builder::worker_threads(" + std::to_string(n) +
                "): must be between 1 and 1024");
  }
  cfg_.worker_threads = n;
  worker_threads_set_ = true;
  return *this;
}

runtime_builder& runtime_builder::thread_name_prefix(std::string prefix) {
  if (prefix.empty()) bad_setting("runtime_builder::thread_name_prefix: must not be empty");
  cfg_.thread_name_prefix = std::move(prefix);
  return *this;
}

runtime_builder& runtime_builder::flavor(runtime_flavor f) {
  cfg_.flavor = f;
  return *this;
}

runtime_builder& runtime_builder::max_blocking_threads(std::size_t n) {
  if (n == 0 || n > 65536) {
    bad_setting("runtime_builder::max_blocking_threads(" + std::to_string(n) +
                "): must be between 1 and 65536");
  }
  cfg_.max_blocking_threads = n;
  return *this;
}

runtime_builder& runtime_builder::set_blocking_keep_alive(std::chrono::nanoseconds d) {
  if (d.count() < 0) bad_setting("runtime_builder::blocking_keep_alive: must not be negative");
  cfg_.blocking_keep_alive = d;
  return *this;
}

runtime_builder& runtime_builder::set_shutdown_timeout(std::chrono::nanoseconds d) {
  if (d.count() < 0) bad_setting("runtime_builder::shutdown_timeout: must not be negative");
  cfg_.shutdown_timeout = d;
  return *this;
}

runtime_builder& runtime_builder::event_interval(std::uint32_t ticks) {
  if (ticks == 0) bad_setting("runtime_builder::event_interval: must be at least 1");
  cfg_.event_interval = ticks;
  return *this;
}

runtime_builder& runtime_builder::rng_seed(std::uint64_t seed) {
  cfg_.rng_seed = seed;
  return *this;
}

runtime_builder& runtime_builder::start_paused(bool paused) {
  cfg_.start_paused = paused;
  return *this;
}

runtime_builder& runtime_builder::io_backend(io_backend_choice choice) {
  cfg_.io = choice;
  cfg_.io_set_by_builder = true;
  return *this;
}

runtime_builder& runtime_builder::simulated_network(const weft::simulated_network& network) {
  constexpr std::size_t max_window = std::size_t{16} << 20;
  if (network.max_latency < std::chrono::nanoseconds::zero() ||
      network.max_latency > std::chrono::seconds(1)) {
    bad_setting("runtime_builder::simulated_network: max_latency must be between 0 and 1 s");
  }
  if (network.min_window == 0 || network.min_window > network.max_window ||
      network.max_window > max_window) {
    bad_setting("runtime_builder::simulated_network: windows must satisfy 1 <= min_window <= "
                "max_window <= 16 MiB (min_window " + std::to_string(network.min_window) +
                ", max_window " + std::to_string(network.max_window) + ")");
  }
  for (unsigned p : {network.segment_per_mille, network.short_io_per_mille,
                     network.spurious_wait_per_mille,
                     network.reset_per_mille, network.accept_emfile_per_mille}) {
    if (p > 1000) {
      bad_setting("runtime_builder::simulated_network: a fault's per_mille is " +
                  std::to_string(p) + "; it must be between 0 and 1000");
    }
  }
  cfg_.network = network;
  cfg_.network_set_by_builder = true;
  return *this;
}

runtime_builder& runtime_builder::simulated_files(const weft::simulated_files& files) {
  if (files.max_latency < std::chrono::nanoseconds::zero() ||
      files.max_latency > std::chrono::seconds(1)) {
    bad_setting("runtime_builder::simulated_files: max_latency must be between 0 and 1 s");
  }
  for (unsigned p : {files.short_io_per_mille, files.io_error_per_mille}) {
    if (p > 1000) {
      bad_setting("runtime_builder::simulated_files: a fault's per_mille is " + std::to_string(p) +
                  "; it must be between 0 and 1000");
    }
  }
  cfg_.files = files;
  cfg_.files_set_by_builder = true;
  return *this;
}

runtime_builder& runtime_builder::on_thread_start(std::function<void()> fn) {
  cfg_.on_thread_start = std::move(fn);
  return *this;
}

runtime_builder& runtime_builder::on_thread_stop(std::function<void()> fn) {
  cfg_.on_thread_stop = std::move(fn);
  return *this;
}

runtime_builder& runtime_builder::scheduler_role(std::string name, role_options options) {
  if (name.empty()) {
    bad_setting(
        "runtime_builder::scheduler_role: the name must not be empty (the empty role "
        "already means the runtime's own workers); give the role a name");
  }
  if (options.threads == 0 || options.threads > 64) {
    bad_setting("runtime_builder::scheduler_role(\"" + name +
                "\"): threads = " + std::to_string(options.threads) +
                " must be between 1 and 64");
  }
  for (const detail::role_spec& r : roles_) {
    if (r.name == name) {
      bad_setting("runtime_builder::scheduler_role(\"" + name +
                  "\"): the role is already declared; declare each role once");
    }
  }
  roles_.push_back(detail::role_spec{std::move(name), options.threads,
                                     std::move(options.on_thread_start),
                                     std::move(options.on_thread_stop)});
  return *this;
}

runtime runtime_builder::build() const {
  if (cfg_.flavor == runtime_flavor::current_thread && worker_threads_set_ &&
      cfg_.worker_threads != 1) {
    bad_setting("runtime_builder: worker_threads(" + std::to_string(cfg_.worker_threads) +
                ") with flavor(current_thread): a current-thread runtime runs on the thread "
                "that calls block_on; drop worker_threads or use multi_thread");
  }
  if (cfg_.start_paused && cfg_.flavor == runtime_flavor::multi_thread) {
    bad_setting(
        "runtime_builder: start_paused(true) needs flavor(current_thread) or "
        "flavor(simulation): with several worker threads there is no single point where "
        "every task waits, so virtual time could not advance deterministically");
  }
  if (cfg_.flavor == runtime_flavor::simulation && !roles_.empty()) {
    bad_setting("runtime_builder: scheduler_role(\"" + roles_.front().name +
                "\") with flavor(simulation): a role's workers are threads of their own, "
                "which the simulation's seed cannot order; drop the roles (dispatchers then "
                "run on the simulation's workers)");
  }
  if (cfg_.network_set_by_builder && cfg_.flavor != runtime_flavor::simulation) {
    bad_setting("runtime_builder: simulated_network(...) without flavor(simulation): only a "
                "simulation runtime has the in-memory network; drop the setting or add "
                "flavor(runtime_flavor::simulation)");
  }
  if (cfg_.files_set_by_builder && cfg_.flavor != runtime_flavor::simulation) {
    bad_setting("runtime_builder: simulated_files(...) without flavor(simulation): only a "
                "simulation runtime has the in-memory file system; drop the setting or add "
                "flavor(runtime_flavor::simulation)");
  }
  return runtime{detail::runtime_create(cfg_, roles_)};
}

runtime::runtime() : runtime(runtime_builder{}.build()) {}

runtime& runtime::operator=(runtime&& o) noexcept {
  if (this != &o) {
    runtime dying(std::move(*this));
    core_ = std::exchange(o.core_, nullptr);
  }
  return *this;
}

runtime::~runtime() {
  if (core_ == nullptr) return;
  detail::runtime_core* core = std::exchange(core_, nullptr);
  if (detail::runtime_runs_here(core)) {
    // The last owner is one of the runtime's own tasks, jobs or callbacks:
    // shutting down here would wait for this very thread. Another thread
    // does it; this one goes back to its task (deferred_shutdown.hpp).
    detail::shut_down_on_reaper_thread(core);
    return;
  }
  detail::runtime_shutdown(core, detail::runtime_get_config(core).shutdown_timeout);
  detail::runtime_release(core);
}

void runtime::shutdown_for(std::chrono::nanoseconds timeout) {
  check_alive();
  if (detail::runtime_runs_here(core_)) {
    throw_error(errc::nested_runtime,
                "runtime::shutdown called from one of the runtime's own tasks, dispatcher "
                "callbacks or role threads: it would wait for itself; call it from the thread "
                "that owns the runtime");
  }
  detail::runtime_shutdown(core_, timeout);
}

runtime_flavor runtime::flavor() const noexcept {
  return detail::runtime_get_config(core_).flavor;
}

std::size_t runtime::worker_count() const noexcept {
  const auto& cfg = detail::runtime_get_config(core_);
  if (cfg.flavor == runtime_flavor::current_thread) return 1;
  if (cfg.flavor == runtime_flavor::simulation && cfg.worker_threads == 0) return 2;
  return cfg.worker_threads != 0 ? cfg.worker_threads
                                 : std::max(1u, std::thread::hardware_concurrency());
}

weft::io_backend runtime::io_backend() const noexcept {
  return detail::runtime_io_backend(core_);
}

void runtime::check_alive() const {
  if (core_ == nullptr) {
    throw_error(errc::runtime_shut_down, "use of a moved-from weft::runtime");
  }
}

namespace detail {

namespace {
long env_number(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || n < 0) {
    std::fprintf(stderr, "weft: ignoring %s=%s (not a non-negative integer)\n", name, v);
    return fallback;
  }
  return n;
}

/// WEFT_WORKER_THREADS: unset, empty or 0 for one per CPU, else 1…1024 in
/// plain decimal. Anything else throws errc::invalid_builder_setting.
std::size_t env_worker_threads() {
  constexpr const char* name = "WEFT_WORKER_THREADS";
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  const std::string_view text(v);
  std::size_t n = 0;
  bool ok = text.size() <= 5;  // "01024" at most: no overflow below
  for (const char c : text) {
    if (c < '0' || c > '9') ok = false;
    if (ok) n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (!ok || n > 1024) {
    throw_error(errc::invalid_builder_setting,
                (std::string(name) + "=" + std::string(text) +
                 ": must be a worker count from 1 to 1024 (unset or 0: one per CPU)")
                    .c_str());
  }
  return n;
}
}  // namespace

runtime main_runtime(const main_options& opts) {
  runtime_builder b;
  std::size_t workers = opts.worker_threads;
  if (workers == 0) workers = env_worker_threads();
  if (workers != 0) b.worker_threads(workers);
  b.thread_name_prefix("weft");
  return b.build();
}

int main_finish(runtime& rt, int code, const main_options& opts) {
  std::chrono::milliseconds grace = opts.grace;
  if (grace.count() < 0) grace = std::chrono::milliseconds(env_number("WEFT_MAIN_GRACE_MS", 100));
  if (runtime_wait_idle(rt.core(), saturating_timeout<std::chrono::nanoseconds>(grace))) {
    rt.shutdown(std::chrono::milliseconds(0));
    return code;
  }
  // Tasks are still running: exit without cancelling them (no destructor of
  // theirs runs; the process ends under them).
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace detail
}  // namespace weft
