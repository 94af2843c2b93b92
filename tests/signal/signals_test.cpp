// weft::signals: recv delivered to the right awaiters on both runtime
// flavours, listeners counting, awaiters destroyed while waiting, refused
// signal numbers; shutdown_token and the second-SIGINT rule in child
// processes (signal_child_shutdown.cpp). Every step waits for an observable
// state (subscriber counts, listener counts, lines from the child), never for
// time to pass.
#include <weft/signals.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>

#include "support/flavors.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using weft::signals::detail::subscriber_count;

/// Spin (yielding the core) until `pred` holds; false after 30 s (a failure,
/// not a hang).
template <class Pred>
bool spin_until(Pred pred) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

/// Yield the task until `n` subscribers wait for `signo`.
weft::task<> until_subscribed(int signo, std::size_t n) {
  while (subscriber_count(signo) < n) co_await weft::yield_now();
}

weft::task<> await_signal(int signo, std::atomic<int>& got) {
  co_await weft::signals::recv(signo);
  got.fetch_add(1);
}

class Signals : public weft_test::on_each_flavor {};

INSTANTIATE_TEST_SUITE_P(Flavors, Signals, weft_test::each_flavor(), weft_test::flavor_name);

TEST_P(Signals, SignalsAreDeliveredToTheRightAwaiter) {
  std::atomic<int> usr1{0}, usr2{0};
  rt.block_on([&]() -> weft::task<> {
    auto a = weft::spawn(await_signal(SIGUSR1, usr1));
    auto b = weft::spawn(await_signal(SIGUSR2, usr2));
    co_await until_subscribed(SIGUSR1, 1);
    co_await until_subscribed(SIGUSR2, 1);
    EXPECT_EQ(::raise(SIGUSR1), 0);
    co_await a;
    EXPECT_EQ(usr1.load(), 1);
    EXPECT_EQ(usr2.load(), 0);
    EXPECT_EQ(subscriber_count(SIGUSR2), 1u);  // still waiting for its own
    EXPECT_EQ(::raise(SIGUSR2), 0);
    co_await b;
    EXPECT_EQ(usr2.load(), 1);
  }());
  EXPECT_EQ(subscriber_count(SIGUSR1), 0u);
  EXPECT_EQ(subscriber_count(SIGUSR2), 0u);
}

TEST(SignalsDelivery, AProcessDirectedSignalIsForwardedToo) {
  // kill(getpid()) lets the kernel pick the thread; it picks the main thread
  // when that one is running (it is, inside kill), so the handler runs at
  // once even under ThreadSanitizer (which delays a handler on a thread
  // parked in a system call it does not intercept, as weft's workers are).
  weft::signals::listener l(SIGUSR2);
  EXPECT_EQ(::kill(::getpid(), SIGUSR2), 0);
  EXPECT_TRUE(spin_until([&] { return l.pending() == 1; }));
}

TEST_P(Signals, OneDeliveryWakesEveryAwaiterOfTheSignal) {
  std::atomic<int> got{0};
  rt.block_on([&]() -> weft::task<> {
    auto a = weft::spawn(await_signal(SIGUSR1, got));
    auto b = weft::spawn(await_signal(SIGUSR1, got));
    co_await until_subscribed(SIGUSR1, 2);
    EXPECT_EQ(::raise(SIGUSR1), 0);
    co_await a;
    co_await b;
  }());
  EXPECT_EQ(got.load(), 2);
}

TEST_P(Signals, RecvWaitsForASignalAfterTheAwaitStarted) {
  weft::signals::listener seen(SIGUSR2);  // observes the delivery
  EXPECT_EQ(::raise(SIGUSR2), 0);
  ASSERT_TRUE(spin_until([&] { return seen.pending() == 1; }));
  std::atomic<int> got{0};
  rt.block_on([&]() -> weft::task<> {
    auto r = co_await weft::timeout(20ms, await_signal(SIGUSR2, got));
    EXPECT_EQ(r.error(), weft::errc::timed_out);  // the earlier one is not queued for it
  }());
  EXPECT_EQ(got.load(), 0);
}

