// uring_driver behaviours beyond the shared park_driver ones: the SQ ring
// filling up, the CQ ring overflowing, completions reaching the sink, and
// cancelling ops (one, or all at quiesce, also where the kernel refuses
// IORING_ASYNC_CANCEL_ANY).
#include "io/uring_driver.hpp"

#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include <gtest/gtest.h>

#include "support/fault_injection.hpp"
#include "support/flavors.hpp"
#include "support/kernel_version.hpp"
#include "support/test_points.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <optional>
#include <span>
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
  uring_driver d;
  const bool new_kernel = weft_test::kernel_at_least(6, 1);
  EXPECT_EQ(d.defer_taskrun(), new_kernel);
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

// Spin until `seen()` holds; false after 30 s (the owner never got there).
template <class Seen>
bool spin_until(Seen seen) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!seen()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Parked with no operation in flight, the owner sleeps on its token's word
// and unpark wakes it with a futex wake; with one in flight it sleeps in the
// ring and unpark writes the eventfd. The order is forced by waiting, before
// the unpark, for the state the owner sleeps in: PARKED_FUTEX for the idle
// owner (parked_on_futex(); parked() alone is already true at PARKED, before
// the owner's PARKED→PARKED_FUTEX step, and an unpark there writes the
// eventfd — the flake CI met), PARKED for the busy one, which never takes
// the futex path with a read in flight.
TEST(uring_driver, an_idle_owner_is_woken_by_futex_and_one_with_io_in_flight_by_the_eventfd) {
  uring_driver idle(8, /*single_issuer=*/false);
  std::thread idle_owner([&] { idle.park(std::nullopt); });
  const bool idle_asleep = spin_until([&] { return idle.parked_on_futex(); });
  idle.unpark();  // ends the park either way, so the join cannot hang
  EXPECT_TRUE(idle_asleep) << "the idle owner never slept on its token's word";
  idle_owner.join();
  EXPECT_EQ(idle.futex_wakes(), 1u);
  EXPECT_EQ(idle.eventfd_writes(), 0u);

  uring_driver busy(8, /*single_issuer=*/false);
  pipe_read r;
  std::thread busy_owner([&] {
    busy.start_op(r.op);  // a read of an empty pipe: in flight until cancelled
    busy.park(std::nullopt);
  });
  const bool busy_asleep = spin_until([&] { return busy.parked(); });
  busy.unpark();
  EXPECT_TRUE(busy_asleep) << "the busy owner never parked";
  busy_owner.join();
  EXPECT_EQ(busy.eventfd_writes(), 1u);
  EXPECT_EQ(busy.futex_wakes(), 0u);
  EXPECT_FALSE(busy.cancel_op_local(r.op));
  while (!r.op.is_completed()) busy.park(std::chrono::milliseconds(100));
  EXPECT_EQ(r.op.result, -ECANCELED);
}

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

// A park whose eventfd read must be armed again gets an SQE for it; with the
// SQ full (forced twice with the uring_get_sqe fault site) getting one submits
// and reaps, which here delivers a completion — a task woken on the owner's
// thread, which does not unpark it. The park must then return instead of
// waiting (found by review). A watchdog ends a park that waits 30 s.
TEST(uring_driver, a_park_that_reaps_while_getting_an_sqe_does_not_wait) {
  uring_driver d(8, /*single_issuer=*/false);
  pipe_read r;
  d.start_op(r.op);
  (void)d.poll();  // in the kernel now
  // An unpark while parked: the eventfd read completes, so the next wait
  // must arm it again.
  std::thread waker([&] {
    (void)spin_until([&] { return d.parked(); });
    d.unpark();
  });
  d.park(std::chrono::seconds(120));
  waker.join();
  ASSERT_EQ(::write(r.fds[1], "x", 1), 1);  // the read's CQE, not yet reaped
  fault::fault_schedule full;
  full.probability = 1.0;
  full.times = 2;
  fault::arm(fault::site::uring_get_sqe, full);
  std::atomic<bool> returned{false};
  std::atomic<bool> watchdog_fired{false};
  std::thread watchdog([&] {
    const bool ended = spin_until([&] { return returned.load(); });
    if (!ended) {
      watchdog_fired = true;
      d.unpark();
    }
  });
  d.park(std::chrono::seconds(120));
  returned = true;
  watchdog.join();
  fault::disarm_all();
  EXPECT_FALSE(watchdog_fired.load()) << "the park waited after it had delivered a completion";
  EXPECT_TRUE(r.op.is_completed());
  EXPECT_EQ(r.op.result, 1);
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

// Bug 5: quiesce cancelled with IORING_ASYNC_CANCEL_ANY | ALL only; kernels
// 5.11–5.18 answer that with -EINVAL, nothing was cancelled, and quiesce
// waited forever for ops that never end. Now the -EINVAL is read and quiesce
// cancels op by op. This kernel is newer, so the refusal is forced: the
// request carries an unknown flag, which it refuses with the same -EINVAL.
// The work runs on its own thread (the ring's issuer) and is waited for with
// a deadline: a hang fails the test and ends the process instead of hanging.
struct cancel_all_refusal {
  cancel_all_refusal() { uring_driver::force_cancel_all_refusal_for_test(true); }
  ~cancel_all_refusal() { uring_driver::force_cancel_all_refusal_for_test(false); }
};

template <class F>
void run_with_deadline(F f, const char* what) {
  std::packaged_task<void()> job(std::move(f));
  std::future<void> done = job.get_future();
  std::thread t(std::move(job));
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << what << " did not finish within 30 s";
    std::fprintf(stderr, "%s hung; ending the test process\n", what);
    std::_Exit(1);  // the hung thread cannot be joined
  }
  t.join();
  done.get();
}

