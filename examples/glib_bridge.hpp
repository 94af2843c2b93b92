// glib_bridge.hpp — await GLib events from weft tasks through the park hook.
//
// An example adapter (copy it into your project; it is not part of the weft
// library, which does not depend on GLib). It lets a weft task await a GLib
// timeout or a GLib I/O watch while weft::block_on — or a current-thread
// runtime — drives both weft's tasks and the GMainContext from one thread,
// with no loop nested in another:
//
//   GMainContext* ctx = g_main_context_new();
//   weft_glib::context glib(ctx);
//   weft::block_on([&]() -> weft::task<> {
//     co_await glib.timeout(std::chrono::milliseconds(50));
//     co_await glib.io_watch(fd, G_IO_IN);
//   }());
//
// How: the first GLib awaitable installs a park hook for the runner's thread
// (weft/park_hook.hpp) whose block is one g_main_context_iteration(ctx, TRUE)
// and whose interrupt is g_main_context_wakeup(ctx). When every weft task
// waits, the runner blocks in GLib; a GLib source firing wakes the weft task
// that awaits it; a weft wake from another thread interrupts GLib's poll. The
// runner's own timers and I/O reach GLib as a timeout and a descriptor source
// added for that one iteration.
//
// Awaitables (timeout, io_watch):
// - complete with: an empty std::error_code (timeout) / the GIOCondition seen
//   (io_watch), or weft::errc::park_hook_conflict if another event source's
//   hook is installed on this runner (one foreign loop per thread), or this
//   thread runs no block_on/current-thread runner.
// - cancellation: destroying a pending awaitable (its task is cancelled or
//   loses a when_any) destroys its GSource at once; nothing fires later.
// - thread: the task resumes on the runner's thread, which is the only thread
//   that iterates `ctx` (GLib callbacks run inside the runner's park).
// - runtime shutdown: a task destroyed by shutdown destroys its source.
// - allocation: one GSource per wait, and per park up to two short-lived
//   GSources (the runner's deadline and descriptor).
#pragma once

#include <weft/park_hook.hpp>
#include <weft/waker.hpp>

#include <glib-unix.h>
#include <glib.h>

#include <chrono>
#include <coroutine>
#include <system_error>
#include <utility>

namespace weft_glib {

/// A GMainContext as a weft park-hook source. One per context; it must
/// outlive every runner it is installed on (block_on removes the hook when it
/// returns).
class context {
 public:
  explicit context(GMainContext* ctx) : ctx_(g_main_context_ref(ctx)) {}
  ~context() { g_main_context_unref(ctx_); }
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  [[nodiscard]] GMainContext* get() const noexcept { return ctx_; }
  /// Parks the runner spent in GLib so far (for the curious and for tests).
  [[nodiscard]] unsigned long iterations() const noexcept { return iterations_; }

  // ---- the park hook ------------------------------------------------------
  void block(const weft::park_request& r) noexcept {
    GSource* deadline = nullptr;
    GSource* runner_io = nullptr;
    if (r.timeout) {
      // Round up, dividing first (count() + 999'999 overflows near the
      // nanoseconds::max() of a timer set "forever"), and clamp to guint:
      // a park that ends early is parked again for the rest.
      const long long ns = r.timeout->count() < 0 ? 0 : r.timeout->count();
      const long long ms = ns / 1'000'000 + (ns % 1'000'000 != 0 ? 1 : 0);
      deadline = g_timeout_source_new(
          ms > static_cast<long long>(G_MAXUINT) ? G_MAXUINT : static_cast<guint>(ms));
      g_source_set_callback(
          deadline, [](gpointer) -> gboolean { return G_SOURCE_REMOVE; }, nullptr, nullptr);
      g_source_attach(deadline, ctx_);
    }
    if (r.runner_fd >= 0) {
      runner_io = g_unix_fd_source_new(r.runner_fd, G_IO_IN);
      g_source_set_callback(
          runner_io,
          reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(
              +[](gint, GIOCondition, gpointer) -> gboolean { return G_SOURCE_CONTINUE; })),
          nullptr, nullptr);
      g_source_attach(runner_io, ctx_);
    }
    ++iterations_;
    g_main_context_iteration(ctx_, TRUE);
    for (GSource* s : {deadline, runner_io}) {
      if (s == nullptr) continue;
      g_source_destroy(s);
      g_source_unref(s);
    }
  }
  void interrupt() noexcept { g_main_context_wakeup(ctx_); }

