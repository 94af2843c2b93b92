// Deferred shutdown: see deferred_shutdown.hpp.
#include "runtime/deferred_shutdown.hpp"

#include <weft/detail/context.hpp>
#include <weft/detail/test_point.hpp>
#include <weft/runtime.hpp>

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace weft::detail {

namespace {

// True on a reaper thread: exit called there (from a task's destructor run by
// the shutdown, or a thread-stop hook) must not join the reapers, itself
// among them.
thread_local bool tl_is_reaper = false;

// The reaper threads of this process. A reaper appends its id to `finished`
// as its last step under the lock; whoever takes the lock next may join it
// (the join then waits only for the thread's exit, not for its work).
class reaper_list {
 public:
  reaper_list() = default;
  reaper_list(const reaper_list&) = delete;
  reaper_list& operator=(const reaper_list&) = delete;

  ~reaper_list() = delete;  // lives until the process ends: see reapers()

  // At exit: wait for every reaper (bounded by its runtime's shutdown_timeout).
  void at_exit() {
    std::vector<std::thread> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(threads_);
      finished_.clear();
    }
    // Exit from a thread a reaper may be waiting for (a worker calling
    // std::exit), or from a reaper, must not wait for the reapers: it would
    // wait for itself.
    const bool on_a_runtime_thread =
        tl_is_reaper || in_runner() || blocking_pool_owner() != nullptr;
    for (std::thread& t : all) {
      if (on_a_runtime_thread) {
        t.detach();
      } else {
        t.join();
      }
    }
  }

  void start(runtime_core* core) {
    std::vector<std::thread> done = take_finished();
    for (std::thread& t : done) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    threads_.reserve(threads_.size() + 1);  // a throw here leaves no thread running
    std::thread t([this, core] { reap(core); });
    pthread_setname_np(t.native_handle(), "weft-reaper");
    threads_.push_back(std::move(t));
  }

  [[nodiscard]] std::size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.size();
  }

 private:
  void reap(runtime_core* core) noexcept {
    tl_is_reaper = true;
    runtime_shutdown(core, runtime_get_config(core).shutdown_timeout);
    runtime_release(core);
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_.push_back(std::this_thread::get_id());
    }
    // After the thread is listed as finished: a test that saw this point
    // knows the next start() joins it (the bound in
    // RuntimeDestroyedOnItsOwnThread.ReaperThreadsAreJoinedAndDoNotPileUp
    // was 3 instead of 2 when a loaded machine kept a reaper between the
    // point and the list). The reaper touches nothing of *this afterwards.
    WEFT_TEST_POINT("runtime.deferred_shutdown.done");
  }

  std::vector<std::thread> take_finished() {
    std::vector<std::thread> done;
    std::lock_guard<std::mutex> lock(mu_);
    for (std::thread::id id : finished_) {
      for (auto it = threads_.begin(); it != threads_.end(); ++it) {
        if (it->get_id() == id) {
          done.push_back(std::move(*it));
          threads_.erase(it);
          break;
        }
      }
    }
    finished_.clear();
    return done;
  }

  std::mutex mu_;
  std::vector<std::thread> threads_;        // every reaper not yet joined
  std::vector<std::thread::id> finished_;  // reapers past their last access to *this
};

// Never destroyed: a reaper detached at exit (exit called on a runtime's own
// thread) may still take the lock after exit handlers ran. At exit, the
// handler joins the reapers instead.
reaper_list& reapers() {
  static reaper_list* const list = [] {
    auto* l = new reaper_list;
    std::atexit([] { reapers().at_exit(); });
    return l;
  }();
  return *list;
}

}  // namespace

void shut_down_on_reaper_thread(runtime_core* core) noexcept {
  try {
    reapers().start(core);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "weft: a runtime was destroyed on one of its own threads and no thread could be "
                 "started to shut it down (%s); its tasks and threads are left running\n",
                 e.what());
  }
}

std::size_t reaper_threads_for_test() { return reapers().size(); }

}  // namespace weft::detail
