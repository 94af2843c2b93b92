// weft::fs::read_file and file::read_to_end on files that are not plain
// regular files of a modest size: a FIFO (which cannot seek) and a sparse
// file larger than memory, on both runtime flavours and both I/O backends. Each test works in its own
// scratch directory under /tmp.
#include <weft/fs.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "fs/temp_dir.hpp"
#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstddef>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;

class FsReadAll : public weft_test::on_each_backend {
 protected:
  weft_test::temp_dir dir;
};
INSTANTIATE_TEST_SUITE_P(Backends, FsReadAll, weft_test::each_backend(), weft_test::backend_name);

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131) ^ (i >> 9));
  return v;
}

/// Writes `data` into the FIFO at `path` from a thread, then closes it.
class fifo_writer {
 public:
  fifo_writer(std::string path, const std::vector<std::byte>& data)
      : path_(std::move(path)), thread_([this, &data] { run(data); }) {}
  fifo_writer(const fifo_writer&) = delete;
  fifo_writer& operator=(const fifo_writer&) = delete;
  /// If the reader never opened the FIFO, the writer still waits in open(2):
  /// a reader that drains it to the end lets the writer finish.
  ~fifo_writer() {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
      ::fcntl(fd, F_SETFL, 0);
      std::vector<char> sink(65536);
      while (::read(fd, sink.data(), sink.size()) > 0) {
      }
    }
    thread_.join();
    if (fd >= 0) ::close(fd);
  }

 private:
  void run(const std::vector<std::byte>& data) {
    // A reader that gives up makes write(2) fail with EPIPE, not kill us.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);  // waits for a reader
    if (fd < 0) return;
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }

  std::string path_;
  std::thread thread_;
};

TEST_P(FsReadAll, AFifoIsReadToTheEndOfItsWriterOnBothBackends) {
  // More than a pipe holds (64 KiB), so the reader needs several reads while
  // the writer is still writing. The FIFO cannot seek: pread fails there.
  const std::string fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::byte> data = pattern(200'000);
  fifo_writer writer(fifo, data);
  rt.block_on([&]() -> task<void> {
    result<result<std::vector<std::byte>>> got =
        co_await weft::timeout(60s, weft::fs::read_file(fifo));
    EXPECT_TRUE(got.has_value()) << "deadline passed";
    if (!got) co_return;
    EXPECT_TRUE(got->has_value()) << got->error().message();
    if (!*got) co_return;
    EXPECT_EQ(got->value().size(), data.size());
    EXPECT_TRUE(got->value() == data);
  }());
}

TEST_P(FsReadAll, AFileLargerThanMemoryIsAnErrorResultNotAnException) {
  // A sparse 1 TiB file: no disk space, but no machine this runs on has the
  // memory to hold it. The whole-file reads must say so in their result.
  const std::string path = dir / "sparse";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const int made = ::ftruncate(fd, off_t{1} << 40);
  const int err = errno;
  ::close(fd);
  if (made != 0) {
    GTEST_SKIP() << "the file system under " << dir.path()
                 << " refuses a 1 TiB sparse file: " << std::strerror(err);
  }
  rt.block_on([&]() -> task<void> {
    result<std::vector<std::byte>> whole = co_await weft::fs::read_file(path);
    EXPECT_EQ(whole.error(), std::errc::file_too_large);
    result<std::string> text = co_await weft::fs::read_to_string(path);
    EXPECT_EQ(text.error(), std::errc::file_too_large);
    weft::fs::file f = (co_await weft::fs::file::open_read(path)).value();
    result<std::vector<std::byte>> to_end = co_await f.read_to_end();
    EXPECT_EQ(to_end.error(), std::errc::file_too_large);
  }());
}

}  // namespace
