// weft::fs on both runtime flavours and both I/O backends (io_uring opcodes,
// and the blocking pool under epoll): every result and error code must be the
// same on all four. Each test works in its own scratch directory under /tmp.
#include <weft/fs.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include "fs/temp_dir.hpp"
#include "support/backends.hpp"
#include "support/flavors.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::fs::file;
using weft::fs::file_status;
using weft::fs::file_type;

class Fs : public weft_test::on_each_backend {
 protected:
  weft_test::temp_dir dir;
};
INSTANTIATE_TEST_SUITE_P(Backends, Fs, weft_test::each_backend(), weft_test::backend_name);

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::string text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131) ^ (i >> 9));
  return v;
}

/// What an awaited operation threw (as std::system_error), or nothing.
template <class A>
task<std::optional<std::error_code>> thrown_by(A op) {
  try {
    (void)co_await std::move(op);
  } catch (const std::system_error& e) {
    co_return e.code();
  }
  co_return std::nullopt;
}

/// Descriptors of this process that refer to `path`.
int fds_referring_to(const std::string& path) {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::array<char, 4096> target{};
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t len = ::readlink(link.c_str(), target.data(), target.size() - 1);
    if (len > 0 && std::string(target.data(), static_cast<std::size_t>(len)) == path) ++n;
  }
  ::closedir(d);
  return n;
}

TEST_P(Fs, OpeningAMissingFileFailsWithNoSuchFileOrDirectory) {
  rt.block_on([&]() -> task<void> {
    result<file> f = co_await file::open_read(dir / "missing");
    EXPECT_FALSE(f.has_value());
    EXPECT_EQ(f.error(), std::errc::no_such_file_or_directory);
    EXPECT_EQ(f.error().category(), std::system_category());
  }());
}

TEST_P(Fs, WriteAtThenReadAtRoundTripsAtAnyOffset) {
  rt.block_on([&]() -> task<void> {
    file f = (co_await file::open(dir / "f", {.read = true, .write = true, .create = true}))
                 .value();
    EXPECT_TRUE(f.is_open());
    EXPECT_GE(f.native_handle(), 0);
    EXPECT_EQ((co_await f.write_at(bytes("hello"), 0)).value(), 5u);
    EXPECT_EQ((co_await f.write_at(bytes("world"), 100)).value(), 5u);  // leaves a hole
    std::array<std::byte, 5> buf{};
    EXPECT_EQ((co_await f.read_at(buf, 0)).value(), 5u);
    EXPECT_EQ(text(buf), "hello");
    EXPECT_EQ((co_await f.read_at(buf, 100)).value(), 5u);
    EXPECT_EQ(text(buf), "world");
    EXPECT_EQ((co_await f.read_at(buf, 50)).value(), 5u);  // the hole reads as zeros
    EXPECT_EQ(text(buf), std::string(5, '\0'));
    EXPECT_EQ((co_await f.stat()).value().size, 105u);
  }());
}

TEST_P(Fs, ReadAtTheEndReturnsWhatIsThereThenZero) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(dir / "f", "0123456789")).value();
    file f = (co_await file::open_read(dir / "f")).value();
    std::array<std::byte, 8> buf{};
    EXPECT_EQ((co_await f.read_at(buf, 6)).value(), 4u);
    EXPECT_EQ(text(std::span(buf).first(4)), "6789");
    EXPECT_EQ((co_await f.read_at(buf, 10)).value(), 0u);
    EXPECT_EQ((co_await f.read_at(buf, 1000)).value(), 0u);
  }());
}

TEST_P(Fs, AnOffsetPastTheLargestFileOffsetIsAnInvalidArgument) {
  rt.block_on([&]() -> task<void> {
    file f = (co_await file::open(dir / "f", {.read = true, .write = true, .create = true}))
                 .value();
    std::array<std::byte, 4> buf{};
    for (const std::uint64_t off : {std::uint64_t{1} << 63, ~std::uint64_t{0}}) {
      EXPECT_EQ((co_await f.read_at(buf, off)).error(), std::errc::invalid_argument);
      EXPECT_EQ((co_await f.write_at(buf, off)).error(), std::errc::invalid_argument);
      EXPECT_EQ((co_await f.write_all_at(buf, off)).error(), std::errc::invalid_argument);
    }
    EXPECT_EQ((co_await f.stat()).value().size, 0u);  // nothing was written at the position
  }());
}

