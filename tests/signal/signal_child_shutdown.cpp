// A child process for weft_signals_test: arms weft::signals::shutdown_token(),
// prints "ready", then, by its argument:
//   wait:   awaits the token, prints "cancelled" and exits 0;
//   ignore: prints "cancelled" from a token callback but goes on running, so
//           only a second SIGINT ends it (the test expects death by SIGINT).
// Output goes straight to write(2): unbuffered, and safe from the signal
// driver's thread where the token's callbacks run.
//
// The runtime's threads are started with SIGINT and SIGTERM blocked, so the
// main thread, waiting on a condition variable, is the one that takes them
// (as many servers arrange it). That also keeps the test deterministic under
// ThreadSanitizer, which runs a signal handler only once the receiving thread
// is in a call it intercepts: weft's parked workers sleep in raw system calls
// (io_uring_enter, futex), where the forwarding handler would wait.
#include <weft/signals.hpp>
#include <weft/weft.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string_view>

namespace {

void say(std::string_view s) {
  if (::write(STDOUT_FILENO, s.data(), s.size()) < 0) std::_Exit(3);
}

weft::task<int> async_main(std::string_view mode) {
  const weft::cancellation_token token = weft::signals::shutdown_token();
  if (!(token == weft::signals::shutdown_token())) {
    say("shutdown_token() gave two different tokens\n");
    co_return 2;
  }
  if (mode == "wait") {
    say("ready\n");
    co_await token.cancelled();
    say("cancelled\n");
    co_return 0;
  }
  if (mode == "ignore") {
    weft::cancellation_callback cb(token, [] { say("cancelled\n"); });
    say("ready\n");
    for (;;) co_await weft::sleep(std::chrono::hours(1));
  }
  say("usage: signal_child_shutdown wait|ignore\n");
  co_return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  // Declared before the runtime, so they outlive its shutdown (which waits
  // for the task below to finish with them).
  std::mutex m;
  std::condition_variable cv;
  std::optional<int> code;
  sigset_t shutdown_signals, old;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, &old);
  weft::runtime rt = weft::runtime_builder{}.worker_threads(2).build();  // inherit the mask
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  rt.spawn([&]() -> weft::task<> {
      const int c = co_await async_main(mode);
      std::lock_guard<std::mutex> lock(m);
      code = c;
      cv.notify_one();
    }).detach();
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return code.has_value(); });
  return *code;
}
