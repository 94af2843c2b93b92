// weft::net::accept_with_backoff: out of descriptors, the accept loop waits
// (doubling, capped) instead of retrying at once, takes the queued
// connection once a descriptor is free, and stops under with_cancellation.
//
// The exhaustion is real, not simulated: the test lowers RLIMIT_NOFILE to the
// lowest free descriptor number, so every new descriptor fails with EMFILE
// until the test closes a spare one it opened before. The order is forced
// through the backoff's on_wait callback (called before each wait), not by
// time: the spare is closed at the N-th wait, and the waits asked for (the
// values on_wait is given) are the policy's, checked exactly.
#include <weft/net/accept_backoff.hpp>
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/with_cancellation.hpp>

#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::accept_backoff;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

class AcceptBackoff : public weft_test::on_each_backend {};
INSTANTIATE_TEST_SUITE_P(Backends, AcceptBackoff, weft_test::each_backend(),
                         weft_test::backend_name);
INSTANTIATE_TEST_SUITE_P(Simulated, AcceptBackoff, weft_test::each_simulated_seed(),
                         weft_test::backend_name);

// While it lives, no new descriptor can be made except by closing `spare`
// (opened here, below the limit). Restores the limit when destroyed.
class descriptor_exhaustion {
 public:
  descriptor_exhaustion() {
    spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(spare_, 0);
    EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &old_), 0);
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(lowest_free, 0);
    ::close(lowest_free);
    rlimit lowered = old_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);  // every number below it is taken
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  descriptor_exhaustion(const descriptor_exhaustion&) = delete;
  descriptor_exhaustion& operator=(const descriptor_exhaustion&) = delete;
  ~descriptor_exhaustion() {
    ::setrlimit(RLIMIT_NOFILE, &old_);
    free_one();
  }
  void free_one() {
    if (spare_ >= 0) ::close(spare_);
    spare_ = -1;
  }

 private:
  rlimit old_{};
  int spare_ = -1;
};

TEST_P(AcceptBackoff, WaitsOutDescriptorExhaustionAndTakesTheQueuedConnectionOnceOneIsFree) {
  rt.block_on([]() -> task<> {
    // Wakes of this root task (block_on's scheduler) once before the
    // descriptors run out: the asan build's UBSan vptr check probes memory
    // through a pipe(2) the first time it meets a type, and at the limit that
    // pipe fails and a valid object is reported as invalid (it failed once so
    // on multi_thread io_uring, in block_on_scheduler::schedule; see the next
    // test). A yield and a child's completion both reschedule it.
    co_await weft::yield_now();
    co_await weft::spawn([]() -> task<> { co_await weft::yield_now(); });
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    tcp_stream client = (co_await tcp_stream::connect(l.local_address().value())).value();
    std::vector<std::chrono::milliseconds> waits;
    std::vector<std::error_code> errors;
    {
      descriptor_exhaustion full;
      // A plain accept fails at once: the connection stays queued.
      result<tcp_stream> plain = co_await l.accept();
      EXPECT_FALSE(plain.has_value());
      EXPECT_TRUE(!plain && weft::net::is_resource_exhaustion(plain.error()));
      accept_backoff b;
      b.initial = 1ms;
      b.max = 4ms;
      b.on_wait = [&](std::error_code ec, std::chrono::milliseconds w) {
        errors.push_back(ec);
        waits.push_back(w);
        if (waits.size() == 4) full.free_one();  // the next attempt finds a descriptor
        // A failure, not a hang: an exception from on_wait ends the accept.
        if (waits.size() > 20) throw std::runtime_error("still out of descriptors after 20 waits");
      };
      result<tcp_stream> s = co_await weft::net::accept_with_backoff(l, b);
      EXPECT_TRUE(s.has_value()) << s.error().message();
      if (s) {
        const char msg[] = "queued";
        EXPECT_TRUE(co_await client.write_all(std::as_bytes(std::span(msg, 6))));
        char got[6] = {};
        EXPECT_TRUE(co_await s->read_exact(std::as_writable_bytes(std::span(got, 6))));
        EXPECT_EQ(std::string(got, 6), "queued");
      }
    }
    EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{1ms, 2ms, 4ms, 4ms}))
        << "the waits double from initial and stop at max";
    for (std::error_code ec : errors) EXPECT_EQ(ec, std::error_code(EMFILE, std::system_category()));
  }());
}

