// glib_park_hook — weft tasks awaiting GLib events, one thread, one loop.
//
// weft::block_on runs a task that awaits, at the same time,
//   - a GLib timeout (a GSource on a GMainContext weft has never heard of),
//   - a GLib I/O watch on a pipe that a plain GLib callback writes to,
//   - a weft channel fed from another thread while the runner sleeps in GLib.
// The runner parks in g_main_context_iteration through the park hook
// (weft/park_hook.hpp, adapter in glib_bridge.hpp): no GMainLoop runs inside
// a weft callback and no weft runner inside a GLib callback.
#include <weft/weft.hpp>

#include "glib_bridge.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using namespace std::chrono_literals;

int main() {
  GMainContext* ctx = g_main_context_new();
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return 1;
  int status = 0;
  {
    weft_glib::context glib(ctx);

    // Plain GLib code, knowing nothing of weft: after 20 ms it writes to the pipe.
    GSource* writer = g_timeout_source_new(20);
    g_source_set_callback(
        writer,
        [](gpointer fd) -> gboolean {
          const char msg[] = "hello from a GLib callback";
          (void)!::write(*static_cast<int*>(fd), msg, sizeof msg - 1);
          return G_SOURCE_REMOVE;
        },
        &pipe_fds[1], nullptr);
    g_source_attach(writer, ctx);
    g_source_unref(writer);

    auto ch = weft::mpsc::unbounded_channel<std::string>();
    std::thread other([tx = ch.first]() mutable { (void)tx.send("hello from another thread"); });

    const auto start = std::chrono::steady_clock::now();
    auto ms_since_start = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - start)
          .count();
    };
    status = weft::block_on([&]() -> weft::task<int> {
      auto timer = [&]() -> weft::task<bool> {
        const std::error_code ec = co_await glib.timeout(50ms);
        if (ec) {
          std::printf("glib timeout: %s\n", ec.message().c_str());
          co_return false;
        }
        std::printf("glib timeout fired after %lld ms\n", static_cast<long long>(ms_since_start()));
        co_return true;
      };
      auto watch = [&]() -> weft::task<bool> {
        auto [cond, ec] = co_await glib.io_watch(pipe_fds[0], G_IO_IN);
        if (ec || (cond & G_IO_IN) == 0) co_return false;
        char buf[64] = {};
        const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf - 1);
        std::printf("glib io watch: read \"%.*s\" after %lld ms\n", static_cast<int>(n), buf,
                    static_cast<long long>(ms_since_start()));
        co_return n > 0;
      };
      auto message = [&]() -> weft::task<bool> {
        auto m = co_await ch.second.recv();
        if (!m) co_return false;
        std::printf("weft channel: \"%s\"\n", m->c_str());
        co_return true;
      };
      auto [t, w, m] = co_await weft::when_all(timer(), watch(), message());
      co_return t&& w&& m ? 0 : 1;
    }());
    other.join();
    if (status == 0) {
      std::printf("one thread drove weft and GLib: %lu parks in g_main_context_iteration\n",
                  glib.iterations());
    } else {
      std::printf("a wait failed\n");
    }
  }
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  g_main_context_unref(ctx);
  return status;
}