TEST_P(Signals, AnAwaiterDestroyedWhileWaitingIsUnlinked) {
  std::atomic<int> got{0};
  rt.block_on([&]() -> weft::task<> {
    auto r = co_await weft::timeout(1ms, await_signal(SIGUSR1, got));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
  EXPECT_EQ(subscriber_count(SIGUSR1), 0u);
  // A delivery now must not touch the freed awaiter (ASan would see it).
  weft::signals::listener seen(SIGUSR1);
  EXPECT_EQ(::raise(SIGUSR1), 0);
  ASSERT_TRUE(spin_until([&] { return seen.pending() == 1; }));
  EXPECT_EQ(got.load(), 0);
}

TEST_P(Signals, ListenerCountsDeliveriesMadeWhileNotAwaiting) {
  weft::signals::listener l(SIGUSR1);
  EXPECT_EQ(l.signal(), SIGUSR1);
  EXPECT_EQ(l.pending(), 0u);
  // One at a time: standard signals sent before the previous one was
  // delivered would merge in the kernel.
  for (std::uint64_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(::raise(SIGUSR1), 0);
    ASSERT_TRUE(spin_until([&] { return l.pending() == i; }));
  }
  rt.block_on([&]() -> weft::task<> {
    EXPECT_EQ(co_await l.recv(), 3u);  // at once: they were counted
    EXPECT_EQ(l.pending(), 0u);
    // Now wait for one that has not come yet.
    auto waiter = weft::spawn([&]() -> weft::task<std::uint64_t> { co_return co_await l.recv(); });
    EXPECT_EQ(::raise(SIGUSR1), 0);
    EXPECT_EQ(co_await waiter, 1u);
  }());
}

TEST(SignalsListener, RealTimeSignalsAreEachCounted) {
  weft::signals::listener l(SIGRTMIN);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(::raise(SIGRTMIN), 0);
  EXPECT_TRUE(spin_until([&] { return l.pending() == 5; })) << l.pending();
}

TEST(SignalsListener, ADroppedListenerUnsubscribes) {
  {
    weft::signals::listener a(SIGUSR2);
    weft::signals::listener b(SIGUSR2);
    EXPECT_EQ(subscriber_count(SIGUSR2), 2u);
  }
  EXPECT_EQ(subscriber_count(SIGUSR2), 0u);
}

TEST_P(Signals, AListenerAwaitDestroyedWhileWaitingKeepsCounting) {
  weft::signals::listener l(SIGUSR2);
  rt.block_on([&]() -> weft::task<> {
    auto r = co_await weft::timeout(
        1ms, [&]() -> weft::task<std::uint64_t> { co_return co_await l.recv(); }());
    EXPECT_EQ(r.error(), weft::errc::timed_out);
  }());
  EXPECT_EQ(::raise(SIGUSR2), 0);
  ASSERT_TRUE(spin_until([&] { return l.pending() == 1; }));
}

TEST(SignalsValidation, SignalsThatCannotBeAwaitedAreRefused) {
  for (int s : {0, -1, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGRTMIN - 1,
                SIGRTMAX + 1, 1000}) {
    try {
      auto a = weft::signals::recv(s);
      ADD_FAILURE() << "recv accepted signal " << s;
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::invalid_argument) << s;
      EXPECT_NE(std::string(e.what()).find("Accepted"), std::string::npos) << e.what();
    }
    EXPECT_THROW(weft::signals::listener l(s), std::system_error) << s;
  }
}

// ---- shutdown_token, in child processes ------------------------------------------

/// A child running signal_child_shutdown with its stdout on a pipe, the
/// default signal dispositions and an empty signal mask.
class child_process {
 public:
  explicit child_process(const char* mode) {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const std::string path = WEFT_SIGNAL_CHILD;
    std::string arg = mode;
    char* argv[] = {const_cast<char*>(path.c_str()), arg.data(), nullptr};
    EXPECT_EQ(posix_spawn(&pid_, path.c_str(), &fa, &attr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(out[1]);
    out_ = out[0];
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)wait();
    }
    ::close(out_);
  }

  /// The next line of the child's output (without '\n'); "" at end of output
  /// or after 60 s without one.
  std::string read_line() {
    std::string line;
    for (;;) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 60'000) <= 0) return line;
      char c = 0;
      if (::read(out_, &c, 1) != 1 || c == '\n') return line;
      line.push_back(c);
    }
  }

  void signal(int signo) { EXPECT_EQ(::kill(pid_, signo), 0); }

  /// Wait for the child to end; its wait status.
  int wait() {
    int status = 0;
    EXPECT_EQ(::waitpid(pid_, &status, 0), pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

/// The child awaits the token: `signo` cancels it, and the child exits 0.
void expect_cancelled_then_clean_exit(int signo) {
  child_process child("wait");
  ASSERT_EQ(child.read_line(), "ready");
  child.signal(signo);
  EXPECT_EQ(child.read_line(), "cancelled");
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

/// The child ignores the token: `first` only cancels it, a SIGINT then kills.
void expect_killed_by_sigint_after(int first) {
  child_process child("ignore");
  ASSERT_EQ(child.read_line(), "ready");
  child.signal(first);
  ASSERT_EQ(child.read_line(), "cancelled");
  child.signal(SIGINT);
  const int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

TEST(ShutdownToken, IsCancelledBySigterm) {
  expect_cancelled_then_clean_exit(SIGTERM);
}

TEST(ShutdownToken, IsCancelledBySigint) {
  expect_cancelled_then_clean_exit(SIGINT);
}

TEST(ShutdownToken, ASecondSigintKillsAChildThatIgnoresTheToken) {
  expect_killed_by_sigint_after(SIGINT);
}

TEST(ShutdownToken, ASigintAfterASigtermKills) {
  expect_killed_by_sigint_after(SIGTERM);
}

}  // namespace
