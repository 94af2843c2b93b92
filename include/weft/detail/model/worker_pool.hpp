// weft/detail/model/worker_pool.hpp — the real threads that run model
// threads, reused across executions.
//
// A worker's life:
//
//   idle (in the pool) ──run(job)──> running a model thread ──job returns──> idle
//   running ──its execution failed──> blocked forever (never returned; a new
//                                     worker replaces it)
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::detail::model {

// Real threads that run model threads, kept across executions (creating a
// thread per model thread per execution dominated the run time, most of all
// under ThreadSanitizer). A worker left blocked in a failed execution is
// simply never returned. The pool is never destroyed: idle workers wait in
// it until the process exits.
class worker_pool {
 public:
  static worker_pool& get() {
    static worker_pool* const p = new worker_pool();  // never destroyed (see above)
    return *p;
  }
  void run(std::function<void()> job) {
    worker* w = nullptr;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!idle_.empty()) {
        w = idle_.back();
        idle_.pop_back();
      }
    }
    if (w == nullptr) {
      w = new worker();  // owned by the pool from now on (or leaked with a failure)
      std::thread([this, w] { loop(w); }).detach();
    }
    std::lock_guard<std::mutex> lk(w->mu);
    w->job = std::move(job);
    w->cv.notify_one();
  }

 private:
  struct worker {
    std::mutex mu;
    std::condition_variable cv;
    std::function<void()> job;  // guarded by mu
  };
  void loop(worker* w) {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lk(w->mu);
        w->cv.wait(lk, [w] { return static_cast<bool>(w->job); });
        job = std::move(w->job);
        w->job = nullptr;
      }
      job();
      job = nullptr;
      std::lock_guard<std::mutex> lk(mu_);
      idle_.push_back(w);
    }
  }
  std::mutex mu_;
  std::vector<worker*> idle_;  // guarded by mu_
};

}  // namespace weft::detail::model
