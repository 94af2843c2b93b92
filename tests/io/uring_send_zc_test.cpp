// Zero-copy sends on io_uring (WEFT_URING_SEND_ZC_MIN): a send of at least
// that many bytes is an IORING_OP_SEND_ZC, whose first CQE carries the send's
// result and whose second (IORING_CQE_F_NOTIF) says the kernel is done with
// the caller's buffer. The write must not complete before that second CQE:
// the caller may reuse its buffer as soon as the write returns. Counted with
// the test points "uring_driver.zc_sent" (a first CQE) and
// "uring_driver.zc_notified" (a notification).
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "io/uring_driver.hpp"
#include "support/scoped_env.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::task;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 13 + seed + i / 509) & 0xff);
  return v;
}

struct counts {
  int sent = 0;
  int notified = 0;
};

// Writes `n` messages of `size` bytes over loopback TCP on a current-thread
// io_uring runtime (zero copy from `zc_min` bytes), each written from one
// buffer that is overwritten as soon as write_all returns, and reads them
// back on the same runtime. Each message must arrive as it was before the
// overwrite; at every return of write_all, every send's notification must
// already have come.
counts echo_with_zero_copy(weft_test::point_script& script, const char* zc_min, std::size_t size,
                           int n) {
  weft_test::scoped_env env("WEFT_URING_SEND_ZC_MIN", zc_min);
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::current_thread)
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();
  const int sent0 = script.reached_count("uring_driver.zc_sent");
  const int notified0 = script.reached_count("uring_driver.zc_notified");
  rt.block_on([&]() -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    auto addr = l.local_address().value();
    auto connecting = weft::spawn([&]() -> task<tcp_stream> { co_return (co_await tcp_stream::connect(addr)).value(); });
    auto accepted = co_await weft::timeout(30s, l.accept());
    EXPECT_TRUE(accepted && *accepted);
    if (!accepted || !*accepted) co_return;
    tcp_stream server = std::move(**accepted);
    tcp_stream client = co_await std::move(connecting);
    std::vector<std::byte> buf;
    for (int m = 0; m < n; ++m) {
      const std::vector<std::byte> msg = pattern(size, static_cast<unsigned>(m));
      buf = msg;
      auto reader = weft::spawn([&server, size]() -> task<std::vector<std::byte>> {
        std::vector<std::byte> got(size);
        auto r = co_await weft::timeout(30s, server.read_exact(got));
        EXPECT_TRUE(r && *r);
        co_return got;
      });
      EXPECT_TRUE(co_await client.write_all(buf));
      // Every send's notification came before write_all returned.
      EXPECT_EQ(script.reached_count("uring_driver.zc_notified") - notified0,
                script.reached_count("uring_driver.zc_sent") - sent0);
      std::fill(buf.begin(), buf.end(), std::byte{0xee});  // the caller reuses its buffer
      auto got = co_await weft::timeout(30s, std::move(reader));
      EXPECT_TRUE(got.has_value());
      if (got) {
        EXPECT_TRUE(*got == msg) << "message " << m << " changed after write_all returned";
      }
    }
  }());
  return {script.reached_count("uring_driver.zc_sent") - sent0,
          script.reached_count("uring_driver.zc_notified") - notified0};
}

TEST(UringSendZc, ASendZcBufferIsKeptUntilItsNotification) {
  WEFT_REQUIRE_TEST_POINTS();
  if (!weft::detail::uring_driver::kernel_has_send_zc()) GTEST_SKIP() << "this kernel has no IORING_OP_SEND_ZC (Linux 6.0)";
  weft_test::point_script script;
  const counts c = echo_with_zero_copy(script, "4096", 256 * 1024, 8);
  EXPECT_GE(c.sent, 8) << "the writes did not go as SEND_ZC";
  EXPECT_EQ(c.notified, c.sent);
}

TEST(UringSendZc, SendsBelowTheThresholdOrWithoutTheKnobAreNotZeroCopy) {
  WEFT_REQUIRE_TEST_POINTS();
  weft_test::point_script script;
  EXPECT_EQ(echo_with_zero_copy(script, "1048576", 64 * 1024, 4).sent, 0);
  EXPECT_EQ(echo_with_zero_copy(script, nullptr, 64 * 1024, 4).sent, 0);
}

TEST(UringSendZc, AByteCountThatIsNotOneIsRefused) {
  weft_test::scoped_env env("WEFT_URING_SEND_ZC_MIN", "4k");
  EXPECT_THROW(
      {
        weft::runtime rt = weft::runtime_builder{}
                               .flavor(weft::runtime_flavor::current_thread)
                               .io_backend(weft::io_backend_choice::io_uring)
                               .build();
      },
      std::system_error);
}

}  // namespace
