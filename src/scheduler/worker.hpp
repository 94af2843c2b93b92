// worker — one worker's state, which the loop (worker_loop.cpp) runs from.
//
// A worker is a thread of a multi-thread runtime, the block_on caller of a
// current-thread runtime, or one of a simulation runtime's virtual workers
// (simulation.hpp), which all take turns on the thread that calls block_on.
// The loop's code is the same for the three; only who calls step() and what
// parking means differ.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/detail/task_header.hpp>

#include "io/io_backend.hpp"
#include "scheduler/local_queue.hpp"
#include "scheduler/park_driver.hpp"
#include "time/time_driver.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace weft::detail {

/// The tasks that yielded on a worker, oldest first; owner only. The worker
/// moves them into its local queue as far as the queue has room
/// (flush_deferred), the rest stay here in order: a backlog of thousands of
/// yielders never overflows into the inject queue (one lock and a walk of
/// cold task headers per 128 tasks, twice per yield), and other workers
/// still take their share by stealing from the local queue.
class deferred_tasks {
 public:
  void push(task_header* t) { items_.push_back(t); }
  [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }
  /// SAFETY: !empty().
  task_header* pop_front() noexcept {
    task_header* t = items_[head_++];
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 1024 && head_ * 2 >= items_.size()) {
      // Tasks keep yielding while older ones are taken: drop the taken
      // prefix (at most as many moves as pops since the last time), so the
      // array holds about the backlog, not every yield ever made.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return t;
  }
  void clear() noexcept {
    if (items_.capacity() > 4096) {
      std::vector<task_header*>().swap(items_);  // a burst's array is not kept
    } else {
      items_.clear();
    }
    head_ = 0;
  }

 private:
  std::vector<task_header*> items_;
  std::size_t head_ = 0;  // items_[head_..] are waiting
};

struct worker {
  std::size_t index = 0;
  io_driver* io = nullptr;  // for I/O operations (io/io_driver.hpp); the scheduler does not look inside
  local_queue<task_header> queue;
  task_header* lifo = nullptr;  // owner only
  // Tasks that woke themselves during their step (yield_now): they wait
  // until the worker finds nothing else in its queue or the inject queue, so
  // a yield lets every other ready task — local or remote — go first.
  deferred_tasks deferred;  // owner only
  std::uint32_t lifo_polls = 0;
  std::uint32_t ticks_to_event = 1;  // counts down to the next inject/timer check
  bool searching = false;
  // Set when the local queue overflowed into the inject queue (this worker
  // spawns faster than it runs), cleared when the queue runs dry; other
  // workers then take from this queue before the inject queue.
  sync::atomic<bool> overflowing{false};
  std::uint64_t rng = 0;  // xorshift state for victim choice
  // Where this worker parks. The scheduler knows only the park_driver
  // interface; make_park_driver() picks the implementation.
  std::unique_ptr<park_driver> driver;
  timer_shard timers;
  std::thread thread;
};


}  // namespace weft::detail
