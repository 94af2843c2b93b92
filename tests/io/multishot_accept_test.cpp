// A listener's accepts, on both backends and both flavours. On io_uring one
// multishot accept per listener feeds a queue that accept() takes from
// (src/io/multishot_queue.hpp); on epoll each accept() is one accept4(2). The
// behaviours are the same; the io_uring specifics (one arm for many
// connections, the stop at the queue's high-water mark, the one-shot
// fallback) are read from test points that count, never hold: the arm
// ("multishot_queue.armed"), its end ("multishot_queue.arm_ended"), the stop
// ("multishot_queue.stop_sent"), a connection queued ("multishot_queue.queued") and
// an accept waiting ("multishot_queue.waiter_linked").
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "io/multishot_queue.hpp"
#include "support/backends.hpp"
#include "support/flavors.hpp"
#include "support/open_descriptors.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using weft_test::open_descriptors;
using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::detail::multishot_kind;
using weft::detail::multishot_queue;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

class MultishotAccept : public weft_test::on_each_backend {
 protected:
  [[nodiscard]] bool on_uring() const {
    return std::get<1>(GetParam()) == weft::io_backend_choice::io_uring;
  }
  [[nodiscard]] bool current_thread() const {
    return std::get<0>(GetParam()) == weft::runtime_flavor::current_thread;
  }
};

tcp_listener loopback_listener() {
  return tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
}

// Each client says who it is: 4 bytes, its index.
task<tcp_stream> client(const weft::net::socket_address& addr, std::uint32_t index) {
  tcp_stream s = (co_await tcp_stream::connect(addr)).value();
  std::array<std::byte, 4> b{};
  std::memcpy(b.data(), &index, sizeof index);
  EXPECT_TRUE(co_await s.write_all(b));
  co_return s;
}

// Accept one connection (30 s deadline: a lost connection fails the test
// instead of hanging it) and read its index.
task<std::uint32_t> accept_index(tcp_listener& l, std::vector<tcp_stream>& keep) {
  auto s = co_await weft::timeout(30s, l.accept());
  if (!s || !*s) {
    ADD_FAILURE() << "accept failed or timed out";
    co_return ~std::uint32_t{0};
  }
  tcp_stream stream = std::move(**s);
  std::array<std::byte, 4> b{};
  EXPECT_TRUE(co_await stream.read_exact(b));
  std::uint32_t index = 0;
  std::memcpy(&index, b.data(), sizeof index);
  keep.push_back(std::move(stream));
  co_return index;
}

// `n` clients, each accepted before the next connects.
task<void> connect_and_accept_one_by_one(std::uint32_t n) {
  tcp_listener l = loopback_listener();
  const auto addr = l.local_address().value();
  std::vector<tcp_stream> clients;
  std::vector<tcp_stream> accepted;
  for (std::uint32_t i = 0; i < n; ++i) {
    clients.push_back(co_await client(addr, i));
    EXPECT_EQ(co_await accept_index(l, accepted), i);
  }
}

// Yield until `done()` holds; false after 30 s. The ring's completions are
// reaped while the runtime polls between tasks, which a yield gives it.
template <class Pred>
task<bool> yield_until(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await weft::yield_now();
  }
  co_return true;
}

// Forces the kernel's refusal of IORING_ACCEPT_MULTISHOT for its scope.
struct multishot_refusal {
  multishot_refusal() { multishot_queue::force_multishot_refusal_for_test(multishot_kind::accept, true); }
  ~multishot_refusal() { multishot_queue::force_multishot_refusal_for_test(multishot_kind::accept, false); }
  multishot_refusal(const multishot_refusal&) = delete;
  multishot_refusal& operator=(const multishot_refusal&) = delete;
};

