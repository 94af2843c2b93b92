// The io_uring driver's half of zero-copy sends (uring_zero_copy.cpp),
// driven op by op on a driver the test thread owns, so each order is forced
// by the test itself: the SEND_ZC is started and the driver parked until its
// result has come (awaiting_notification), while the peer — a plain socket
// the test reads only when it chooses, with a tiny window — holds the
// notification back (support/tcp_pair.hpp says why). Then the op is
// cancelled from the owner, from another thread, or by quiesce, and each
// must end it at once with -ECANCELED while the record — the buffer — stays
// with the driver until the notification, or for good if the driver goes
// first.
#include "io/uring_driver.hpp"

#include <weft/detail/zero_copy_send.hpp>

#include "support/fault_injection.hpp"
#include "support/require_send_zc.hpp"
#include "support/tcp_pair.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace weft::detail {
namespace {

// More than the peer's window (tcp_pair::held_back), less than the writer's
// send buffer: the SEND_ZC's result comes at once, its notification only
// once the peer has read.
constexpr std::size_t size = 128 * 1024;

std::vector<std::byte> pattern(unsigned seed) {
  std::vector<std::byte> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  return v;
}

// Park `d` until `seen()` holds; false after 30 s.
template <class Seen>
bool park_until(uring_driver& d, Seen seen) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!seen()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    d.park(std::chrono::milliseconds(100));
  }
  return true;
}

// A record of `data` to send on `h`, its writer's reference the caller's.
zero_copy_record* make_record(io_handle& h, std::vector<std::byte> data) {
  auto* rec = new zero_copy_record;
  rec->data = std::move(data);
  rec->handle = &h;
  rec->fd = h.fd;
  rec->buf = rec->data.data();
  rec->len = static_cast<std::uint32_t>(rec->data.size());
  return rec;
}

// A SEND_ZC of 128 KiB to a peer that has not read, its result in.
struct sent_zero_copy {
  weft_test::tcp_pair pair{weft_test::tcp_pair::held_back_t{}};
  io_handle handle{pair.take_writer()};
  std::vector<std::byte> data = pattern(7);
  zero_copy_record* rec = make_record(handle, data);  // the test holds the writer's reference

  explicit sent_zero_copy(uring_driver& d) {
    EXPECT_TRUE(d.choose_zero_copy(*rec));
    d.start_op(*rec);
    EXPECT_TRUE(park_until(d, [&] { return rec->awaiting_notification; }))
        << "the SEND_ZC's result never came";
    EXPECT_EQ(rec->result, static_cast<std::int32_t>(size));
    EXPECT_FALSE(rec->is_completed()) << "completed before its notification";
    EXPECT_EQ(d.zero_copy_pending(), 1u);
  }
  ~sent_zero_copy() { zero_copy_unref(*rec); }

  // The op ended early: -ECANCELED, the driver's reference still held.
  void expect_ended_early(uring_driver& d) const {
    EXPECT_TRUE(rec->is_completed());
    EXPECT_EQ(rec->result, -ECANCELED);
    EXPECT_FALSE(rec->awaiting_notification);
    EXPECT_EQ(d.zero_copy_pending(), 1u);
    EXPECT_EQ(rec->refs.load(), 2u) << "the writer's and the kernel's";
    EXPECT_EQ(d.ops_in_flight(), 0u);
  }

  // The peer reads; the notification comes and drops the kernel's reference.
  void read_and_expect_notification(uring_driver& d) const {
    const auto got = pair.read_peer(size);
    EXPECT_TRUE(got == data) << "the peer read " << got.size() << " bytes";
    EXPECT_TRUE(park_until(d, [&] { return d.zero_copy_pending() == 0; }))
        << "no notification after the peer read";
    EXPECT_EQ(rec->refs.load(), 1u);
  }
};

class UringZeroCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    WEFT_REQUIRE_SEND_ZC();
  }
};

TEST_F(UringZeroCopy, TheOpCompletesAtTheNotificationNotAtTheResult) {
  uring_driver d(8, /*single_issuer=*/false);
  const auto before = zero_copy_stats();
  sent_zero_copy s(d);
  s.read_and_expect_notification(d);
  EXPECT_TRUE(s.rec->is_completed());
  EXPECT_EQ(s.rec->result, static_cast<std::int32_t>(size)) << "the send's count, kept";
  const auto after = zero_copy_stats();
  EXPECT_EQ(after.notifications - before.notifications, 1u);
  EXPECT_EQ(after.results_before_notification - before.results_before_notification, 1u);
}

TEST_F(UringZeroCopy, ACancelOnTheOwnerEndsASentOpAtOnce) {
  uring_driver d(8, /*single_issuer=*/false);
  sent_zero_copy s(d);
  EXPECT_TRUE(d.cancel_op_local(*s.rec)) << "nothing to wait for: it ends in the call";
  s.expect_ended_early(d);
  s.read_and_expect_notification(d);
}

