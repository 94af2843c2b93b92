// Misuse that would corrupt memory silently is refused loudly: a primitive
// destroyed while a task waits on it (or, for the locks, while locked)
// aborts with a message naming it. (Unlocking an empty guard throws: see
// mutex_test.cpp.)
#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <optional>

#include "sync_support.hpp"

namespace {

using weft::task;
using weft::detail::waiter_count;

// In the death-test child: queue one task on a heap-allocated primitive,
// then delete the primitive under it.
template <class Prim, class MakePrim, class MakeWait>
void delete_under_a_waiter(MakePrim make_prim, MakeWait make_wait) {
  weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  Prim* p = make_prim();
  rt.block_on([p, make_wait]() -> task<> {
    auto w = weft::spawn([p, make_wait]() -> task<> { (void)co_await make_wait(*p); });
    co_await sync_test::wait_until([p] { return waiter_count(*p) == 1; });
    delete p;
  }());
}

TEST(SyncMisuse, DestroyingALockedMutexAborts) {
  EXPECT_DEATH(
      {
        auto* m = new weft::mutex;
        std::optional<weft::mutex_guard> g = m->try_lock();
        delete m;
      },
      "weft::mutex destroyed while locked");
}

TEST(SyncMisuse, DestroyingAReadLockedSharedMutexAborts) {
  EXPECT_DEATH(
      {
        auto* m = new weft::shared_mutex;
        std::optional<weft::shared_guard> g = m->try_lock_shared();
        delete m;
      },
      "weft::shared_mutex destroyed while locked");
}

TEST(SyncMisuse, DestroyingAnyPrimitiveWithAQueuedWaiterAborts) {
  EXPECT_DEATH(delete_under_a_waiter<weft::mutex>(
                   [] {
                     auto* m = new weft::mutex;
                     // Keep it locked: the guard is leaked on purpose (the child dies).
                     static_cast<void>(new std::optional<weft::mutex_guard>(m->try_lock()));
                     return m;
                   },
                   [](weft::mutex& m) { return m.lock(); }),
               "weft::mutex destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::semaphore>([] { return new weft::semaphore(0); },
                                                      [](weft::semaphore& s) { return s.acquire(); }),
               "weft::semaphore destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::notify>([] { return new weft::notify; },
                                                   [](weft::notify& n) { return n.notified(); }),
               "weft::notify destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::event>([] { return new weft::event; },
                                                  [](weft::event& e) { return e.wait(); }),
               "weft::event destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::latch>([] { return new weft::latch(1); },
                                                  [](weft::latch& l) { return l.wait(); }),
               "weft::latch destroyed while tasks wait for it");
  EXPECT_DEATH(delete_under_a_waiter<weft::barrier>([] { return new weft::barrier(2); },
                                                    [](weft::barrier& b) { return b.arrive_and_wait(); }),
               "weft::barrier destroyed while tasks wait for it");
}

}  // namespace