// Many connections while nobody accepts: on io_uring the queue stops taking
// them past its high-water mark (the arm is cancelled and ends), later ones
// stay in the kernel's listen backlog, and accepting everything afterwards
// yields every connection exactly once.
TEST_P(MultishotAccept, ConnectionsBeyondTheQueueWaitInTheBacklogAndNoneIsLost) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  const bool uring = on_uring();
  rt.block_on([&]() -> task<> {
    tcp_listener l = loopback_listener();
    const auto addr = l.local_address().value();
    constexpr std::uint32_t before = multishot_queue::accept_high_water + 20;
    constexpr std::uint32_t after = 40;
    std::vector<tcp_stream> clients;
    std::vector<tcp_stream> accepted;
    std::vector<std::uint32_t> seen;
    clients.push_back(co_await client(addr, 0));
    seen.push_back(co_await accept_index(l, accepted));  // the listener is armed from here
    for (std::uint32_t i = 1; i <= before; ++i) clients.push_back(co_await client(addr, i));
    int queued_at_stop = 0;
    if (uring) {
      EXPECT_TRUE(co_await yield_until([&] { return script.reached_count("multishot_queue.stop_sent") >= 1; }));
      EXPECT_TRUE(co_await yield_until([&] { return script.reached_count("multishot_queue.arm_ended") >= 1; }));
      queued_at_stop = script.reached_count("multishot_queue.queued");
      EXPECT_GE(queued_at_stop, static_cast<int>(multishot_queue::accept_high_water));
      EXPECT_EQ(script.reached_count("multishot_queue.armed"), 1);
    }
    for (std::uint32_t i = before + 1; i <= before + after; ++i) {
      clients.push_back(co_await client(addr, i));
    }
    if (uring) {
      // Nothing is armed: however long the ring runs, nothing more is taken.
      for (int k = 0; k < 500; ++k) co_await weft::yield_now();
      EXPECT_EQ(script.reached_count("multishot_queue.queued"), queued_at_stop);
    }
    for (std::uint32_t n = 0; n < before + after; ++n) seen.push_back(co_await accept_index(l, accepted));
    std::sort(seen.begin(), seen.end());
    std::vector<std::uint32_t> all(before + after + 1);
    for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    EXPECT_EQ(seen, all);
    // Re-armed once half the queue was taken.
    if (uring) {
      EXPECT_GE(script.reached_count("multishot_queue.armed"), 2);
    }
  }());
}

// One multishot accept serves connection after connection (io_uring); on
// epoll the same accepts work one system call each.
TEST_P(MultishotAccept, OneArmedAcceptServesManyConnections) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  rt.block_on(connect_and_accept_one_by_one(20));
  if (on_uring()) {
    EXPECT_EQ(script.reached_count("multishot_queue.armed"), 1);
    EXPECT_FALSE(multishot_queue::multishot_refused(multishot_kind::accept));
  }
}

// A kernel that refuses IORING_ACCEPT_MULTISHOT (before 5.19: -EINVAL):
// accepts go on as one-shot requests, one per connection, and none is lost.
// (io_uring only: epoll has no multishot request to refuse.)
class MultishotAcceptOnUring : public weft_test::on_uring_each_flavor {};

TEST_P(MultishotAcceptOnUring, AKernelRefusingMultishotAcceptFallsBackToOneShotAccepts) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  multishot_refusal forced;
  rt.block_on(connect_and_accept_one_by_one(20));
  EXPECT_TRUE(multishot_queue::multishot_refused(multishot_kind::accept));
  // The refused multishot, its one-shot retry, then one per connection.
  EXPECT_GE(script.reached_count("multishot_queue.armed"), 21);
}

