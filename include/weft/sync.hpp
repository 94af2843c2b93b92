// weft/sync.hpp — weft's asynchronous synchronisation primitives.
//
//   weft::mutex         fair (FIFO) mutex; co_await m.lock() -> mutex_guard
//   weft::shared_mutex  fair reader-writer lock; lock() / lock_shared()
//   weft::semaphore     fair counting semaphore; co_await s.acquire(n) -> semaphore_permit
//   weft::notify        wake one (or store a permit) / wake all
//   weft::event         manual- or auto-reset event
//   weft::latch         single-use countdown
//   weft::barrier       reusable rendezvous with a leader per phase
//
// Every wait: allocates nothing (the awaiter is the queue node), counts an
// immediate completion against the cooperative budget, is cancelled safely by
// destroying the waiting coroutine (weft::timeout, with_cancellation,
// shutdown), and resumes on the waiting task's runtime. Releasing operations
// (unlock, release, notify_*, set, count_down) work from any thread,
// including plain threads outside any runtime.
#pragma once

#include <weft/sync/barrier.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/latch.hpp>
#include <weft/sync/mutex.hpp>
#include <weft/sync/notify.hpp>
#include <weft/sync/semaphore.hpp>
#include <weft/sync/shared_mutex.hpp>
