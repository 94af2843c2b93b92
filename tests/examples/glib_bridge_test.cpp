// GLib's main context as a foreign event source, driven through the park hook
// by weft::block_on and by a current-thread runtime (examples/glib_bridge.hpp).
#include <weft/weft.hpp>

#include "glib_bridge.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

struct pipe_pair {
  int r = -1, w = -1;
  pipe_pair() {
    int fds[2];
    if (::pipe(fds) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~pipe_pair() {
    ::close(r);
    ::close(w);
  }
  void write_byte() const { ASSERT_EQ(::write(w, "x", 1), 1); }
};

class GLibBridge : public ::testing::Test {
 protected:
  GLibBridge() : ctx_(g_main_context_new()), glib_(ctx_) {}
  ~GLibBridge() override { g_main_context_unref(ctx_); }
  GMainContext* ctx_;
  weft_glib::context glib_;
};

TEST_F(GLibBridge, ATimeoutAndAnIoWatchAreAwaitedUnderBlockOnWithoutANestedLoop) {
  pipe_pair p;
  std::thread writer([&] { p.write_byte(); });
  weft::block_on([&]() -> weft::task<> {
    auto timer = [&]() -> weft::task<std::error_code> { co_return co_await glib_.timeout(1ms); };
    auto watch = [&]() -> weft::task<GIOCondition> {
      auto [cond, ec] = co_await glib_.io_watch(p.r, G_IO_IN);
      EXPECT_FALSE(ec);
      co_return cond;
    };
    auto [ec, cond] = co_await weft::when_all(timer(), watch());
    EXPECT_FALSE(ec);
    EXPECT_TRUE(cond & G_IO_IN);
  }());
  writer.join();
  EXPECT_GE(glib_.iterations(), 1u);
  // The hook went with the runner: the context is ours to iterate again.
  EXPECT_EQ(weft::installed_park_hook(), std::nullopt);
}

TEST_F(GLibBridge, TheLosingWatchOfAWhenAnyDestroysItsSourceAndNeverFires) {
  pipe_pair a, b;
  a.write_byte();
  const auto r = weft::block_on([&]() -> weft::task<std::size_t> {
    auto wa = [&]() -> weft::task<int> {
      (void)co_await glib_.io_watch(a.r, G_IO_IN);
      co_return 1;
    };
    auto wb = [&]() -> weft::task<int> {
      (void)co_await glib_.io_watch(b.r, G_IO_IN);
      ADD_FAILURE() << "the loser resumed";
      co_return 2;
    };
    auto any = co_await weft::when_any(wa(), wb());
    co_return any.index;
  }());
  EXPECT_EQ(r, 0u);
  // b becomes readable now: had its source outlived its awaiter, GLib would
  // dispatch it (into a destroyed frame). Nothing is ready to dispatch.
  b.write_byte();
  EXPECT_FALSE(g_main_context_iteration(ctx_, FALSE));
}

TEST_F(GLibBridge, AnotherSourcesHookMakesTheGLibWaitFailWithAConflict) {
  GMainContext* other_ctx = g_main_context_new();
  {
    weft_glib::context other(other_ctx);
    weft::block_on([&]() -> weft::task<> {
      EXPECT_FALSE(other.install());
      const std::error_code ec = co_await glib_.timeout(1ms);
      EXPECT_EQ(ec, weft::errc::park_hook_conflict);
      auto [cond, ec2] = co_await glib_.io_watch(0, G_IO_IN);
      EXPECT_EQ(ec2, weft::errc::park_hook_conflict);
      EXPECT_EQ(cond, GIOCondition(0));
    }());
  }
  g_main_context_unref(other_ctx);
}

TEST_F(GLibBridge, OnACurrentThreadRuntimeGLibMixesWithWeftTimersSocketsAndChannels) {
  for (auto backend : {weft::io_backend_choice::io_uring, weft::io_backend_choice::epoll}) {
    auto rt = weft::runtime_builder{}
                  .flavor(weft::runtime_flavor::current_thread)
                  .io_backend(backend)
                  .build();
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    auto ends = weft::net::unix_stream::pair().value();
    auto& ours = ends.first;
    auto& theirs = ends.second;
    auto ch = weft::mpsc::unbounded_channel<int>();
    const int peer_fd = theirs.native_handle();
    std::thread peer([&, tx = ch.first]() mutable {
      ASSERT_EQ(::send(peer_fd, "ping", 4, MSG_NOSIGNAL), 4);
      (void)tx.send(5);
    });
    const std::string got = rt.block_on([&]() -> weft::task<std::string> {
      EXPECT_FALSE(glib_.install());
      auto glib_wait = [&]() -> weft::task<std::error_code> {
        co_return co_await glib_.timeout(2ms);
      };
      auto weft_sleep = []() -> weft::task<int> {
        co_await weft::sleep(3ms);
        co_return 1;
      };
      auto read = [&]() -> weft::task<std::string> {
        std::array<std::byte, 4> buf{};
        (void)(co_await ours.read_exact(buf)).value();
        co_return std::string(reinterpret_cast<const char*>(buf.data()), buf.size());
      };
      auto recv = [&]() -> weft::task<int> { co_return (co_await ch.second.recv()).value(); };
      auto [ec, slept, text, n] =
          co_await weft::when_all(glib_wait(), weft_sleep(), read(), recv());
      EXPECT_FALSE(ec);
      EXPECT_EQ(slept, 1);
      EXPECT_EQ(n, 5);
      co_return text;
    }());
    peer.join();
    EXPECT_EQ(got, "ping");
  }
}

}  // namespace
