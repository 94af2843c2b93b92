// weft/main.hpp — WEFT_MAIN: run an async main on a default runtime.
//
//   weft::task<int> async_main(int argc, char** argv) { ...; co_return 0; }
//   WEFT_MAIN(async_main)
//
// async_main may be `task<void>()`, `task<int>()`, `task<void>(int, char**)`
// or `task<int>(int, char**)`. WEFT_MAIN builds a multi_thread runtime (worker
// count from WEFT_WORKER_THREADS, else one per CPU), runs async_main to
// completion, and returns its exit code (0 for task<void>; 1 and a message on
// stderr if it threw). Exit codes are 0…255 (a parent sees only the low 8
// bits, so 256 would read as success): any other value prints a message to
// stderr and exits 1. If the runtime cannot be built (WEFT_WORKER_THREADS not
// a number in 1…1024, say), the program prints why to stderr and exits 1
// without running async_main. Tasks still running then get a grace period — 100 ms by
// default, WEFT_MAIN_GRACE_MS to change it, or WEFT_MAIN_WITH(fn, options) —
// to finish. If they all finish, the runtime shuts down normally; if not, the
// process exits with the code without cancelling them (their destructors do
// not run): process exit never cancels a task, as a spawned task may be a
// critical section.
#pragma once

#include <weft/runtime.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

struct main_options {
  /// How long to wait for tasks still running after async_main returned.
  /// Negative: read WEFT_MAIN_GRACE_MS, else 100 ms.
  std::chrono::milliseconds grace{-1};
  /// Worker threads; 0: WEFT_WORKER_THREADS, else one per CPU.
  std::size_t worker_threads = 0;
};

namespace detail {
runtime main_runtime(const main_options& opts);
/// Wait out the grace period; returns `code`, or exits the process with it.
int main_finish(runtime& rt, int code, const main_options& opts);

/// `v` as a process exit code: 0…255, else a message on stderr and 1.
template <class V>
int main_exit_code(const V& v) {
  if constexpr (std::is_integral_v<V> && std::is_signed_v<V>) {
    const long long x = v;
    if (x >= 0 && x <= 255) return static_cast<int>(x);
    std::fprintf(stderr,
                 "weft: async_main returned %lld, not an exit code (0..255); exiting with 1\n", x);
    return 1;
  } else if constexpr (std::is_integral_v<V>) {
    const unsigned long long x = v;
    if (x <= 255) return static_cast<int>(x);
    std::fprintf(stderr,
                 "weft: async_main returned %llu, not an exit code (0..255); exiting with 1\n", x);
    return 1;
  } else {
    return main_exit_code(static_cast<int>(v));  // an enum or a class convertible to int
  }
}

/// main_runtime, or nullopt after printing why it could not be built.
inline std::optional<runtime> try_main_runtime(const main_options& opts) noexcept {
  try {
    return main_runtime(opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft: could not start the runtime: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "weft: could not start the runtime (a non-std exception)\n");
  }
  return std::nullopt;
}

template <class F>
int main_entry(F fn, int argc, char** argv, const main_options& opts) {
  std::optional<runtime> built = try_main_runtime(opts);
  if (!built) return 1;
  runtime& rt = *built;
  int code = 0;
  try {
    if constexpr (std::is_invocable_v<F, int, char**>) {
      using R = await_result_t<std::invoke_result_t<F, int, char**>>;
      if constexpr (std::is_void_v<R>) {
        rt.block_on(fn(argc, argv));
      } else {
        code = main_exit_code(rt.block_on(fn(argc, argv)));
      }
    } else {
      (void)argc;
      (void)argv;
      using R = await_result_t<std::invoke_result_t<F>>;
      if constexpr (std::is_void_v<R>) {
        rt.block_on(fn());
      } else {
        code = main_exit_code(rt.block_on(fn()));
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft: async_main threw: %s\n", e.what());
    code = 1;
  } catch (...) {
    std::fprintf(stderr, "weft: async_main threw a non-std exception\n");
    code = 1;
  }
  return main_finish(rt, code, opts);
}
}  // namespace detail

}  // namespace weft

#define WEFT_MAIN_WITH(fn, options)                                   \
  int main(int argc, char** argv) {                                  \
    return ::weft::detail::main_entry(fn, argc, argv, (options));    \
  }

#define WEFT_MAIN(fn) WEFT_MAIN_WITH(fn, ::weft::main_options{})
