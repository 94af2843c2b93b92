// System calls failing on a seeded schedule (src/support/fault_injection):
// ring setup, accept, io_uring_enter, io_uring_get_sqe, eventfd and
// epoll_ctl each fail as the real call would, and the runtime survives it.
#include "io/fault_support.hpp"
#include "io/uring_driver.hpp"

#include <weft/cancellation.hpp>
#include <weft/signals.hpp>
#include <weft/with_cancellation.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace weft_test::faults;
using weft::io_backend_choice;
using weft::runtime_flavor;
using weft::task;
using weft::net::socket_address;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

using flavor_backend = std::tuple<runtime_flavor, io_backend_choice>;

// While it lives, io_uring workers park in their ring even with no I/O in
// flight (normally they sleep on a futex then): the tests of hard enter
// errors during a park need the park to enter the kernel.
struct ring_parks_only {
  ring_parks_only() { weft::detail::uring_driver::park_in_ring_for_test(true); }
  ring_parks_only(const ring_parks_only&) = delete;
  ring_parks_only& operator=(const ring_parks_only&) = delete;
  ~ring_parks_only() { weft::detail::uring_driver::park_in_ring_for_test(false); }
};

std::string param_name(const ::testing::TestParamInfo<flavor_backend>& info) {
  std::string s = std::get<0>(info.param) == runtime_flavor::multi_thread ? "multi_thread"
                                                                            : "current_thread";
  s += std::get<1>(info.param) == io_backend_choice::epoll ? "_epoll" : "_io_uring";
  return s;
}

auto each_flavor_on(io_backend_choice backend) {
  return ::testing::Combine(
      ::testing::Values(runtime_flavor::multi_thread, runtime_flavor::current_thread),
      ::testing::Values(backend));
}

class FaultTest : public ::testing::TestWithParam<flavor_backend> {
 protected:
  bool on_uring() const { return std::get<1>(GetParam()) == io_backend_choice::io_uring; }
  weft::runtime make() const { return make_runtime(std::get<0>(GetParam()), std::get<1>(GetParam())); }
};

// ---- ring setup ---------------------------------------------------------------

void expect_automatic_choice_falls_back_to_epoll(fault::site s) {
  fault::disarm_all_on_exit guard;
  fault::arm(s, schedule(1.0, 1, /*times=*/0, {ENOMEM}));  // every ring setup fails
  weft::runtime rt = make_runtime(runtime_flavor::multi_thread, io_backend_choice::automatic);
  EXPECT_GE(fault::injected(s), 1u);
  fault::disarm(s);
  EXPECT_EQ(rt.io_backend(), weft::io_backend::epoll);
  const std::error_code ec = rt.block_on([]() -> task<std::error_code> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    auto server = weft::spawn([&l]() -> task<void> {
      auto s = co_await weft::timeout(5s, l.accept());
      if (s && *s) co_await echo_one(std::move(s->value()));
    });
    const std::error_code r = co_await exchange(l.local_address().value(), "over epoll");
    co_await server;
    co_return r;
  }());
  EXPECT_FALSE(ec) << ec.message();
}

TEST(RingSetupFault, EnomemFromIoUringSetupMakesTheAutomaticChoiceRunOnEpoll) {
  expect_automatic_choice_falls_back_to_epoll(fault::site::uring_setup);
}

TEST(RingSetupFault, EnomemFromTheRingMmapMakesTheAutomaticChoiceRunOnEpoll) {
  expect_automatic_choice_falls_back_to_epoll(fault::site::mmap);
}

TEST(RingSetupFault, ForcedIoUringWhoseSetupFailsThrowsTheErrnoAndSaysToUseEpoll) {
  fault::disarm_all_on_exit guard;
  const std::size_t fds = open_fd_count();
  fault::arm(fault::site::uring_setup, schedule(1.0, 1, 0, {ENOMEM}));
  try {
    (void)make_runtime(runtime_flavor::multi_thread, io_backend_choice::io_uring);
    ADD_FAILURE() << "build() succeeded without a ring";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::not_enough_memory);
    EXPECT_NE(std::string(e.what()).find("epoll"), std::string::npos) << e.what();
  }
  EXPECT_EQ(open_fd_count(), fds);
}

