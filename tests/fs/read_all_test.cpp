// weft::fs::read_file and file::read_to_end on files that are not plain
// regular files of a modest size: a FIFO (which cannot seek), on both
// runtime flavours and both I/O backends. Each test works in its own
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

#include <chrono>
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

}  // namespace
