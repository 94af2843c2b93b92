// weft::fs::read_file and file::read_to_end on files that are not plain
// regular files of a modest size: a FIFO (which cannot seek) and a sparse
// file larger than memory, on both runtime flavours and both I/O backends. Each test works in its own
// scratch directory under /tmp.
#include <weft/fs.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "fs/fifo_writer.hpp"
#include "fs/temp_dir.hpp"
#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstddef>
#include <string>
#include <system_error>
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

TEST_P(FsReadAll, AFifoIsReadToTheEndOfItsWriterOnBothBackends) {
  // More than a pipe holds (64 KiB), so the reader needs several reads while
  // the writer is still writing. The FIFO cannot seek: pread fails there.
  const std::string fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::byte> data = pattern(200'000);
  weft_test::fifo_writer writer(fifo, data);
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
