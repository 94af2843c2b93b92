// io_backend selection: WEFT_IO_BACKEND parsing, forced choices, what
// automatic picks here, and the fallback proven in a child whose seccomp
// filter refuses io_uring_setup with EPERM.
#include "io/epoll_driver.hpp"
#include "io/io_backend.hpp"
#include "io/uring_driver.hpp"
#include "support/scoped_env.hpp"

#include <gtest/gtest.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace weft::detail {
namespace {

// WEFT_IO_BACKEND set or cleared for one test.
struct scoped_env : weft_test::scoped_env {
  explicit scoped_env(const char* value) : weft_test::scoped_env("WEFT_IO_BACKEND", value) {}
};

TEST(io_backend_from_env, unset_empty_and_auto_mean_automatic) {
  {
    scoped_env e(nullptr);
    EXPECT_EQ(io_backend_from_env(), io_backend_choice::automatic);
  }
  {
    scoped_env e("");
    EXPECT_EQ(io_backend_from_env(), io_backend_choice::automatic);
  }
  scoped_env e("auto");
  EXPECT_EQ(io_backend_from_env(), io_backend_choice::automatic);
}

TEST(io_backend_from_env, names_select_their_backend) {
  {
    scoped_env e("epoll");
    EXPECT_EQ(io_backend_from_env(), io_backend_choice::epoll);
  }
  scoped_env e("io_uring");
  EXPECT_EQ(io_backend_from_env(), io_backend_choice::io_uring);
}

TEST(io_backend_from_env, an_unknown_value_is_an_error_naming_the_variable_and_the_choices) {
  scoped_env e("uring");
  try {
    io_backend_from_env();
    FAIL() << "no exception";
  } catch (const std::system_error& err) {
    const std::string what = err.what();
    EXPECT_EQ(err.code(), std::make_error_code(std::errc::invalid_argument));
    EXPECT_NE(what.find("WEFT_IO_BACKEND"), std::string::npos) << what;
    EXPECT_NE(what.find("uring\""), std::string::npos) << what;
    for (const char* allowed : {"auto", "io_uring", "epoll"}) {
      EXPECT_NE(what.find(allowed), std::string::npos) << what;
    }
  }
}

TEST(io_backend, to_string_names_each_backend) {
  EXPECT_STREQ(to_string(io_backend::io_uring), "io_uring");
  EXPECT_STREQ(to_string(io_backend::epoll), "epoll");
}

TEST(select_io_backend, forced_epoll_makes_epoll_drivers) {
  const driver_factory f = select_io_backend(io_backend_choice::epoll);
  EXPECT_EQ(f.backend, io_backend::epoll);
  worker_drivers w = f.make(nullptr, true);
  ASSERT_NE(w.park, nullptr);
  // What I/O operations use: the same driver, seen through its interface.
  ASSERT_NE(w.io, nullptr);
  EXPECT_EQ(dynamic_cast<epoll_driver*>(w.io), dynamic_cast<epoll_driver*>(w.park.get()));
  EXPECT_NE(dynamic_cast<epoll_driver*>(w.io), nullptr);
  EXPECT_FALSE(w.io->caps().file_ops);  // weft::fs uses the blocking pool on epoll
  w.park->unpark();
  w.park->park(std::nullopt);
}

// Whether this process may create an io_uring, asked of the kernel directly.
bool kernel_allows_io_uring() {
  io_uring_params p{};
  const long fd = ::syscall(__NR_io_uring_setup, 4, &p);
  if (fd < 0) return false;
  ::close(static_cast<int>(fd));
  return true;
}

TEST(select_io_backend, automatic_picks_io_uring_where_the_kernel_allows_it_else_epoll) {
  const bool allowed = kernel_allows_io_uring();
  const driver_factory f = select_io_backend(io_backend_choice::automatic);
  EXPECT_EQ(f.backend, allowed ? io_backend::io_uring : io_backend::epoll)
      << "io_uring_setup allowed: " << allowed;
  worker_drivers w = f.make(nullptr, true);
  ASSERT_NE(w.io, nullptr);
  EXPECT_EQ(dynamic_cast<uring_driver*>(w.io) != nullptr, allowed);
  EXPECT_EQ(dynamic_cast<epoll_driver*>(w.io) != nullptr, !allowed);
  EXPECT_EQ(w.io->caps().file_ops, allowed);
  w.park->park(std::chrono::milliseconds{1});
}

// ---- fallback proof: a child whose seccomp filter refuses io_uring_setup ----

#if defined(__x86_64__)
constexpr std::uint32_t native_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t native_arch = AUDIT_ARCH_AARCH64;
#else
#error "backend_selection_test: add this architecture's AUDIT_ARCH_ constant"
#endif

// io_uring_setup → EPERM (as Docker's default profile answers); a syscall
// from a foreign ABI kills the process; everything else is allowed.
bool refuse_io_uring_setup() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, native_arch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(sizeof filter / sizeof filter[0]);
  prog.filter = filter;
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

enum child_exit : int {
  got_epoll = 10,
  got_io_uring = 11,
  threw = 20,
  filter_failed = 30,
  filter_leaky = 31,
};

struct child_result {
  int exit_code = -1;  // -1: did not exit normally
  std::string message;  // what the child wrote to the pipe
};

// Runs `body` in a forked child under the filter; body's return value is the
// exit code and anything it writes to `out_fd` comes back as the message.
template <class Body>
child_result run_in_filtered_child(Body body) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    int code = filter_failed;
    if (refuse_io_uring_setup()) {
      io_uring_params p{};
      // The filter itself must answer EPERM before the library is asked.
      if (::syscall(__NR_io_uring_setup, 4, &p) != -1 || errno != EPERM) {
        code = filter_leaky;
      } else {
        code = body(fds[1]);
      }
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  child_result r;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    r.message.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

TEST(select_io_backend, automatic_falls_back_to_epoll_when_io_uring_setup_is_refused) {
  const child_result r = run_in_filtered_child([](int out) -> int {
    try {
      const driver_factory f = select_io_backend(io_backend_choice::automatic);
      worker_drivers w = f.make(nullptr, true);
      w.park->park(std::chrono::milliseconds{1});
      w.park->unpark();
      w.park->park(std::nullopt);
      return f.backend == io_backend::epoll ? got_epoll : got_io_uring;
    } catch (const std::exception& e) {
      write_all(out, e.what());
      return threw;
    }
  });
  EXPECT_EQ(r.exit_code, got_epoll) << "10 epoll, 11 io_uring, 20 threw, 30/31 filter; "
                                    << r.message;
}

TEST(select_io_backend, forced_io_uring_under_refusal_is_a_clear_error) {
  const child_result r = run_in_filtered_child([](int out) -> int {
    try {
      select_io_backend(io_backend_choice::io_uring);
      return got_io_uring;
    } catch (const std::system_error& e) {
      write_all(out, e.what());
      return e.code().value() == EPERM ? threw : threw + 1;  // 21: wrong errno
    }
  });
  EXPECT_EQ(r.exit_code, threw) << "20: std::system_error with EPERM; " << r.message;
  EXPECT_NE(r.message.find("io_uring"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("epoll"), std::string::npos) << "names the way out: " << r.message;
}

// A kernel that has io_uring but lacks an opcode weft submits (MKDIRAT came
// in 5.15; a 5.11 kernel would fail every fs::create_dir with EINVAL):
// automatic selection runs on epoll, a forced io_uring names the opcode. The
// missing opcode is pretended through the probe's test switch.
class pretend_missing {
 public:
  explicit pretend_missing(int op) { uring_driver::pretend_opcode_missing_for_test(op); }
  ~pretend_missing() { uring_driver::pretend_opcode_missing_for_test(-1); }
  pretend_missing(const pretend_missing&) = delete;
  pretend_missing& operator=(const pretend_missing&) = delete;
};

TEST(select_io_backend, automatic_runs_on_epoll_when_the_kernel_lacks_an_opcode_weft_uses) {
  if (!kernel_allows_io_uring()) GTEST_SKIP() << "io_uring_setup is refused here";
  pretend_missing m(IORING_OP_MKDIRAT);
  EXPECT_EQ(select_io_backend(io_backend_choice::automatic).backend, io_backend::epoll);
}

TEST(select_io_backend, forced_io_uring_without_an_opcode_weft_uses_names_it) {
  if (!kernel_allows_io_uring()) GTEST_SKIP() << "io_uring_setup is refused here";
  pretend_missing m(IORING_OP_UNLINKAT);
  try {
    (void)select_io_backend(io_backend_choice::io_uring);
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), std::error_code(ENOSYS, std::system_category()));
    EXPECT_NE(what.find("IORING_OP_UNLINKAT"), std::string::npos) << what;
    EXPECT_NE(what.find("5.15"), std::string::npos) << what;
  }
}

TEST(select_io_backend, this_kernel_has_every_opcode_weft_uses) {
  if (!kernel_allows_io_uring()) GTEST_SKIP() << "io_uring_setup is refused here";
  EXPECT_NO_THROW(uring_driver::probe());
}

}  // namespace
}  // namespace weft::detail