TEST(uring_driver, quiesce_ends_every_op_in_flight_when_the_kernel_refuses_cancel_all) {
  cancel_all_refusal forced;
  run_with_deadline(
      [] {
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
      },
      "quiesce");
  EXPECT_TRUE(uring_driver::cancel_all_refused());
}

class UringShutdownWithoutCancelAll : public weft_test::on_each_flavor {};
INSTANTIATE_TEST_SUITE_P(Flavors, UringShutdownWithoutCancelAll, weft_test::each_flavor(),
                         weft_test::flavor_name);

// The same through a runtime: reads, an accept and a read under a timeout
// are in the kernel (counted at the test point uring_driver.op_started, so
// none is still unstarted) and a sleep waits on the timer when the runtime
// shuts down with the cancel-everything request refused; the shutdown ends.
TEST_P(UringShutdownWithoutCancelAll, ShutdownWithReadsAcceptsAndTimeoutsInFlightEnds) {
  WEFT_REQUIRE_TEST_POINTS();
  using namespace std::chrono_literals;
  using weft::task;
  weft_test::point_script script;
  script.on("uring_driver.op_started", [] {});  // counted only
  cancel_all_refusal forced;
  auto rt = std::make_unique<weft::runtime>(weft::runtime_builder{}
                                                .flavor(GetParam())
                                                .io_backend(weft::io_backend_choice::io_uring)
                                                .build());
  // Named, not a structured binding: clang 14 cannot capture those in lambdas.
  auto a_b = weft::net::unix_stream::pair().value();
  auto& a = a_b.first;
  auto c_d = weft::net::unix_stream::pair().value();
  auto& c = c_d.first;
  auto l = weft::net::tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
  constexpr int ops = 3;
  rt->block_on([&]() -> task<void> {
    (void)weft::spawn([&a]() -> task<void> {
      std::array<std::byte, 8> buf{};
      (void)co_await a.read(buf);  // never answered
    });
    (void)weft::spawn([&c]() -> task<void> {
      std::array<std::byte, 8> buf{};
      (void)co_await weft::timeout(1h, c.read(buf));
    });
    (void)weft::spawn([&l]() -> task<void> { (void)co_await l.accept(); });
    (void)weft::spawn([]() -> task<void> { co_await weft::sleep(1h); });
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (script.reached_count("uring_driver.op_started") < ops &&
           std::chrono::steady_clock::now() < deadline) {
      co_await weft::yield_now();
    }
  }());
  ASSERT_EQ(script.reached_count("uring_driver.op_started"), ops);
  run_with_deadline([&rt] { rt->shutdown(10ms); }, "runtime shutdown");
  EXPECT_TRUE(uring_driver::cancel_all_refused());
  rt.reset();
}