// ---- accept -------------------------------------------------------------------

struct server_log {
  int accepted = 0;
  std::vector<std::error_code> accept_errors;
};

// Accepts until `stop` fires, echoing each accepted connection.
task<void> serve(tcp_listener& l, weft::cancellation_token stop, server_log& log) {
  std::vector<weft::join_handle<void>> echoes;
  for (;;) {
    auto s = co_await weft::with_cancellation(stop, l.accept());
    if (!s) break;  // stopped
    if (!*s) {
      log.accept_errors.push_back(s->error());
      continue;
    }
    ++log.accepted;
    echoes.push_back(weft::spawn(echo_one(std::move(s->value()))));
  }
  for (auto& e : echoes) co_await e;
}

bool is_injected_accept_error(const std::error_code& ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::connection_aborted ||
         ec == std::errc::not_enough_memory;
}

class AcceptFault : public FaultTest {};
INSTANTIATE_TEST_SUITE_P(Epoll, AcceptFault, each_flavor_on(io_backend_choice::epoll), param_name);
INSTANTIATE_TEST_SUITE_P(IoUring, AcceptFault, each_flavor_on(io_backend_choice::io_uring),
                         param_name);

TEST_P(AcceptFault, EchoServerKeepsServingWhileAcceptFailsOnASeededSchedule) {
  fault::disarm_all_on_exit guard;
  // Counted before the runtime and compared after it is gone: on io_uring a
  // listener closed off the ring that holds its multishot accept keeps its
  // descriptor until that ring reaps the accept's last CQE (multishot_queue.hpp),
  // which a worker may do just after block_on has returned.
  const std::size_t fds = open_fd_count();
  std::optional<weft::runtime> rt_scope(make());
  weft::runtime& rt = *rt_scope;
  constexpr int clients = 12;
  constexpr std::uint64_t failures = 4;
  server_log log;
  int echoed = 0;
  std::vector<std::error_code> client_errors;
  rt.block_on([&]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    const socket_address addr = l.local_address().value();
    weft::cancellation_source stop;
    fault::fault_schedule f =
        schedule(0.5, 20261202, failures, {EMFILE, ECONNABORTED, ENOMEM});
    f.skip = 1;  // the first accept succeeds
    fault::arm(fault::site::accept, f);
    auto server = weft::spawn(serve(l, stop.token(), log));
    for (int i = 0; i < clients; ++i) {
      const std::error_code ec = co_await exchange(addr, "client " + std::to_string(i));
      if (ec) {
        client_errors.push_back(ec);
      } else {
        ++echoed;
      }
    }
    stop.cancel();
    co_await server;
  }());
  EXPECT_EQ(fault::injected(fault::site::accept), failures) << "the schedule ran out of calls";
  ASSERT_EQ(log.accept_errors.size(), failures);
  for (const std::error_code& ec : log.accept_errors) {
    EXPECT_TRUE(is_injected_accept_error(ec)) << ec.message();
  }
  EXPECT_EQ(echoed, log.accepted) << "an accepted client was not echoed";
  for (const std::error_code& ec : client_errors) {
    EXPECT_NE(ec, weft::make_error_code(weft::errc::timed_out)) << "a client hung";
  }
  if (on_uring()) {
    // The failed completion's connection was closed: its client saw the end.
    EXPECT_EQ(echoed + static_cast<int>(failures), clients);
  } else {
    // A failed accept4 leaves the connection queued: a later accept takes it.
    EXPECT_EQ(echoed, clients);
  }
  rt_scope.reset();
  EXPECT_EQ(open_fd_count(), fds) << "descriptors leaked";
}

// ---- io_uring_enter and io_uring_get_sqe --------------------------------------

class UringFault : public FaultTest {};
INSTANTIATE_TEST_SUITE_P(IoUring, UringFault, each_flavor_on(io_backend_choice::io_uring),
                         param_name);

