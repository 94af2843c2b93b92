// A system call that fails while an I/O operation starts (epoll_ctl
// registering its descriptor; io_uring_enter failing hard in the submit that
// makes room in a full SQ) fails that operation with the errno, as its
// awaiter's result, and the runtime stays usable.
#include "io/fault_support.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <tuple>

namespace {

using namespace weft_test::faults;
using weft::io_backend_choice;
using weft::runtime_flavor;
using weft::task;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

class EpollCtlFault : public ::testing::TestWithParam<runtime_flavor> {
 protected:
  weft::runtime make() const { return make_runtime(GetParam(), io_backend_choice::epoll); }
};
INSTANTIATE_TEST_SUITE_P(Epoll, EpollCtlFault,
                         ::testing::Values(runtime_flavor::multi_thread,
                                           runtime_flavor::current_thread),
                         [](const auto& info) {
                           return std::string(info.param == runtime_flavor::multi_thread
                                                  ? "multi_thread_epoll"
                                                  : "current_thread_epoll");
                         });

TEST_P(EpollCtlFault, RegistrationFailureFailsThatOperationAndTheRuntimeStaysUsable) {
  fault::disarm_all_on_exit guard;
  weft::runtime rt = make();
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    // `s` was never registered with epoll: its first read registers it.
    fault::arm(fault::site::epoll_ctl, schedule(1.0, 1, 1, {ENOMEM}));
    std::array<std::byte, 8> buf{};
    weft::result<std::size_t> r{std::error_code{}};
    try {
      r = co_await s.read(buf);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the read threw instead of failing: " << e.what();
      co_return;
    }
    EXPECT_EQ(fault::injected(fault::site::epoll_ctl), 1u);
    EXPECT_FALSE(r.has_value());
    if (r.has_value()) co_return;
    EXPECT_EQ(r.error(), std::errc::not_enough_memory);
    // The next read registers the socket and gets the bytes.
    (co_await c.write_all(std::as_bytes(std::span("ok", 2)))).value();
    EXPECT_EQ((co_await weft::timeout(5s, s.read(buf))).value().value(), 2u);
  }());
}

TEST(UringHardFault, EnomemFromTheSubmitThatMakesRoomFailsTheOperationWithThatError) {
  fault::disarm_all_on_exit guard;
  weft::runtime rt = make_runtime(runtime_flavor::current_thread, io_backend_choice::io_uring);
  rt.block_on([]() -> task<void> {
    tcp_listener l = tcp_listener::bind(loopback_any_port()).value();
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    tcp_stream s = (co_await l.accept()).value();
    // The read finds the SQ full; the submit that would make room fails hard.
    fault::arm(fault::site::uring_get_sqe, schedule(1.0, 1, 1));
    fault::arm(fault::site::uring_enter, schedule(1.0, 1, 1, {ENOMEM}));
    std::array<std::byte, 8> buf{};
    weft::result<std::size_t> r{std::error_code{}};
    try {
      r = co_await s.read(buf);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the read threw instead of failing: " << e.what();
      co_return;
    }
    EXPECT_FALSE(r.has_value());
    if (r.has_value()) co_return;
    EXPECT_EQ(r.error(), std::errc::not_enough_memory);
    // The socket and the ring still work.
    (co_await c.write_all(std::as_bytes(std::span("ok", 2)))).value();
    EXPECT_EQ((co_await weft::timeout(5s, s.read(buf))).value().value(), 2u);
  }());
}

}  // namespace