// Returns once the `started`+1-th op counted at uring_driver.op_started is in
// the kernel: it yields until the op was started, then completes a read of a
// byte already waiting on `c`, which cannot return before the io_uring_enter
// that carried both SQEs (every wait has a 30 s deadline).
task<void> until_in_kernel(weft_test::point_script& script, int started,
                           weft::net::unix_stream& c, weft::net::unix_stream& d) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (script.reached_count("uring_driver.op_started") <= started &&
         std::chrono::steady_clock::now() < deadline) {
    co_await weft::yield_now();
  }
  EXPECT_TRUE(co_await d.write_all(std::as_bytes(std::span("y", 1))));
  std::array<std::byte, 1> one{};
  result<std::size_t> r = co_await c.read(one);
  EXPECT_TRUE(r && *r == 1u);
}

// Bug 10: a current-thread runtime's ring is plain (no SINGLE_ISSUER), so any
// thread may drive it, but the kernel ties each request to the thread that
// submitted it: when that thread exits, its pending socket reads come back
// -ECANCELED once data arrives (probed on Linux 6.x). A task left waiting by
// a thread that ran block_on and exited then saw operation_canceled when
// another thread drove the runtime later. Now the driver resubmits an op that
// comes back -ECANCELED with no cancel of weft's behind it, from the thread
// that drives the ring now.
//
// How the order is forced: thread A runs block_on; the reader's recv is
// queued (counted at uring_driver.op_started) and then A completes a second
// read of data already there, which cannot return before both SQEs went to
// the kernel in A's io_uring_enter; A returns and is joined (it has exited).
// Only then does this thread drive the runtime and send the byte.
// `second_on_new_thread`: the thread that drives the runtime next is started
// after A was joined, so glibc usually gives it A's pthread_t (and
// std::thread::id): the driver must tell the two threads apart anyway.
void read_started_by_a_thread_that_exited(bool second_on_new_thread) {
  using namespace std::chrono_literals;
  using weft::result;
  using weft::task;
  weft_test::point_script script;
  script.on("uring_driver.op_started", [] {});  // counted only
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();
  auto a_b = weft::net::unix_stream::pair().value();
  auto& a = a_b.first;
  auto& b = a_b.second;
  auto c_d = weft::net::unix_stream::pair().value();
  auto& c = c_d.first;
  auto& d = c_d.second;
  std::optional<weft::join_handle<result<std::size_t>>> reader;
  std::thread first([&] {
    rt.block_on([&]() -> task<void> {
      reader = weft::spawn([&a]() -> task<result<std::size_t>> {
        std::array<std::byte, 8> buf{};
        co_return co_await a.read(buf);
      });
      co_await until_in_kernel(script, 0, c, d);  // the reader's SQE is in the kernel
    }());
  });
  first.join();  // the submitting thread has exited
  ASSERT_TRUE(reader.has_value());
  auto drive = [&] {
    return rt.block_on([&]() -> task<result<std::size_t>> {
      EXPECT_TRUE(co_await b.write_all(std::as_bytes(std::span("x", 1))));
      co_return co_await std::move(*reader);
    }());
  };
  result<std::size_t> n = std::make_error_code(std::errc::interrupted);
  if (second_on_new_thread) {
    std::thread second([&] { n = drive(); });
    second.join();
  } else {
    n = drive();
  }
  ASSERT_TRUE(n.has_value()) << n.error().message();
  EXPECT_EQ(*n, 1u);
}

TEST(UringCurrentThread, AReadStartedByAThreadThatExitedCompletesWhenAnotherThreadDrivesTheRuntime) {
  WEFT_REQUIRE_TEST_POINTS();
  read_started_by_a_thread_that_exited(false);
}

// Found in review: the first version told drivers apart by std::thread::id,
// which a thread started after the old driver exited usually inherits.
TEST(UringCurrentThread, AReadStartedByAThreadThatExitedCompletesWhenANewThreadDrivesTheRuntime) {
  WEFT_REQUIRE_TEST_POINTS();
  read_started_by_a_thread_that_exited(true);
}