TEST_P(Fs, ReadAndWriteUseAndAdvanceTheFilePosition) {
  rt.block_on([&]() -> task<void> {
    {
      file f = (co_await file::create(dir / "f")).value();
      (co_await f.write_all(bytes("abc"))).value();
      (co_await f.write_all(bytes("def"))).value();
    }
    file f = (co_await file::open_read(dir / "f")).value();
    std::array<std::byte, 4> buf{};
    EXPECT_EQ((co_await f.read(buf)).value(), 4u);
    EXPECT_EQ(text(buf), "abcd");
    EXPECT_EQ((co_await f.read(buf)).value(), 2u);
    EXPECT_EQ(text(std::span(buf).first(2)), "ef");
    EXPECT_EQ((co_await f.read(buf)).value(), 0u);
  }());
}

TEST_P(Fs, AppendWritesGoToTheEnd) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(dir / "log", "one\n")).value();
    file f = (co_await file::open(dir / "log", {.append = true})).value();
    (co_await f.write_all(bytes("two\n"))).value();
    f.close();
    EXPECT_FALSE(f.is_open());
    EXPECT_EQ(f.native_handle(), -1);
    EXPECT_EQ((co_await weft::fs::read_to_string(dir / "log")).value(), "one\ntwo\n");
  }());
}

TEST_P(Fs, ReadToEndReadsAThreeMebibyteFile) {
  rt.block_on([&]() -> task<void> {
    const std::vector<std::byte> data = pattern(3 << 20);
    {
      file f = (co_await file::create(dir / "big")).value();
      (co_await f.write_all_at(data, 0)).value();
    }
    file f = (co_await file::open_read(dir / "big")).value();
    std::vector<std::byte> got = (co_await f.read_to_end()).value();
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
  }());
}

TEST_P(Fs, ReadToEndOfAFileWithoutASizeReadsUntilTheEnd) {
  // /proc files report size 0: the buffer cannot be sized from statx.
  rt.block_on([&]() -> task<void> {
    const std::string got = (co_await weft::fs::read_to_string("/proc/self/status")).value();
    EXPECT_NE(got.find("Name:"), std::string::npos);
    EXPECT_EQ(got.back(), '\n');
  }());
}

TEST_P(Fs, WriteFileThenReadFileRoundTrips) {
  rt.block_on([&]() -> task<void> {
    const std::vector<std::byte> data = pattern(100'000);
    (co_await weft::fs::write_file(dir / "f", std::span<const std::byte>(data))).value();
    EXPECT_TRUE((co_await weft::fs::read_file(dir / "f")).value() == data);
    // write_file truncates what was there.
    (co_await weft::fs::write_file(dir / "f", "short")).value();
    EXPECT_EQ((co_await weft::fs::read_to_string(dir / "f")).value(), "short");
    (co_await weft::fs::write_file(dir / "empty", "")).value();
    EXPECT_TRUE((co_await weft::fs::read_file(dir / "empty")).value().empty());
  }());
}

TEST_P(Fs, RenameMovesAFileAndReplacesTheTarget) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(dir / "a", "A")).value();
    (co_await weft::fs::write_file(dir / "b", "B")).value();
    (co_await weft::fs::rename(dir / "a", dir / "b")).value();
    EXPECT_EQ((co_await weft::fs::stat(dir / "a")).error(), std::errc::no_such_file_or_directory);
    EXPECT_EQ((co_await weft::fs::read_to_string(dir / "b")).value(), "A");
    EXPECT_EQ((co_await weft::fs::rename(dir / "a", dir / "c")).error(),
              std::errc::no_such_file_or_directory);
  }());
}

