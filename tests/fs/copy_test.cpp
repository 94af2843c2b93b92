// weft::fs::copy_file's edge cases on both runtime flavours and both I/O
// backends: a destination that is the source itself, a source whose size
// statx does not tell (or that changes while it is copied), and a copy that
// fails part-way. Each test works in its own scratch directory under /tmp.
#include <weft/error.hpp>
#include <weft/fs.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "fs/fifo_writer.hpp"
#include "fs/temp_dir.hpp"
#include "support/backends.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using weft::result;
using weft::task;

class FsCopy : public weft_test::on_each_backend {
 protected:
  weft_test::temp_dir dir;
};
INSTANTIATE_TEST_SUITE_P(Backends, FsCopy, weft_test::each_backend(), weft_test::backend_name);

/// A copy of `from` to `to` whose destination is the source under another
/// name fails with errc::same_file and leaves the source's bytes as they were.
void expect_refused_as_same_file(weft::runtime& rt, const std::string& from,
                                 const std::string& to) {
  const std::string original = "the source's bytes, which must survive";
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(from, original)).value();
    result<std::uint64_t> r = co_await weft::fs::copy_file(from, to);
    EXPECT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), weft::errc::same_file) << r.error().message();
    EXPECT_EQ((co_await weft::fs::read_to_string(from)).value(), original);
  }());
}

TEST_P(FsCopy, CopyingAFileOntoItselfFailsWithSameFileAndKeepsItsBytes) {
  expect_refused_as_same_file(rt, dir / "f", dir / "f");
}

TEST_P(FsCopy, CopyingAFileOntoAHardLinkToItFailsWithSameFileAndKeepsItsBytes) {
  // The link is made after write_file created the file.
  rt.block_on([&]() -> task<void> { (co_await weft::fs::write_file(dir / "f", "x")).value(); }());
  ASSERT_EQ(::link((dir / "f").c_str(), (dir / "link").c_str()), 0);
  expect_refused_as_same_file(rt, dir / "f", dir / "link");
}

TEST_P(FsCopy, CopyingAFileOntoASymlinkToItFailsWithSameFileAndKeepsItsBytes) {
  ASSERT_EQ(::symlink((dir / "f").c_str(), (dir / "symlink").c_str()), 0);
  expect_refused_as_same_file(rt, dir / "f", dir / "symlink");
}

TEST_P(FsCopy, CopyingOntoAnotherExistingFileReplacesItsBytes) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(dir / "from", "short")).value();
    (co_await weft::fs::write_file(dir / "to", "a much longer old content")).value();
    EXPECT_EQ((co_await weft::fs::copy_file(dir / "from", dir / "to")).value(), 5u);
    EXPECT_EQ((co_await weft::fs::read_to_string(dir / "to")).value(), "short");
  }());
}

TEST_P(FsCopy, ASourceWhoseSizeStatDoesNotTellIsCopiedToItsEnd) {
  // /proc files report size 0; the copy must read until end of file.
  rt.block_on([&]() -> task<void> {
    const std::uint64_t n = (co_await weft::fs::copy_file("/proc/self/status", dir / "to")).value();
    const std::string got = (co_await weft::fs::read_to_string(dir / "to")).value();
    EXPECT_GT(n, 0u);
    EXPECT_EQ(got.size(), n);
    EXPECT_EQ(got.rfind("Name:", 0), 0u) << got.substr(0, 40);
    EXPECT_EQ(got.back(), '\n');
  }());
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) ^ (i >> 9));
  return v;
}

void write_posix(const std::string& path, std::span<const std::byte> data, int flags) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fd);
}

constexpr weft::fs::copy_options small_chunks{.chunk = 4096, .depth = 1};

