// uring_driver behaviours beyond the shared park_driver ones: the SQ ring
// filling up, the CQ ring overflowing, and completions reaching the sink.
#include "io/uring_driver.hpp"

#include <gtest/gtest.h>

#include <sys/utsname.h>

#include <cstdio>
#include <set>
#include <thread>

namespace weft::detail {
namespace {

struct recorder {
  std::set<std::uint64_t> seen;
  unsigned count = 0;
  static void sink(void* self, const io_completion& c) {
    auto* r = static_cast<recorder*>(self);
    ++r->count;
    r->seen.insert(c.user_data);
  }
};

TEST(uring_driver, a_full_sq_and_an_overflowing_cq_lose_no_completion) {
  uring_driver d(4);  // SQ 4 entries, CQ 8
  recorder r;
  d.set_completion_sink(&recorder::sink, &r);
  constexpr std::uint64_t ops = 64;
  for (std::uint64_t i = 1; i <= ops; ++i) {
    io_uring_sqe* sqe = d.acquire_sqe();  // submits the queued 4 each time the SQ is full
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, i);
  }
  // 60 NOPs went in and completed with nobody reaping: the CQ (8) overflowed.
  EXPECT_TRUE(d.cq_has_overflow());
  EXPECT_EQ(r.count, 0u) << "nothing is delivered before a park";
  d.park(std::chrono::nanoseconds{0});  // submit the last 4, reap, flush overflow
  EXPECT_EQ(r.count, ops);
  EXPECT_EQ(r.seen.size(), ops);
  EXPECT_FALSE(d.cq_has_overflow());
}

TEST(uring_driver, an_io_completion_ends_an_unbounded_park) {
  uring_driver d;
  recorder r;
  std::thread owner([&] {
    d.set_completion_sink(&recorder::sink, &r);
    io_uring_sqe* sqe = d.acquire_sqe();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 7);
    d.park(std::nullopt);  // no unpark: only the NOP's completion can end it
  });
  owner.join();
  EXPECT_EQ(r.count, 1u);
  EXPECT_EQ(r.seen.count(7), 1u);
  EXPECT_EQ(d.eventfd_writes(), 0u);
}

TEST(uring_driver, single_issuer_and_defer_taskrun_are_used_from_linux_6_1) {
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  int major = 0;
  int minor = 0;
  ASSERT_EQ(std::sscanf(u.release, "%d.%d", &major, &minor), 2);
  uring_driver d;
  const bool new_kernel = major > 6 || (major == 6 && minor >= 1);
  EXPECT_EQ(d.defer_taskrun(), new_kernel) << "kernel " << u.release;
  RecordProperty("defer_taskrun", d.defer_taskrun() ? "yes" : "no");
}

TEST(uring_driver, probe_succeeds_where_io_uring_is_allowed) {
  EXPECT_NO_THROW(uring_driver::probe());
}

}  // namespace
}  // namespace weft::detail
