// A runtime's child scheduler cores. See child_cores.hpp.
#include "scheduler/child_cores.hpp"

#include "scheduler/runtime_core.hpp"

#include <weft/detail/deadline.hpp>
#include <weft/detail/task_cell.hpp>

#include <algorithm>
#include <utility>

namespace weft::detail {
namespace {

std::chrono::nanoseconds left_until(std::chrono::steady_clock::time_point deadline) noexcept {
  return time_left(deadline, std::chrono::steady_clock::now());
}

/// Owns the retirement of a dedicated core: whatever happens to the job that
/// carries it (run, or destroyed unrun by the pool's shutdown), its
/// destruction does it.
class retirer {
 public:
  retirer(child_cores* owner, runtime_core* core, void (*finish)(child_cores*, runtime_core*) noexcept)
      : owner_(owner), core_(core), finish_(finish) {}
  retirer(retirer&& o) noexcept
      : owner_(o.owner_), core_(std::exchange(o.core_, nullptr)), finish_(o.finish_) {}
  retirer& operator=(retirer&&) = delete;
  ~retirer() {
    if (core_ != nullptr) finish_(owner_, core_);
  }

 private:
  child_cores* owner_;
  runtime_core* core_;
  void (*finish_)(child_cores*, runtime_core*) noexcept;
};

}  // namespace

runtime_config child_cores::child_config() const {
  runtime_config cfg = root_.config();
  cfg.flavor = runtime_flavor::multi_thread;
  cfg.start_paused = false;
  // The backend the root found to work.
  cfg.io = root_.backend() == io_backend::io_uring ? io_backend_choice::io_uring
                                                   : io_backend_choice::epoll;
  cfg.io_set_by_builder = true;
  return cfg;
}

runtime_core* child_cores::create_child(const runtime_config& cfg) {
  auto* core = new runtime_core(cfg, &root_);
  core->start();
  return core;
}

void child_cores::stop(runtime_core* core, std::chrono::nanoseconds timeout) noexcept {
  core->shutdown(timeout);
  core->release();
}

void child_cores::start_roles(const std::vector<role_spec>& roles) {
  for (const role_spec& r : roles) {
    runtime_config cfg = child_config();
    cfg.worker_threads = r.threads;
    cfg.thread_name_prefix = r.name;
    cfg.on_thread_start = r.on_thread_start;
    cfg.on_thread_stop = r.on_thread_stop;
    runtime_core* core = create_child(cfg);
    sync::lock_guard<sync::mutex> lock(mu_);
    roles_[r.name] = role_core{core, r};
  }
}

runtime_core* child_cores::role(const std::string& name) const {
  if (name.empty()) return &root_;
  sync::lock_guard<sync::mutex> lock(mu_);
  auto it = roles_.find(name);
  return it == roles_.end() ? nullptr : it->second.core;
}

std::vector<std::string> child_cores::role_names() const {
  sync::lock_guard<sync::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& entry : roles_) names.push_back(entry.first);
  return names;
}

bool child_cores::closed() const {
  sync::lock_guard<sync::mutex> lock(mu_);
  return closed_;
}

runtime_core* child_cores::make_dedicated(const std::string& name, const std::string& role) {
  runtime_config cfg = child_config();
  cfg.worker_threads = 1;
  cfg.thread_name_prefix = name.empty() ? std::string("weft-dispatch") : name;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (closed_) return nullptr;
    auto it = roles_.find(role);
    if (it != roles_.end()) {
      cfg.on_thread_start = it->second.spec.on_thread_start;
      cfg.on_thread_stop = it->second.spec.on_thread_stop;
    }
  }
  runtime_core* core = create_child(cfg);
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (!closed_) {
      dedicated_.push_back(core);  // before anyone can retire it
      return core;
    }
  }
  stop(core, cfg.shutdown_timeout);  // closed meanwhile; from the creating thread: not its own
  return nullptr;
}

void child_cores::retire_dedicated(runtime_core* core) noexcept {
  // Called on the core's own worker (its dispatcher's finisher) or, when
  // runtime shutdown destroyed the pump, by the thread shutting the core
  // down — which has already taken it out of dedicated_. Never shut a core
  // down on its own thread: the root's blocking pool does it.
  try {
    auto job = [r = retirer(this, core, [](child_cores* o, runtime_core* c) noexcept {
                  o->finish_retire(c);
                })]() {};
    cell<void> c = check_created(make_cell<void, decltype(job)>(std::move(job)));
    // The job is detached: the creator's reference goes once it is queued.
    struct drop_creator_ref {
      task_header* t;
      ~drop_creator_ref() { t->unref(); }
    } drop{c.header};
    root_.spawn_blocking(c.header);
  } catch (...) {
    // Refused: the root's blocking pool is shut down, so shutdown has taken
    // the core already (the destroyed job found it gone).
  }
}

void child_cores::finish_retire(runtime_core* core) noexcept {
  bool mine = false;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    auto it = std::find(dedicated_.begin(), dedicated_.end(), core);
    if (it != dedicated_.end()) {
      dedicated_.erase(it);
      mine = true;
    }
  }
  if (mine) stop(core, core->config().shutdown_timeout);
}

void child_cores::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  std::vector<runtime_core*> cores;
  {
    sync::lock_guard<sync::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    for (const auto& entry : roles_) cores.push_back(entry.second.core);
    cores.insert(cores.end(), dedicated_.begin(), dedicated_.end());
    roles_.clear();
    dedicated_.clear();
  }
  // Each lets its tasks finish (up to the deadline), then destroys the rest.
  for (runtime_core* core : cores) stop(core, left_until(deadline));
}

}  // namespace weft::detail