// The same for a connect: it is not issued twice (the socket's connect is
// already under way) but waited for as a poll, and its outcome read from the
// socket. The listener's accept queue (backlog 0: one connection) is filled
// first, so the kernel drops the SYN of the connect thread A submits and the
// connect stays in flight; A completes a read of data already there (its
// SQEs went in) and exits. This thread then accepts the first connection,
// and the connect completes when the SYN is sent again (the kernel's
// retransmission, about a second later).
TEST(UringCurrentThread, AConnectStartedByAThreadThatExitedConnectsWhenAnotherThreadDrivesTheRuntime) {
  WEFT_REQUIRE_TEST_POINTS();
  using namespace std::chrono_literals;
  using weft::result;
  using weft::task;
  using weft::net::tcp_listener;
  using weft::net::tcp_stream;
  weft_test::point_script script;
  script.on("uring_driver.op_started", [] {});  // counted only
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();
  tcp_listener l =
      tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}, {.backlog = 0}).value();
  const weft::net::socket_address at = l.local_address().value();
  auto c_d = weft::net::unix_stream::pair().value();
  auto& c = c_d.first;
  auto& d = c_d.second;
  std::optional<weft::join_handle<result<tcp_stream>>> connector;
  std::thread first([&] {
    rt.block_on([&]() -> task<void> {
      // Fills the accept queue (the connection is complete once queued).
      result<tcp_stream> filler = co_await tcp_stream::connect(at);
      EXPECT_TRUE(filler.has_value());
      const int started = script.reached_count("uring_driver.op_started");
      connector = weft::spawn(tcp_stream::connect(at));
      co_await until_in_kernel(script, started, c, d);  // the connect's SQE is in the kernel
      filler->close();  // queued, not accepted: still fills the queue
    }());
  });
  first.join();  // the submitting thread has exited
  ASSERT_TRUE(connector.has_value());
  result<result<tcp_stream>> s = rt.block_on([&]() -> task<result<result<tcp_stream>>> {
    result<tcp_stream> accepted = co_await l.accept();  // makes room in the queue
    EXPECT_TRUE(accepted.has_value());
    co_return co_await weft::timeout(30s, std::move(*connector));
  }());
  ASSERT_TRUE(s.has_value()) << "the connect did not end within 30 s";
  ASSERT_TRUE(s->has_value()) << s->error().message();
}

// An orphaned read cancelled before it is submitted again ends -ECANCELED
// and takes no data: its cancel finds nothing in the kernel, so the
// resubmission step must see the cancel instead of sending the read again.
// How the order is forced: as above, thread A's read is orphaned when this
// thread sends a byte; at the test point where the driver queues the orphan
// (inside its park, before any resubmission) the read's token is cancelled,
// so the read's branch is cancelled by the tasks that run before the next
// park. The byte must then still be there for a second read.
TEST(UringCurrentThread, AnOrphanedReadCancelledBeforeItIsResubmittedEndsCanceledAndTakesNoData) {
  WEFT_REQUIRE_TEST_POINTS();
  using namespace std::chrono_literals;
  using weft::result;
  using weft::task;
  weft_test::point_script script;
  script.on("uring_driver.op_started", [] {});  // counted only
  weft::cancellation_source stop;
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();
  auto a_b = weft::net::unix_stream::pair().value();
  auto& a = a_b.first;
  auto& b = a_b.second;
  auto c_d = weft::net::unix_stream::pair().value();
  auto& c = c_d.first;
  auto& d = c_d.second;
  std::optional<weft::join_handle<std::error_code>> reader;
  std::thread first([&] {
    rt.block_on([&]() -> task<void> {
      reader = weft::spawn([](weft::net::unix_stream& a,
                              weft::cancellation_token tok) -> task<std::error_code> {
        std::array<std::byte, 8> buf{};
        result<result<std::size_t>> r =
            co_await weft::with_cancellation(std::move(tok), a.read(buf));
        if (!r) co_return r.error();
        co_return r->has_value() ? std::error_code{} : r->error();
      }(a, stop.token()));
      co_await until_in_kernel(script, 0, c, d);  // the reader's SQE is in the kernel
    }());
  });
  first.join();  // the submitting thread has exited
  ASSERT_TRUE(reader.has_value());
  script.on("uring_driver.orphan_queued", [&stop] { stop.cancel(); });
  const std::error_code ec = rt.block_on([&]() -> task<std::error_code> {
    EXPECT_TRUE(co_await b.write_all(std::as_bytes(std::span("x", 1))));
    std::error_code e = co_await std::move(*reader);
    std::array<std::byte, 8> buf{};
    result<result<std::size_t>> again = co_await weft::timeout(30s, a.read(buf));
    EXPECT_TRUE(again.has_value() && again->has_value() && **again == 1u)
        << "the cancelled read took the byte";
    co_return e;
  }());
  EXPECT_EQ(ec, weft::errc::operation_canceled);
  EXPECT_EQ(script.reached_count("uring_driver.orphan_queued"), 1);
}

}  // namespace
}  // namespace weft::detail