// close() on a listener while a task waits in accept(): the accept ends with
// operation_canceled on both backends, and (io_uring, the closing thread
// driving the ring) the port is free again when close returns.
TEST_P(MultishotAccept, ClosingTheListenerEndsAWaitingAccept) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  const bool uring = on_uring();
  const bool port_check = current_thread();
  rt.block_on([&]() -> task<> {
    tcp_listener l = loopback_listener();
    const auto addr = l.local_address().value();
    auto acceptor = weft::spawn([&l]() -> task<int> {
      result<tcp_stream> s = co_await l.accept();
      co_return s ? 0 : (s.error() == weft::errc::operation_canceled ? 1 : 2);
    });
    const char* linked = uring ? "multishot_queue.waiter_linked" : "io_source.op_linked";
    EXPECT_TRUE(co_await yield_until([&] { return script.reached_count(linked) >= 1; }));
    l.close();
    auto ended = co_await weft::timeout(30s, std::move(acceptor));
    EXPECT_TRUE(ended.has_value());
    if (ended) {
      EXPECT_EQ(*ended, 1) << "0: it accepted a connection, 2: another error";
    }
    if (port_check) {
      tcp_listener again = tcp_listener::bind(addr).value();  // throws if still bound
      EXPECT_TRUE(again.is_open());
    }
  }());
}

// close() on a thread that does not drive the ring holding the armed accept
// (here: after block_on returned, so nobody drives it): the socket is shut
// down at once, so the port can be bound again and a client is refused.
// Found by outside review (EADDRINUSE after close).
TEST_P(MultishotAcceptOnUring, ClosingTheListenerOffItsRingFreesThePortAtOnce) {
  tcp_listener l = loopback_listener();
  const auto addr = l.local_address().value();
  rt.block_on([&]() -> task<> {
    std::vector<tcp_stream> accepted;
    tcp_stream c = co_await client(addr, 1);
    EXPECT_EQ(co_await accept_index(l, accepted), 1u);  // the accept stays armed
  }());
  l.close();  // on the test's thread, outside the runtime
  auto again = tcp_listener::bind(addr);
  EXPECT_TRUE(again.has_value()) << (again ? "" : again.error().message());
}

// An accept that loses to its timeout leaves the next connection to the next
// accept (the waiter is unlinked, nothing it would have taken is lost).
TEST_P(MultishotAccept, AnAcceptThatTimesOutLeavesTheNextConnectionForTheNextAccept) {
  rt.block_on([&]() -> task<> {
    tcp_listener l = loopback_listener();
    const auto addr = l.local_address().value();
    auto none = co_await weft::timeout(5ms, l.accept());  // nobody connects
    EXPECT_FALSE(none.has_value());
    if (!none) {
      EXPECT_EQ(none.error(), weft::errc::timed_out);
    }
    std::vector<tcp_stream> accepted;
    tcp_stream c = co_await client(addr, 7);
    EXPECT_EQ(co_await accept_index(l, accepted), 7u);
  }());
}

// Connections the queue took but nobody accepted are closed with the
// listener, not leaked.
TEST_P(MultishotAccept, ConnectionsQueuedWhenTheListenerClosesAreClosed) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  const bool uring = on_uring();
  const int fds_before = open_descriptors();
  rt.block_on([&]() -> task<> {
    tcp_listener l = loopback_listener();
    const auto addr = l.local_address().value();
    std::vector<tcp_stream> clients;
    std::vector<tcp_stream> accepted;
    clients.push_back(co_await client(addr, 0));
    EXPECT_EQ(co_await accept_index(l, accepted), 0u);
    clients.push_back(co_await client(addr, 1));
    clients.push_back(co_await client(addr, 2));
    if (uring) {
      EXPECT_TRUE(co_await yield_until([&] { return script.reached_count("multishot_queue.queued") >= 2; }));
    }
    l.close();
    for (std::size_t i = 1; i < clients.size(); ++i) {
      // The server side is gone: end of stream or a reset, never a hang.
      std::array<std::byte, 1> b{};
      auto r = co_await weft::timeout(30s, clients[i].read(b));
      EXPECT_TRUE(r.has_value()) << "the queued connection was not closed";
      if (r) {
        EXPECT_TRUE(!*r || **r == 0u);
      }
    }
  }());
  // After shutdown: closed off the ring holding its accept, the listener's
  // descriptor stays until that ring reaps the accept's last CQE.
  rt.shutdown(std::chrono::seconds(10));
  EXPECT_EQ(open_descriptors(), fds_before);
}