TEST_P(Fs, RemoveDeletesFilesAndRemoveDirEmptyDirectories) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(dir / "f", "x")).value();
    (co_await weft::fs::remove(dir / "f")).value();
    EXPECT_EQ((co_await weft::fs::stat(dir / "f")).error(), std::errc::no_such_file_or_directory);
    EXPECT_EQ((co_await weft::fs::remove(dir / "f")).error(),
              std::errc::no_such_file_or_directory);

    (co_await weft::fs::create_dir(dir / "d")).value();
    (co_await weft::fs::write_file(dir / "d/inner", "x")).value();
    EXPECT_EQ((co_await weft::fs::remove(dir / "d")).error(), std::errc::is_a_directory);
    EXPECT_EQ((co_await weft::fs::remove_dir(dir / "d")).error(),
              std::errc::directory_not_empty);
    (co_await weft::fs::remove(dir / "d/inner")).value();
    (co_await weft::fs::remove_dir(dir / "d")).value();
    EXPECT_EQ((co_await weft::fs::stat(dir / "d")).error(), std::errc::no_such_file_or_directory);
  }());
}

TEST_P(Fs, CreateDirMakesADirectoryAndFailsIfThePathExists) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::create_dir(dir / "d", 0700)).value();
    const file_status st = (co_await weft::fs::stat(dir / "d")).value();
    EXPECT_EQ(st.type, file_type::directory);
    EXPECT_EQ(st.mode, 0700u);
    EXPECT_EQ((co_await weft::fs::create_dir(dir / "d")).error(), std::errc::file_exists);
    EXPECT_EQ((co_await weft::fs::create_dir(dir / "missing/d")).error(),
              std::errc::no_such_file_or_directory);
  }());
}