// Runs `n` echo exchanges against a server on the same runtime; returns the
// number echoed intact.
int echo_round(weft::runtime& rt, int n, std::vector<std::error_code>& errors) {
  return rt.block_on([&errors, n]() -> task<int> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    const socket_address addr = l.local_address().value();
    weft::cancellation_source stop;
    server_log log;
    auto server = weft::spawn(serve(l, stop.token(), log));
    std::vector<weft::join_handle<std::error_code>> clients;
    for (int i = 0; i < n; ++i) clients.push_back(weft::spawn(exchange(addr, std::string(100 + i, 'x'))));
    int ok = 0;
    for (auto& c : clients) {
      const std::error_code ec = co_await c;
      if (ec) {
        errors.push_back(ec);
      } else {
        ++ok;
      }
    }
    co_await weft::sleep(1ms);  // a timer through the same parks
    stop.cancel();
    co_await server;
    co_return ok;
  }());
}

TEST_P(UringFault, TransientEnterErrorsAreRetriedAndEveryOperationCompletes) {
  fault::disarm_all_on_exit guard;
  weft::runtime rt = make();
  fault::arm(fault::site::uring_enter, schedule(0.3, 7, /*times=*/0, {EINTR, EAGAIN, EBUSY}));
  std::vector<std::error_code> errors;
  const int ok = echo_round(rt, 8, errors);
  EXPECT_GT(fault::injected(fault::site::uring_enter), 0u);
  EXPECT_EQ(ok, 8);
  for (const std::error_code& ec : errors) ADD_FAILURE() << ec.message();
  fault::disarm_all();
}

TEST_P(UringFault, FullSubmissionQueueIsSubmittedAndRetriedAndOperationsComplete) {
  fault::disarm_all_on_exit guard;
  weft::runtime rt = make();
  fault::arm(fault::site::uring_get_sqe, schedule(0.5, 11, /*times=*/0));
  std::vector<std::error_code> errors;
  const int ok = echo_round(rt, 8, errors);
  EXPECT_GT(fault::injected(fault::site::uring_get_sqe), 0u);
  EXPECT_EQ(ok, 8);
  for (const std::error_code& ec : errors) ADD_FAILURE() << ec.message();
  fault::disarm_all();
}

TEST_P(UringFault, HardEnterErrorsWhileParkingAreRetriedAndEveryOperationCompletes) {
  fault::disarm_all_on_exit guard;
  weft::runtime rt = make();
  // Three enters in a row fail hard: the queued SQEs stay queued and go in at
  // the next enter (fewer than max_hard_enter_failures in a row).
  fault::arm(fault::site::uring_enter, schedule(1.0, 3, /*times=*/3, {ENOMEM, EBADR}));
  std::vector<std::error_code> errors;
  const int ok = echo_round(rt, 8, errors);
  EXPECT_EQ(fault::injected(fault::site::uring_enter), 3u);
  EXPECT_EQ(ok, 8);
  for (const std::error_code& ec : errors) ADD_FAILURE() << ec.message();
}

TEST(UringFault, AFullSqueueAndAHardEnterErrorWhileParkingAreRetried) {
  // Found by review: the park re-arms its eventfd read; with the SQ full
  // (get_sqe fails once) the enter that makes room fails hard (once). That
  // enter consumed nothing: it must count as one failed park enter and be
  // retried, not throw out of the park (block_on threw; a worker thread
  // would have ended the process).
  fault::disarm_all_on_exit guard;
  ring_parks_only in_ring;  // the sleep below parks in the ring, not on a futex
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(runtime_flavor::current_thread)
                         .io_backend(io_backend_choice::io_uring)
                         .build();
  rt.block_on([]() -> task<void> {
    fault::arm(fault::site::uring_get_sqe, schedule(1.0, 1, /*times=*/1));
    fault::arm(fault::site::uring_enter, schedule(1.0, 2, /*times=*/1, {ENOMEM}));
    co_await weft::sleep(5ms);  // parks: re-arms the eventfd read
  }());
  EXPECT_EQ(fault::injected(fault::site::uring_get_sqe), 1u);
  EXPECT_EQ(fault::injected(fault::site::uring_enter), 1u);
  fault::disarm_all();
}