  /// Install this context as the runner's park hook (a no-op if it is).
  [[nodiscard]] std::error_code install() noexcept {
    return weft::install_park_hook(weft::park_hook::of(*this));
  }

  // ---- awaitables ---------------------------------------------------------
  class timeout_awaiter;
  class io_watch_awaiter;
  /// A GLib timeout source of `d` (millisecond resolution) on this context.
  timeout_awaiter timeout(std::chrono::milliseconds d) noexcept;
  /// A GLib unix-fd source watching `fd` for `condition` on this context.
  io_watch_awaiter io_watch(int fd, GIOCondition condition) noexcept;

 private:
  GMainContext* ctx_;
  unsigned long iterations_ = 0;
};

namespace detail {
/// What both awaitables share: the source, the waker, the install.
class source_wait {
 public:
  explicit source_wait(context& c) noexcept : ctx_(c) {}
  source_wait(const source_wait&) = delete;
  source_wait& operator=(const source_wait&) = delete;
  ~source_wait() { drop_source(); }

  bool await_ready() const noexcept { return false; }

 protected:
  /// Install the hook and attach `s` (whose callback calls fire()). False:
  /// the hook was refused (error_ says why); do not suspend.
  bool start(std::coroutine_handle<> h, GSource* s) {
    error_ = ctx_.install();
    if (error_) {
      g_source_unref(s);
      return false;
    }
    waker_ = weft::suspend_current(h);
    source_ = s;
    g_source_attach(source_, ctx_.get());
    return true;
  }
  /// From the source's callback, on the runner's thread.
  void fire() noexcept {
    fired_ = true;
    std::exchange(waker_, weft::waker{}).wake();
  }
  void drop_source() noexcept {
    if (source_ == nullptr) return;
    g_source_destroy(source_);
    g_source_unref(std::exchange(source_, nullptr));
  }

  context& ctx_;
  GSource* source_ = nullptr;
  weft::waker waker_;
  std::error_code error_;
  bool fired_ = false;
};
}  // namespace detail

class context::timeout_awaiter : public detail::source_wait {
 public:
  timeout_awaiter(context& c, std::chrono::milliseconds d) noexcept : source_wait(c), d_(d) {}
  bool await_suspend(std::coroutine_handle<> h) {
    // Clamped to guint's range (negative: now), not wrapped.
    const long long ms = d_.count() < 0 ? 0 : d_.count();
    GSource* s = g_timeout_source_new(
        ms > static_cast<long long>(G_MAXUINT) ? G_MAXUINT : static_cast<guint>(ms));
    g_source_set_callback(
        s,
        [](gpointer self) -> gboolean {
          static_cast<timeout_awaiter*>(self)->fire();
          return G_SOURCE_REMOVE;
        },
        this, nullptr);
    return start(h, s);
  }
  std::error_code await_resume() noexcept {
    drop_source();
    return error_;
  }

 private:
  std::chrono::milliseconds d_;
};

class context::io_watch_awaiter : public detail::source_wait {
 public:
  io_watch_awaiter(context& c, int fd, GIOCondition cond) noexcept
      : source_wait(c), fd_(fd), cond_(cond) {}
  bool await_suspend(std::coroutine_handle<> h) {
    GSource* s = g_unix_fd_source_new(fd_, cond_);
    g_source_set_callback(s,
                          reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(
                              +[](gint, GIOCondition seen, gpointer self) -> gboolean {
                                auto* me = static_cast<io_watch_awaiter*>(self);
                                me->seen_ = seen;
                                me->fire();
                                return G_SOURCE_REMOVE;
                              })),
                          this, nullptr);
    return start(h, s);
  }
  /// The condition GLib saw, or the install error.
  std::pair<GIOCondition, std::error_code> await_resume() noexcept {
    drop_source();
    return {seen_, error_};
  }

 private:
  int fd_;
  GIOCondition cond_;
  GIOCondition seen_ = GIOCondition(0);
};

inline context::timeout_awaiter context::timeout(std::chrono::milliseconds d) noexcept {
  return timeout_awaiter(*this, d);
}
inline context::io_watch_awaiter context::io_watch(int fd, GIOCondition condition) noexcept {
  return io_watch_awaiter(*this, fd, condition);
}

}  // namespace weft_glib
