// src/sync/misuse.cpp — see misuse.hpp.
#include "sync/misuse.hpp"

#include <weft/sync/queued_awaiter.hpp>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace weft::detail {

void sync_misuse(const char* what) noexcept {
  std::fprintf(stderr, "weft: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

void throw_sync_awaitable_reused(bool moved_from) {
  if (moved_from) {
    throw std::logic_error(
        "weft: a sync awaitable (mutex::lock, shared_mutex::lock/lock_shared, "
        "semaphore::acquire, notify::notified, event::wait, latch::wait/arrive_and_wait, "
        "barrier::arrive_and_wait) was awaited after it was moved from; await the object it "
        "was moved to");
  }
  throw std::logic_error(
      "weft: a sync awaitable (mutex::lock, shared_mutex::lock/lock_shared, semaphore::acquire, "
      "notify::notified, event::wait, latch::wait/arrive_and_wait, barrier::arrive_and_wait) "
      "was awaited a second time; each co_await needs a fresh one: call lock()/acquire()/"
      "wait()/... again");
}

}  // namespace weft::detail