// A blocking client on a plain socket (from a thread that runs no runtime):
// connects and says its index. The descriptor, or -1.
int plain_client(const weft::net::socket_address& addr, std::uint32_t index) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(addr.port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
      ::write(fd, &index, sizeof index) != static_cast<ssize_t>(sizeof index)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// An accept() that decided the listener's arm was in the kernel, and links as
// a waiter only after that arm ended with its last result given to another
// accept, must get the arm back: nothing else will accept for it. Found by
// outside review (the waiter waited with nothing armed).
//
// How the order is forced: one-shot arms (the refusal of multishot accept is
// forced), so every connection ends the arm. Runtime `b` (its own thread)
// waits in accept() and arms on its ring. Runtime `a` (another thread) then
// calls accept(): it sees the arm's hint set and is held at the test point
// "multishot_queue.before_link", between that hint and the queue's lock. A
// client connects; b's arm ends with it, hands it to b's waiter and, with no
// waiter left, is not re-armed. Only then is `a` released: it links with
// nothing armed. A second client connects once it has linked; `a` must get it
// within the deadline.
TEST(MultishotAcceptRace, AnAcceptLinkedJustAsTheArmEndsArmsItAgain) {
  WEFT_REQUIRE_TEST_POINTS();
  multishot_refusal one_shot;
  weft_test::point_script script;
  tcp_listener l = loopback_listener();
  const auto addr = l.local_address().value();
  auto runtime = [] {
    return weft::runtime_builder{}
        .flavor(weft::runtime_flavor::current_thread)
        .io_backend(weft::io_backend_choice::io_uring)
        .build();
  };
  weft::runtime ra = runtime();
  weft::runtime rb = runtime();
  std::uint32_t got_b = ~0u;
  std::uint32_t got_a = ~0u;
  std::vector<tcp_stream> keep_a;
  std::vector<tcp_stream> keep_b;
  std::thread tb([&] { got_b = rb.block_on(accept_index(l, keep_b)); });
  // b waits, and its one-shot arm (after the refused multishot one) is set.
  // EXPECT, not ASSERT: tb runs, and must be joined whatever happens.
  EXPECT_TRUE(script.wait_reached("multishot_queue.waiter_linked", 1));
  EXPECT_TRUE(script.wait_reached("multishot_queue.armed", 2));
  script.hold("multishot_queue.before_link");
  std::thread ta([&] { got_a = ra.block_on(accept_index(l, keep_a)); });
  const bool held = script.wait_held("multishot_queue.before_link");
  EXPECT_TRUE(held);
  const int ended = script.reached_count("multishot_queue.arm_ended");
  const int first = plain_client(addr, 0);
  EXPECT_GE(first, 0);
  tb.join();  // b accepted the first client: its arm ended, nobody waits
  EXPECT_EQ(got_b, 0u);
  EXPECT_GE(script.reached_count("multishot_queue.arm_ended"), ended + 1);
  EXPECT_EQ(script.reached_count("multishot_queue.waiter_linked"), 1);
  script.release("multishot_queue.before_link");
  EXPECT_TRUE(script.wait_reached("multishot_queue.waiter_linked", 2));
  const int second = plain_client(addr, 1);
  EXPECT_GE(second, 0);
  ta.join();  // within accept_index's 30 s deadline
  EXPECT_EQ(got_a, 1u) << "the accept linked as the arm ended was never served";
  EXPECT_FALSE(script.held_too_long());
  if (first >= 0) ::close(first);
  if (second >= 0) ::close(second);
}

INSTANTIATE_TEST_SUITE_P(Backends, MultishotAccept, weft_test::each_backend(),
                         weft_test::backend_name);
INSTANTIATE_TEST_SUITE_P(Flavors, MultishotAcceptOnUring, weft_test::each_flavor(),
                         weft_test::flavor_name);

}  // namespace