TEST_P(AcceptBackoff, ACancelDuringTheBackoffEndsItAndTheListenerStaysUsable) {
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    weft::cancellation_source stop;
    // The same await once before the descriptors run out, where it succeeds
    // at once: the asan build's UBSan vptr check probes memory through a
    // pipe(2) the first time it meets a type at a call site, and at the limit
    // that pipe fails and a valid object is reported as invalid (as in
    // tests/examples/echo_server_fd_limit_test.sh). Met once here, the types
    // are in its cache.
    // On another listener: an accept on `l` itself would leave its
    // multishot accept armed (io_uring), which would take the client below
    // before the descriptors run out.
    tcp_listener warm_l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    tcp_stream first = (co_await tcp_stream::connect(warm_l.local_address().value())).value();
    auto warm =
        co_await weft::with_cancellation(stop.token(), weft::net::accept_with_backoff(warm_l));
    EXPECT_TRUE(warm && *warm);
    tcp_stream client = (co_await tcp_stream::connect(l.local_address().value())).value();
    int waits = 0;
    std::error_code ended;
    {
      descriptor_exhaustion full;
      // The first wait is long, so the cancel, made at its start, always
      // finds it pending: no second attempt can come first, whatever the
      // scheduling (a cancel does not stop the task until the race ends it).
      accept_backoff b;
      b.initial = 30s;
      b.max = 60s;
      b.on_wait = [&](std::error_code, std::chrono::milliseconds) {
        if (++waits == 1) stop.cancel();  // Ctrl-C while the server is full
        if (waits > 20) throw std::runtime_error("the cancel did not end the backoff");
      };
      auto s = co_await weft::with_cancellation(stop.token(),
                                                weft::net::accept_with_backoff(l, b));
      ended = s.has_value() ? std::error_code{} : s.error();
    }
    // Compared once descriptors are back (a comparison calls the category,
    // which UBSan checks; see above).
    EXPECT_EQ(ended, weft::errc::operation_canceled);
    EXPECT_EQ(waits, 1);
    // Descriptors are back: the connection still queued is accepted.
    result<tcp_stream> later = co_await l.accept();
    EXPECT_TRUE(later.has_value());
  }());
}

TEST(AcceptBackoffPolicy, AnEmptyOrInvertedBackoffIsRefusedWithAMessage) {
  weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  rt.block_on([]() -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    accept_backoff zero;
    zero.initial = 0ms;
    accept_backoff inverted;
    inverted.initial = 10ms;
    inverted.max = 5ms;
    for (const accept_backoff& b : {zero, inverted}) {
      try {
        (void)co_await weft::net::accept_with_backoff(l, b);
        ADD_FAILURE() << "an invalid backoff was accepted";
      } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("initial > 0"), std::string::npos) << e.what();
      }
    }
  }());
}

TEST(AcceptBackoffPolicy, ResourceErrorsAreTheOnesARetryCannotCure) {
  for (int e : {EMFILE, ENFILE, ENOMEM, ENOBUFS}) {
    EXPECT_TRUE(weft::net::is_resource_exhaustion(std::error_code(e, std::system_category()))) << e;
  }
  for (int e : {ECONNABORTED, EINVAL, EAGAIN}) {
    EXPECT_FALSE(weft::net::is_resource_exhaustion(std::error_code(e, std::system_category()))) << e;
  }
  EXPECT_FALSE(weft::net::is_resource_exhaustion(std::error_code(EMFILE, std::generic_category())));
}

}  // namespace
