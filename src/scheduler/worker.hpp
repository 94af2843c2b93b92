// worker — one worker's state, which the loop (worker_loop.cpp) runs from.
//
// A worker is a thread of a multi-thread runtime, the block_on caller of a
// current-thread runtime, or one of a simulation runtime's virtual workers
// (simulation.hpp), which all take turns on the thread that calls block_on.
// The loop's code is the same for the three; only who calls step() and what
// parking means differ.
#pragma once

#include <weft/detail/task_header.hpp>

#include "scheduler/local_queue.hpp"
#include "scheduler/park_driver.hpp"
#include "time/time_driver.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace weft::detail {

class uring_driver;
class epoll_driver;

/// The I/O drivers of a worker, by concrete type: at most one is set, none
/// on a simulation's virtual worker (`simulated`), which has no real I/O.
struct worker_io {
  uring_driver* uring = nullptr;
  epoll_driver* epoll = nullptr;
  bool simulated = false;
};

struct worker {
  std::size_t index = 0;
  worker_io io;
  local_queue<task_header> queue;
  task_header* lifo = nullptr;  // owner only
  // Tasks that woke themselves during their step (yield_now): they wait
  // until the worker finds nothing else in its queue or the inject queue, so
  // a yield lets every other ready task — local or remote — go first.
  std::vector<task_header*> deferred;  // owner only
  std::uint32_t lifo_polls = 0;
  std::uint32_t ticks_to_event = 1;  // counts down to the next inject/timer check
  bool searching = false;
  std::uint64_t rng = 0;  // xorshift state for victim choice
  // Where this worker parks. The scheduler knows only the park_driver
  // interface; make_park_driver() picks the implementation.
  std::unique_ptr<park_driver> driver;
  timer_shard timers;
  std::thread thread;
};

/// The I/O drivers of the worker this thread is (of any runtime); nullptr
/// off a worker.
worker_io* current_worker_io() noexcept;

}  // namespace weft::detail