TEST_P(FsCopy, ASourceThatGrowsWhileCopiedIsCopiedToItsNewEnd) {
  WEFT_REQUIRE_TEST_POINTS();
  // Order forced by the test point "fs.copy_file.after_chunk": the source
  // (3 chunks when statx-ed) grows by 10,000 bytes after the first chunk is
  // written, before any later read.
  const std::vector<std::byte> first = pattern(3 * 4096, 1);
  const std::vector<std::byte> more = pattern(10'000, 2);
  write_posix(dir / "from", first, O_TRUNC);
  weft_test::point_script script;
  script.on("fs.copy_file.after_chunk", [&] { write_posix(dir / "from", more, O_APPEND); });
  rt.block_on([&]() -> task<void> {
    result<std::uint64_t> n = co_await weft::fs::copy_file(dir / "from", dir / "to", small_chunks);
    EXPECT_EQ(n.value(), first.size() + more.size());
    std::vector<std::byte> want = first;
    want.insert(want.end(), more.begin(), more.end());
    EXPECT_TRUE((co_await weft::fs::read_file(dir / "to")).value() == want);
  }());
  EXPECT_GE(script.reached_count("fs.copy_file.after_chunk"), 1);
}

TEST_P(FsCopy, ASourceThatShrinksWhileCopiedIsCopiedToItsNewEnd) {
  WEFT_REQUIRE_TEST_POINTS();
  // Order forced by the test point "fs.copy_file.after_chunk": the source
  // (5 chunks when statx-ed) is cut to 6,000 bytes after the first chunk is
  // written, so the second chunk's read comes up short and the third's
  // finds the end.
  const std::vector<std::byte> data = pattern(5 * 4096, 3);
  write_posix(dir / "from", data, O_TRUNC);
  weft_test::point_script script;
  script.on("fs.copy_file.after_chunk",
            [&] { ASSERT_EQ(::truncate((dir / "from").c_str(), 6000), 0); });
  rt.block_on([&]() -> task<void> {
    result<std::uint64_t> n = co_await weft::fs::copy_file(dir / "from", dir / "to", small_chunks);
    EXPECT_EQ(n.value(), 6000u) << n.error().message();
    EXPECT_TRUE((co_await weft::fs::read_file(dir / "to")).value() ==
                std::vector<std::byte>(data.begin(), data.begin() + 6000));
  }());
  EXPECT_GE(script.reached_count("fs.copy_file.after_chunk"), 1);
}

/// The descriptor of this process open on `path` (-1 if none or several).
int only_fd_on(const std::string& path) {
  int found = -1;
  int count = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::array<char, 4096> target{};
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t len = ::readlink(link.c_str(), target.data(), target.size() - 1);
    if (len > 0 && std::string(target.data(), static_cast<std::size_t>(len)) == path) {
      found = std::stoi(e->d_name);
      ++count;
    }
  }
  ::closedir(d);
  return count == 1 ? found : -1;
}

TEST_P(FsCopy, AReadThatFailsMidCopyLeavesNoDestination) {
  WEFT_REQUIRE_TEST_POINTS();
  // Order forced by the test point "fs.copy_file.after_chunk": after the
  // first chunk is written, the copy's source descriptor is replaced (dup2)
  // by one of a directory, so the next read fails with EISDIR mid-copy.
  write_posix(dir / "from", pattern(3 * 4096, 4), O_TRUNC);
  const int dir_fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir_fd, 0);
  bool replaced = false;
  weft_test::point_script script;
  script.on("fs.copy_file.after_chunk", [&] {
    const int src_fd = only_fd_on(dir / "from");
    replaced = src_fd >= 0 && ::dup3(dir_fd, src_fd, O_CLOEXEC) == src_fd;
  });
  rt.block_on([&]() -> task<void> {
    result<std::uint64_t> n = co_await weft::fs::copy_file(dir / "from", dir / "to", small_chunks);
    EXPECT_EQ(n.error(), std::errc::is_a_directory);
    EXPECT_EQ((co_await weft::fs::stat(dir / "to")).error(), std::errc::no_such_file_or_directory);
  }());
  ::close(dir_fd);
  EXPECT_TRUE(replaced);
}

TEST_P(FsCopy, AFifoIsCopiedToTheEndOfItsWriterOnBothBackends) {
  // A FIFO has no size and cannot pread: the copy reads it with read(2)
  // until the writer closes it. More than a pipe holds (64 KiB).
  const std::string fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::byte> data = pattern(200'000, 5);
  weft_test::fifo_writer writer(fifo, data);
  rt.block_on([&]() -> task<void> {
    result<result<std::uint64_t>> n = co_await weft::timeout(
        std::chrono::seconds(60), weft::fs::copy_file(fifo, dir / "to", small_chunks));
    EXPECT_TRUE(n.has_value()) << "deadline passed";
    if (!n) co_return;
    EXPECT_EQ(n->value(), data.size()) << n->error().message();
    EXPECT_TRUE((co_await weft::fs::read_file(dir / "to")).value() == data);
  }());
}

TEST_P(FsCopy, CopyingADirectoryFailsBeforeTheDestinationIsOpened) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::create_dir(dir / "d")).value();
    EXPECT_EQ((co_await weft::fs::copy_file(dir / "d", dir / "to")).error(),
              std::errc::is_a_directory);
    EXPECT_EQ((co_await weft::fs::stat(dir / "to")).error(), std::errc::no_such_file_or_directory);
  }());
}

}  // namespace