// The result reaped inside the cancel itself: with the SQ full, getting an
// SQE for the ASYNC_CANCEL submits and reaps (forced with the uring_get_sqe
// fault site: the first "full" submits the queued SEND_ZC, the second takes
// nothing and drains, which brings its result). Looked at before that, the
// op was "not sent yet", the ASYNC_CANCEL found nothing in the kernel, and
// the op waited for the peer to read (found by review).
TEST_F(UringZeroCopy, ACancelThatReapsTheResultWhileGettingItsSqeEndsTheOpAtOnce) {
  uring_driver d(8, /*single_issuer=*/false);
  weft_test::tcp_pair pair{weft_test::tcp_pair::held_back_t{}};
  io_handle handle(pair.take_writer());
  const auto data = pattern(9);
  zero_copy_record* rec = make_record(handle, data);
  EXPECT_TRUE(d.choose_zero_copy(*rec));
  d.start_op(*rec);  // queued, not submitted
  fault::fault_schedule full;
  full.probability = 1.0;
  full.times = 2;
  fault::arm(fault::site::uring_get_sqe, full);
  const bool at_once = d.cancel_op_local(*rec);
  fault::disarm_all();
  EXPECT_TRUE(at_once) << "the cancel was lost: the op waits for the peer";
  EXPECT_TRUE(rec->is_completed());
  EXPECT_EQ(rec->result, -ECANCELED);
  EXPECT_EQ(d.zero_copy_pending(), 1u) << "the record waits for its notification";
  EXPECT_TRUE(pair.read_peer(size) == data);
  EXPECT_TRUE(park_until(d, [&] { return d.zero_copy_pending() == 0; }));
  zero_copy_unref(*rec);
}

TEST_F(UringZeroCopy, ACancelFromAnotherThreadEndsASentOpAtTheOwnersNextTurn) {
  uring_driver d(8, /*single_issuer=*/false);
  sent_zero_copy s(d);
  // The owner is parked when the request comes: the canceller's unpark ends
  // that park before it has taken the request, so the next park takes it.
  bool at_once = true;
  std::thread other([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!d.parked() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    at_once = d.cancel_op_remote(*s.rec);
  });
  d.park(std::chrono::seconds(120));  // ends at the canceller's unpark
  other.join();
  EXPECT_FALSE(at_once);
  EXPECT_EQ(s.rec->state.load(), io_op::cancel_queued);
  // The owner's next park takes the request: no ASYNC_CANCEL, the op ends —
  // which wakes its task from the owner's own thread, so the park must
  // return instead of waiting (it waited for its whole timeout once). A
  // watchdog ends a park that waits 30 s and fails the test.
  std::atomic<bool> returned{false};
  std::atomic<bool> watchdog_fired{false};
  std::thread watchdog([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!returned.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (!returned.load()) {
      watchdog_fired = true;
      d.unpark();
    }
  });
  d.park(std::chrono::seconds(120));
  returned = true;
  watchdog.join();
  EXPECT_FALSE(watchdog_fired.load()) << "the park waited after it had woken a task";
  s.expect_ended_early(d);
  s.read_and_expect_notification(d);
}

TEST_F(UringZeroCopy, QuiesceEndsASentOpAndTheDriverKeepsItsRecordForGood) {
  const auto before = zero_copy_stats();
  auto d = std::make_unique<uring_driver>(8, /*single_issuer=*/false);
  sent_zero_copy s(*d);
  d->quiesce();  // returns although the peer never reads
  s.expect_ended_early(*d);
  d.reset();  // the notification can no longer be reaped
  const auto after = zero_copy_stats();
  EXPECT_EQ(after.quarantined - before.quarantined, 1u);
  EXPECT_EQ(s.rec->refs.load(), 2u) << "the kernel's reference is never dropped";
  EXPECT_TRUE(s.pair.read_peer(size) == s.data) << "the kept buffer is what the peer reads";
}

TEST_F(UringZeroCopy, AUnixSocketsRefusalIsSentAsACopyAndRemembered) {
  uring_driver d(8, /*single_issuer=*/false);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
  io_handle handle(fds[0]);
  zero_copy_record* rec = make_record(handle, pattern(3));
  EXPECT_TRUE(d.choose_zero_copy(*rec));
  d.start_op(*rec);
  EXPECT_TRUE(park_until(d, [&] { return rec->is_completed(); }));
  EXPECT_EQ(rec->result, static_cast<std::int32_t>(size)) << "sent as a copy after EOPNOTSUPP";
  EXPECT_TRUE(rec->copy);
  EXPECT_TRUE(handle.zero_copy_refused.load());
  EXPECT_TRUE(park_until(d, [&] { return d.zero_copy_pending() == 0; }));
  EXPECT_FALSE(d.choose_zero_copy(*rec)) << "the socket's refusal is remembered";
  std::vector<std::byte> got(size);
  EXPECT_EQ(::recv(fds[1], got.data(), size, MSG_DONTWAIT), static_cast<ssize_t>(size));
  EXPECT_TRUE(got == rec->data);
  zero_copy_unref(*rec);
  ::close(fds[1]);
}

}  // namespace
}  // namespace weft::detail
