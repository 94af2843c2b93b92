// uring_driver behaviours beyond the shared park_driver ones: the SQ ring
// filling up, the CQ ring overflowing, and completions reaching the sink.
#include "io/uring_driver.hpp"

#include <gtest/gtest.h>

#include <sys/utsname.h>

#include <cstdio>
#include <set>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

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


// An op on a pipe that never gets data: only a cancel ends it.
struct pipe_read {
  int fds[2] = {-1, -1};
  char byte = 0;
  io_op op;
  pipe_read() {
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    op.code = io_opcode::read;
    op.fd = fds[0];
    op.buf = &byte;
    op.len = 1;
  }
  ~pipe_read() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

TEST(uring_driver, an_op_cancelled_on_its_owner_completes_with_ecanceled) {
  uring_driver d(8, /*single_issuer=*/false);
  pipe_read r;
  d.start_op(r.op);
  EXPECT_EQ(d.ops_in_flight(), 1u);
  EXPECT_FALSE(d.cancel_op_local(r.op));
  while (!r.op.is_completed()) d.park(std::chrono::milliseconds(100));
  EXPECT_EQ(r.op.result, -ECANCELED);
  EXPECT_EQ(d.ops_in_flight(), 0u);
}

TEST(uring_driver, an_op_cancelled_from_another_thread_is_cancelled_by_the_owner) {
  uring_driver d(8, /*single_issuer=*/false);
  pipe_read r;
  d.start_op(r.op);
  (void)d.poll();  // in the kernel now
  bool done_at_once = true;
  std::thread other([&] { done_at_once = d.cancel_op_remote(r.op); });
  other.join();
  EXPECT_FALSE(done_at_once);
  EXPECT_EQ(r.op.state.load(), io_op::cancel_queued);
  // The owner's next park submits the cancel; the op's CQE completes it.
  while (!r.op.is_completed()) d.park(std::chrono::milliseconds(100));
  EXPECT_EQ(r.op.result, -ECANCELED);
  // A second request for a completed op reports it completed.
  EXPECT_TRUE(d.cancel_op_remote(r.op));
}

TEST(uring_driver, an_op_that_completes_before_its_remote_cancel_keeps_its_result) {
  uring_driver d(8, /*single_issuer=*/false);
  pipe_read r;
  d.start_op(r.op);
  (void)d.poll();
  std::thread other([&] { (void)d.cancel_op_remote(r.op); });
  other.join();
  ASSERT_EQ(::write(r.fds[1], "x", 1), 1);
  while (!r.op.is_completed()) d.park(std::chrono::milliseconds(100));
  // Either the data or the cancel won; never both, never neither.
  EXPECT_TRUE(r.op.result == 1 || r.op.result == -ECANCELED) << r.op.result;
}

TEST(uring_driver, quiesce_ends_every_op_in_flight) {
  uring_driver d(8, /*single_issuer=*/false);
  pipe_read a, b, c;
  d.start_op(a.op);
  d.start_op(b.op);
  d.start_op(c.op);
  (void)d.poll();
  d.quiesce();
  EXPECT_EQ(d.ops_in_flight(), 0u);
  for (pipe_read* r : {&a, &b, &c}) {
    EXPECT_TRUE(r->op.is_completed());
    EXPECT_EQ(r->op.result, -ECANCELED);
  }
}

}  // namespace
}  // namespace weft::detail
