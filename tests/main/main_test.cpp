// WEFT_MAIN, run as real processes: exit codes, output, the grace period and
// exit without cancellation.
#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string drain(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return s;
}

/// Run `path` with `args`; `env` entries ("NAME=value") replace or add to
/// this process's environment.
run_result run(const std::string& path, std::vector<std::string> args = {},
               std::vector<std::string> env = {}) {
  int out[2], err[2];
  EXPECT_EQ(pipe(out), 0);
  EXPECT_EQ(pipe(err), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, err[0]);
  std::vector<char*> argv{const_cast<char*>(path.c_str())};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const std::string& mine : env) {
      const std::string_view key = std::string_view(mine).substr(0, mine.find('=') + 1);
      if (entry.substr(0, key.size()) == key) replaced = true;
    }
    if (!replaced) envp.push_back(*e);
  }
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  run_result r;
  r.out = drain(out[0]);  // the child exits, closing its ends: no deadlock for small output
  r.err = drain(err[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

TEST(WeftMain, ReturnsTheExitCodeOfAsyncMain) {
  auto r = run(WEFT_MAIN_INT, {"one-argument"});
  EXPECT_EQ(r.exit_code, 42) << r.err;  // argc (2) + 40
}

TEST(WeftMain, VoidAsyncMainExitsZero) {
  auto r = run(WEFT_MAIN_VOID);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "void main ran\n");
}

TEST(WeftMain, AThrowingAsyncMainExitsOneWithAMessage) {
  auto r = run(WEFT_MAIN_THROW);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("async_main failed on purpose"), std::string::npos) << r.err;
}

TEST(WeftMain, TasksStillRunningGetTheGracePeriod) {
  auto r = run(WEFT_MAIN_GRACE);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out, "cleanup task finished\n");
}

TEST(WeftMain, TasksOutlivingTheGraceAreNotCancelled) {
  auto r = run(WEFT_MAIN_NO_CANCEL);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "main done\n");  // the task's destructor never ran
}

TEST(WeftMain, ExitCodesFrom0To255AreReturnedAsIs) {
  for (const char* code : {"0", "1", "255"}) {
    auto r = run(WEFT_MAIN_CODE, {code});
    EXPECT_EQ(r.exit_code, std::stoi(code)) << r.err;
    EXPECT_EQ(r.err, "");
  }
}

TEST(WeftMain, AnExitCodeOutside0To255ExitsOneWithAMessage) {
  // 256 would otherwise read as 0 (success) in the parent: the low 8 bits.
  for (const char* code : {"256", "512", "-1", "-256", "2147483647"}) {
    auto r = run(WEFT_MAIN_CODE, {code});
    EXPECT_EQ(r.exit_code, 1) << code << ": " << r.err;
    EXPECT_NE(r.err.find(std::string("returned ") + code + ", not an exit code"),
              std::string::npos)
        << r.err;
  }
}

TEST(WeftMain, AWideExitCodeIsCheckedBeforeNarrowing) {
  auto r = run(WEFT_MAIN_LONG);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("returned 4294967299, not an exit code"), std::string::npos) << r.err;
}

TEST(WeftMain, AnInvalidWorkerThreadsValueExitsOneWithAMessage) {
  for (const char* value : {"garbage", "-3", "4x", " 4", "+4", "1025", "5000",
                            "99999999999999999999999"}) {
    auto r = run(WEFT_MAIN_VOID, {}, {std::string("WEFT_WORKER_THREADS=") + value});
    EXPECT_EQ(r.exit_code, 1) << value << ": " << r.err;  // not a crash, not success
    EXPECT_NE(r.err.find("weft: could not start the runtime"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(std::string("WEFT_WORKER_THREADS=") + value), std::string::npos)
        << r.err;
    EXPECT_EQ(r.out, "");  // async_main never ran
  }
}

TEST(WeftMain, AValidWorkerThreadsValueIsUsed) {
  for (const char* value : {"1", "2", "0", ""}) {
    auto r = run(WEFT_MAIN_VOID, {}, {std::string("WEFT_WORKER_THREADS=") + value});
    EXPECT_EQ(r.exit_code, 0) << value << ": " << r.err;
    EXPECT_EQ(r.out, "void main ran\n");
  }
}

}  // namespace
