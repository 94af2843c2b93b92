// A seeded "soup": each seed arms several fault sites at low probability and
// runs a small loopback echo workload on both backends. Each exchange either
// completes intact or reports an error code; nothing hangs; the runtime shuts
// down within its deadline; no descriptor is left open.
#include "io/fault_support.hpp"

#include <weft/cancellation.hpp>
#include <weft/with_cancellation.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace weft_test::faults;
using weft::io_backend_choice;
using weft::runtime_flavor;
using weft::task;
using weft::net::socket_address;
using weft::net::tcp_listener;

constexpr int seeds = 20;
constexpr int clients = 4;

struct soup_outcome {
  std::vector<std::error_code> exchanges;  // one per client: empty = echoed intact
  std::vector<std::error_code> accept_errors;
  int accepted = 0;
};

task<void> serve(tcp_listener& l, weft::cancellation_token stop, soup_outcome& out) {
  std::vector<weft::join_handle<void>> echoes;
  for (;;) {
    auto s = co_await weft::with_cancellation(stop, l.accept());
    if (!s) break;
    if (!*s) {
      out.accept_errors.push_back(s->error());
      continue;
    }
    ++out.accepted;
    echoes.push_back(weft::spawn(echo_one(std::move(s->value()))));
  }
  for (auto& e : echoes) co_await e;
}

void arm_soup(std::uint64_t seed) {
  fault::arm(fault::site::accept, schedule(0.2, seed * 7 + 1, 3, {EMFILE, ECONNABORTED, ENOMEM}));
  fault::arm(fault::site::epoll_ctl, schedule(0.1, seed * 7 + 2, 2, {ENOMEM}));
  fault::arm(fault::site::uring_enter, schedule(0.1, seed * 7 + 3, 50, {EINTR, EAGAIN, EBUSY}));
  fault::arm(fault::site::uring_get_sqe, schedule(0.1, seed * 7 + 4, 20));
}

soup_outcome run_workload(weft::runtime& rt) {
  soup_outcome out;
  rt.block_on([&out]() -> task<void> {
    auto bound = tcp_listener::bind(loopback_any_port());
    if (!bound) {
      out.exchanges.push_back(bound.error());
      co_return;
    }
    tcp_listener l = std::move(bound.value());
    const socket_address addr = l.local_address().value();
    weft::cancellation_source stop;
    auto server = weft::spawn(serve(l, stop.token(), out));
    std::vector<weft::join_handle<std::error_code>> hs;
    for (int i = 0; i < clients; ++i) {
      hs.push_back(weft::spawn(exchange(addr, "soup " + std::to_string(i))));
    }
    for (auto& h : hs) out.exchanges.push_back(co_await h);
    stop.cancel();
    co_await server;
  }());
  return out;
}

class FaultSoup : public ::testing::TestWithParam<io_backend_choice> {};
INSTANTIATE_TEST_SUITE_P(Backends, FaultSoup,
                         ::testing::Values(io_backend_choice::epoll, io_backend_choice::io_uring),
                         [](const auto& info) {
                           return std::string(info.param == io_backend_choice::epoll ? "epoll"
                                                                                     : "io_uring");
                         });

TEST_P(FaultSoup, EachExchangeCompletesOrReportsAnErrorAndTheRuntimeShutsDownClean) {
  std::uint64_t injected = 0;  // over all seeds: the soup did inject faults
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (flavor " +
                 (seed % 2 == 0 ? "multi_thread" : "current_thread") + ")");
    fault::disarm_all_on_exit guard;
    const std::size_t fds = open_fd_count();
    const runtime_flavor flavor =
        seed % 2 == 0 ? runtime_flavor::multi_thread : runtime_flavor::current_thread;
    auto rt = std::make_unique<weft::runtime>(make_runtime(flavor, GetParam()));
    arm_soup(seed);
    const soup_outcome out = run_workload(*rt);

    ASSERT_EQ(out.exchanges.size(), static_cast<std::size_t>(clients));
    int echoed = 0;
    for (const std::error_code& ec : out.exchanges) {
      if (!ec) {
        ++echoed;
        continue;
      }
      // An error code, never a hang.
      EXPECT_NE(ec, weft::make_error_code(weft::errc::timed_out)) << "an exchange hung";
      EXPECT_NE(ec, std::errc::protocol_error) << "an exchange got the wrong bytes back";
    }
    for (const std::error_code& ec : out.accept_errors) {
      EXPECT_TRUE(ec == std::errc::too_many_files_open || ec == std::errc::connection_aborted ||
                  ec == std::errc::not_enough_memory)
          << ec.message();
    }
    EXPECT_LE(echoed, out.accepted);

    // Shut down (faults still armed) on another thread, with a deadline.
    auto done = std::async(std::launch::async, [&rt] {
      rt->shutdown(2s);
      rt.reset();
    });
    if (done.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "seed " << seed << ": the runtime did not shut down";
      std::abort();  // a hung worker cannot be joined
    }
    done.get();
    for (unsigned i = 0; i < static_cast<unsigned>(fault::site::count); ++i) {
      injected += fault::injected(static_cast<fault::site>(i));
    }
    fault::disarm_all();
    EXPECT_EQ(open_fd_count(), fds) << "descriptors leaked";
    if (HasFailure()) {
      std::fprintf(stderr, "fault soup: failing seed %llu on %s\n",
                   static_cast<unsigned long long>(seed),
                   GetParam() == io_backend_choice::epoll ? "epoll" : "io_uring");
      return;
    }
  }
  EXPECT_GT(injected, 0u);
  std::printf("fault soup: %llu faults injected over %d seeds\n",
              static_cast<unsigned long long>(injected), seeds);
}

}  // namespace
