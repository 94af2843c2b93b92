// A 1 GiB file copied with weft::fs::copy_file, the routine examples/file_copy runs,
// once per I/O backend on a multi_thread runtime, and checked byte for byte.
//
// The source is written, and the copy checked, with plain system calls on the
// test thread — independently of weft::fs — from a deterministic pattern in
// which every 8-byte word depends on its offset (a chunk copied to the wrong
// place is caught). The check reads the copy chunk by chunk and compares it
// with the regenerated pattern, so neither file is ever held in memory. The
// scratch directory (both files) is removed when the suite ends, pass or fail.
#include <weft/fs.hpp>
#include <weft/runtime.hpp>

#include "fs/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t file_size = std::uint64_t{1} << 30;
constexpr std::size_t block = std::size_t{4} << 20;  // generation / check unit

/// The pattern's bytes [offset, offset + out.size()); offset and size are
/// multiples of 8.
void fill_pattern(std::uint64_t offset, std::span<std::byte> out) {
  for (std::size_t i = 0; i < out.size(); i += 8) {
    const std::uint64_t w = (offset + i) / 8;
    const std::uint64_t v = (w * 0x9E37'79B9'7F4A'7C15ULL) ^ (w >> 29);
    std::memcpy(out.data() + i, &v, 8);
  }
}

class FsLargeCopy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<weft_test::temp_dir>();
    const std::string src = *dir_ / "source";
    const int fd = ::open(src.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::vector<std::byte> buf(block);
    for (std::uint64_t off = 0; off < file_size; off += block) {
      fill_pattern(off, buf);
      ASSERT_EQ(::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)),
                static_cast<ssize_t>(buf.size()));
    }
    ASSERT_EQ(::close(fd), 0);
  }
  static void TearDownTestSuite() { dir_.reset(); }

  /// Copy the source on a multi_thread runtime with `backend`; check the copy.
  static void copy_and_check(weft::io_backend_choice backend) {
    ASSERT_TRUE(dir_) << "the source was not written";
    const std::string dst = *dir_ / "copy";
    weft::runtime rt = weft::runtime_builder{}.io_backend(backend).build();
    const auto t0 = std::chrono::steady_clock::now();
    const weft::result<std::uint64_t> copied = rt.block_on(
        weft::fs::copy_file(*dir_ / "source", dst, {.chunk = std::size_t{1} << 20, .depth = 4}));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(copied.has_value()) << copied.error().message();
    EXPECT_EQ(copied.value(), file_size);
    RecordProperty("copy_seconds", std::to_string(took.count()));

    const int fd = ::open(dst.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::vector<std::byte> want(block), got(block);
    std::uint64_t off = 0;
    for (; off < file_size; off += block) {
      fill_pattern(off, want);
      std::size_t have = 0;
      while (have < block) {
        const ssize_t n = ::pread(fd, got.data() + have, block - have, static_cast<off_t>(off + have));
        if (n <= 0) break;
        have += static_cast<std::size_t>(n);
      }
      if (have != block || std::memcmp(want.data(), got.data(), block) != 0) break;
    }
    EXPECT_EQ(off, file_size) << "the copy differs in the 4 MiB block at offset " << off;
    std::array<std::byte, 1> extra{};
    EXPECT_EQ(::pread(fd, extra.data(), 1, static_cast<off_t>(file_size)), 0) << "the copy is longer";
    ::close(fd);
    ::unlink(dst.c_str());
  }

  static std::unique_ptr<weft_test::temp_dir> dir_;
};

std::unique_ptr<weft_test::temp_dir> FsLargeCopy::dir_;

TEST_F(FsLargeCopy, OneGibFileCopiedOnIoUringIsIdentical) {
  copy_and_check(weft::io_backend_choice::io_uring);
}

TEST_F(FsLargeCopy, OneGibFileCopiedOnTheBlockingPoolIsIdentical) {
  copy_and_check(weft::io_backend_choice::epoll);
}

}  // namespace