TEST(UringHardFault, PersistentHardEnterErrorEndsBlockOnWithTheErrnoInsteadOfSpinning) {
  fault::disarm_all_on_exit guard;
  ring_parks_only in_ring;  // the sleep below parks in the ring, not on a futex
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(runtime_flavor::current_thread)
                         .io_backend(io_backend_choice::io_uring)
                         .shutdown_timeout(100ms)
                         .build();
  try {
    rt.block_on([]() -> task<void> {
      fault::arm(fault::site::uring_enter, schedule(1.0, 5, /*times=*/0, {ENOMEM}));
      co_await weft::sleep(5ms);  // parks in io_uring_enter
    }());
    ADD_FAILURE() << "block_on returned although every io_uring_enter failed";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::not_enough_memory);
  }
  // Bounded retries: a handful of enters, not a spin.
  EXPECT_LE(fault::calls(fault::site::uring_enter), 16u);
  fault::disarm_all();
  EXPECT_EQ(rt.block_on([]() -> task<int> { co_return 3; }()), 3);
}

// ---- eventfd ----------------------------------------------------------------------

class EventfdFault : public ::testing::TestWithParam<io_backend_choice> {};
INSTANTIATE_TEST_SUITE_P(Backends, EventfdFault,
                         ::testing::Values(io_backend_choice::epoll, io_backend_choice::io_uring),
                         [](const auto& info) {
                           return std::string(info.param == io_backend_choice::epoll ? "epoll"
                                                                                     : "io_uring");
                         });

TEST_P(EventfdFault, EventfdFailingAtRuntimeCreationThrowsEmfileNamingTheCall) {
  fault::disarm_all_on_exit guard;
  // The n-th eventfd of the build fails, for n = 1, 2, ...: the probe's, the
  // first worker's, the second's; once n passes them all the build succeeds.
  int refused = 0;
  for (std::uint64_t skip = 0;; ++skip) {
    SCOPED_TRACE("eventfd call " + std::to_string(skip + 1) + " fails");
    const std::size_t fds = open_fd_count();
    fault::fault_schedule f = schedule(1.0, 1, 1, {EMFILE});
    f.skip = skip;
    fault::arm(fault::site::eventfd, f);
    try {
      weft::runtime rt = weft::runtime_builder{}.worker_threads(2).io_backend(GetParam()).build();
      fault::disarm_all();
      EXPECT_EQ(rt.block_on([]() -> task<int> { co_return 7; }()), 7);
      break;  // every eventfd of the build passed
    } catch (const std::system_error& e) {
      ++refused;
      EXPECT_EQ(e.code(), std::errc::too_many_files_open);
      EXPECT_NE(std::string(e.what()).find("eventfd"), std::string::npos) << e.what();
    }
    EXPECT_EQ(open_fd_count(), fds) << "a failed build leaked descriptors";
    ASSERT_LT(skip, 10u) << "the build never succeeded";
  }
  EXPECT_GE(refused, 2);  // at least the first worker's and the second's
}

TEST(SignalEventfdFault, EventfdFailingWhenSignalsStartThrowsEmfileAndALaterUseStartsThem) {
  fault::disarm_all_on_exit guard;
  const std::size_t fds = open_fd_count();
  fault::arm(fault::site::eventfd, schedule(1.0, 1, 1, {EMFILE}));
  try {
    weft::signals::listener l(SIGUSR2);  // the first use starts the process-wide driver
    if (fault::calls(fault::site::eventfd) == 0) {
      GTEST_SKIP() << "the signal driver was started earlier in this process (--gtest_repeat)";
    }
    ADD_FAILURE() << "the signal driver started without its eventfd";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::too_many_files_open);
    EXPECT_NE(std::string(e.what()).find("eventfd"), std::string::npos) << e.what();
  }
  EXPECT_EQ(open_fd_count(), fds) << "the failed start leaked its signalfd";
  fault::disarm_all();
  weft::runtime rt = make_runtime(runtime_flavor::current_thread, io_backend_choice::epoll);
  const std::uint64_t got = rt.block_on([]() -> task<std::uint64_t> {
    weft::signals::listener l(SIGUSR2);
    ::raise(SIGUSR2);
    auto n = co_await weft::timeout(
        5s, [](weft::signals::listener& lis) -> task<std::uint64_t> { co_return co_await lis.recv(); }(l));
    co_return n ? *n : 0;
  }());
  EXPECT_GE(got, 1u);
}

}  // namespace