TEST_P(Fs, StatReportsSizeTypeModeAndModificationTime) {
  const std::string path = dir / "f";
  // A known mtime and mode, set with plain system calls.
  ASSERT_EQ(::close(::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
  ASSERT_EQ(::truncate(path.c_str(), 12345), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  const timespec times[2] = {{1'600'000'000, 0}, {1'600'000'000, 123'456'789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  ASSERT_EQ(::symlink(path.c_str(), (dir / "link").c_str()), 0);
  rt.block_on([&]() -> task<void> {
    const auto expected_mtime = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(1'600'000'000) + std::chrono::nanoseconds(123'456'789)));
    for (const std::string& p : {path, dir / "link"}) {  // stat follows the link
      const file_status st = (co_await weft::fs::stat(p)).value();
      EXPECT_EQ(st.size, 12345u);
      EXPECT_EQ(st.type, file_type::regular);
      EXPECT_EQ(st.mode, 0640u);
      EXPECT_EQ(st.mtime, expected_mtime);
    }
    file f = (co_await file::open_read(path)).value();
    const file_status st = (co_await f.stat()).value();
    EXPECT_EQ(st.size, 12345u);
    EXPECT_EQ(st.type, file_type::regular);
    EXPECT_EQ(st.mtime, expected_mtime);
    EXPECT_EQ((co_await weft::fs::symlink_status(dir / "link")).value().type, file_type::symlink);
    EXPECT_EQ((co_await weft::fs::symlink_status(path)).value().type, file_type::regular);
    EXPECT_EQ((co_await weft::fs::stat("/dev/null")).value().type, file_type::other);
    EXPECT_EQ((co_await weft::fs::stat(dir / "missing")).error(),
              std::errc::no_such_file_or_directory);
  }());
}

/// Set `path`'s mtime to `sec` seconds since 1970; false if the file system
/// stored something else (it cannot represent that time).
bool set_mtime(const std::string& path, std::int64_t sec) {
  const timespec times[2] = {{sec, 0}, {sec, 0}};
  struct stat st {};
  return ::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0 && ::stat(path.c_str(), &st) == 0 &&
         st.st_mtim.tv_sec == sec;
}

TEST_P(Fs, AModificationTimeOutsideTheTimePointsRangeSaturatesInsteadOfWrapping) {
  // Year 2300 (10'413'792'000 s) is past system_clock's 2262 limit; it used
  // to wrap to 1715. Year 1600 is before 1677: ext4 cannot store it (it
  // clamps to 1901), tmpfs can, so that file lives in /dev/shm when it exists.
  const std::string late = dir / "late";
  ASSERT_EQ(::close(::open(late.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
  ASSERT_TRUE(set_mtime(late, 10'413'792'000));
  std::string early_dir = "/dev/shm/weft-fs-XXXXXX";
  std::string early;
  if (::mkdtemp(early_dir.data()) != nullptr) {
    early = early_dir + "/early";
    ASSERT_EQ(::close(::open(early.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
    if (!set_mtime(early, -11'676'096'000)) early.clear();
  }
  rt.block_on([&]() -> task<void> {
    using tp = std::chrono::system_clock::time_point;
    EXPECT_EQ((co_await weft::fs::stat(late)).value().mtime, tp::max());
    file f = (co_await file::open_read(late)).value();
    EXPECT_EQ((co_await f.stat()).value().mtime, tp::max());
    if (!early.empty()) {
      EXPECT_EQ((co_await weft::fs::stat(early)).value().mtime, tp::min());
      file e = (co_await file::open_read(early)).value();
      EXPECT_EQ((co_await e.stat()).value().mtime, tp::min());
    }
  }());
  if (!early.empty()) ::unlink(early.c_str());
  ::rmdir(early_dir.c_str());
  if (early.empty()) GTEST_SKIP() << "no file system here stores a time before 1677 (tmpfs does)";
}

TEST_P(Fs, ExclusiveCreateOfAnExistingFileFailsWithFileExists) {
  rt.block_on([&]() -> task<void> {
    const weft::fs::open_options exclusive{.write = true, .create_new = true};
    file f = (co_await file::open(dir / "f", exclusive)).value();
    result<file> again = co_await file::open(dir / "f", exclusive);
    EXPECT_FALSE(again.has_value());
    EXPECT_EQ(again.error(), std::errc::file_exists);
  }());
}

TEST_P(Fs, FsyncAndFdatasyncSucceed) {
  rt.block_on([&]() -> task<void> {
    file f = (co_await file::create(dir / "f")).value();
    (co_await f.write_all_at(bytes("durable"), 0)).value();
    (co_await f.fsync()).value();
    (co_await f.fdatasync()).value();
  }());
}

TEST_P(Fs, APathWithANulIsAnInvalidArgument) {
  rt.block_on([&]() -> task<void> {
    const std::string bad = dir / std::string("a\0b", 3);
    EXPECT_EQ((co_await file::open_read(bad)).error(), std::errc::invalid_argument);
    EXPECT_EQ((co_await weft::fs::stat(bad)).error(), std::errc::invalid_argument);
    EXPECT_EQ((co_await weft::fs::remove(bad)).error(), std::errc::invalid_argument);
    EXPECT_EQ((co_await weft::fs::rename(bad, dir / "x")).error(), std::errc::invalid_argument);
    EXPECT_EQ((co_await weft::fs::create_dir(bad)).error(), std::errc::invalid_argument);
  }());
}

TEST_P(Fs, ContradictoryOpenOptionsThrowInvalidArgument) {
  rt.block_on([&]() -> task<void> {
    const std::string p = dir / "f";
    for (const weft::fs::open_options o : {weft::fs::open_options{},
                                           weft::fs::open_options{.read = true, .create = true},
                                           weft::fs::open_options{.append = true, .truncate = true}}) {
      const std::optional<std::error_code> ec = co_await thrown_by(file::open(p, o));
      EXPECT_EQ(ec.value_or(std::error_code{}), std::errc::invalid_argument);
    }
  }());
}

TEST_P(Fs, AnOperationOnAClosedFileThrowsBadFileDescriptor) {
  rt.block_on([&]() -> task<void> {
    file f;
    std::array<std::byte, 1> buf{};
    EXPECT_THROW((void)f.read_at(buf, 0), std::system_error);
    file g = (co_await file::create(dir / "f")).value();
    file moved = std::move(g);
    try {
      (void)g.fsync();  // NOLINT(bugprone-use-after-move): the point of the test
      ADD_FAILURE() << "fsync on a moved-from file did not throw";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::bad_file_descriptor);
    }
  }());
}

TEST_P(Fs, AnOperationKeepsItsDescriptorUntilItIsAwaited) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(dir / "f", "contents")).value();
    file f = (co_await file::open_read(dir / "f")).value();
    std::array<std::byte, 8> buf{};
    task<result<std::size_t>> pending = f.read_at(buf, 0);
    f.close();  // the operation holds its own reference to the descriptor
    EXPECT_EQ((co_await std::move(pending)).value(), 8u);
    EXPECT_EQ(text(buf), "contents");
  }());
}

TEST_P(Fs, ReadOfAFifoCancelledByTimeoutTimesOutAndLeaksNothing) {
  const std::string fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  constexpr int reads = 5;
  constexpr std::size_t read_size = 64;
  rt.block_on([&]() -> task<void> {
    // O_RDWR: the open does not wait for a writer, and a read waits for data
    // (never end of file: this descriptor is a writer too).
    file f = (co_await file::open(fifo, {.read = true, .write = true})).value();
    for (int i = 0; i < reads; ++i) {
      std::array<std::byte, read_size> buf{};
      result<result<std::size_t>> r = co_await weft::timeout(2ms, f.read(buf));
      EXPECT_EQ(r.error(), weft::errc::timed_out);
    }
    // io_uring cancelled its reads in the kernel. The blocking pool's reads
    // are still blocked in read(2) on detached jobs (into their own buffers):
    // give each of them bytes to finish with.
    const std::string feed(reads * read_size, 'x');
    (co_await f.write_all(bytes(feed))).value();
  }());
  rt.shutdown(std::chrono::milliseconds(10'000));  // waits for the blocking jobs
  EXPECT_EQ(fds_referring_to(fifo), 0);
}

// The blocking pool's cancellation guarantees, made deterministic with a
// single blocking thread held busy, so the operation's job is still queued
// when its timeout fires (only the epoll backend uses the pool for files).
class FsBlockingPool : public ::testing::TestWithParam<weft::runtime_flavor> {
 protected:
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(GetParam())
                         .io_backend(weft::io_backend_choice::epoll)
                         .max_blocking_threads(1)
                         .build();
  weft_test::temp_dir dir;
};
INSTANTIATE_TEST_SUITE_P(Flavors, FsBlockingPool, weft_test::each_flavor(),
                         weft_test::flavor_name);

TEST_P(FsBlockingPool, CancelledReadNeverWritesTheCallersFreedBuffer) {
  rt.block_on([&]() -> task<void> {
    (co_await weft::fs::write_file(dir / "f", "contents")).value();
    file f = (co_await file::open_read(dir / "f")).value();
    std::latch release(1);
    auto blocker = weft::spawn_blocking([&] { release.wait(); });
    auto buf = std::make_unique<std::array<std::byte, 8>>();
    auto r = co_await weft::timeout(1ms, f.read_at(*buf, 0));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    buf.reset();  // the detached job must not write here (ASan would say so)
    release.count_down();
    co_await blocker;
    co_await weft::spawn_blocking([] {});  // jobs run in order: the read ran
  }());
}

TEST_P(FsBlockingPool, CancelledWriteStillWritesItsOwnCopyOfTheBytes) {
  rt.block_on([&]() -> task<void> {
    file f = (co_await file::create(dir / "f")).value();
    std::latch release(1);
    auto blocker = weft::spawn_blocking([&] { release.wait(); });
    auto buf = std::make_unique<std::string>("original");
    auto r = co_await weft::timeout(1ms, f.write_at(bytes(*buf), 0));
    EXPECT_EQ(r.error(), weft::errc::timed_out);
    *buf = "changed!";
    buf.reset();
    release.count_down();
    co_await blocker;
    co_await weft::spawn_blocking([] {});
    EXPECT_EQ((co_await weft::fs::read_to_string(dir / "f")).value(), "original");
  }());
}

TEST(FsOutsideARuntime, AwaitingUnderStandaloneBlockOnThrowsNoRuntime) {
  try {
    (void)weft::block_on(weft::fs::stat("/"));
    ADD_FAILURE() << "fs::stat outside a runtime did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::no_runtime);
  }
}

}  // namespace
