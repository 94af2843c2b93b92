// weft::fs on a simulation runtime, the edges: open(2)'s flag combinations
// (O_CREAT with a trailing slash, O_CREAT|O_DIRECTORY, O_RDONLY|O_TRUNC,
// O_PATH), pwrite on an O_APPEND descriptor, a rename onto an ancestor,
// long names, mkdir's mode bits, deterministic modification times, no
// descriptor left after a shutdown with operations pending, the 1 GiB limit.
// These came from an outside review of the in-memory file system (each was
// a difference from the kernel); EdgeCasesAreTheKernels runs its script on a
// real runtime in a scratch directory and on the simulation and compares
// every outcome, so the kernel is the oracle.
#include <weft/fs.hpp>
#include <weft/runtime.hpp>
#include <weft/simulation.hpp>
#include <weft/time.hpp>

#include "fs/backend.hpp"
#include "fs/temp_dir.hpp"
#include "support/open_descriptors.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace {

using weft_test::open_descriptors;
using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::fs::file;

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

template <class T>
std::error_code error_of(const result<T>& r) {
  return r.has_value() ? std::error_code{} : r.error();
}

using weft::fs::detail::shared_fd;

template <class T>
std::string outcome2(const result<T>& r) {
  if (r.has_value()) return "ok";
  const std::error_code ec = r.error();
  return ec.category() == std::system_category()
             ? std::string("errno ") + std::to_string(ec.value()) + " (" + ec.message() + ")"
             : ec.category().name() + std::string(" ") + std::to_string(ec.value());
}

/// Raw open(2) through weft::fs's primitive (any flags, as custom_flags allows).
task<result<shared_fd>> raw_open(std::string path, int flags, unsigned mode = 0644) {
  co_return co_await weft::fs::detail::open(std::move(path), flags, mode);
}

task<std::string> size_of(std::string path) {
  result<weft::fs::file_status> st = co_await weft::fs::stat(path);
  co_return st ? std::to_string(st->size) : outcome2(st);
}

/// Edge cases of open/rename/write flags, under `root` (exists, empty).
task<std::vector<std::string>> review_script(std::string root) {
  std::vector<std::string> log;
  auto put = [&log](const char* step, const std::string& what) {
    log.push_back(std::string(step) + ": " + what);
  };
  const std::string f = root + "/f";
  const std::string d = root + "/d";
  (void)co_await weft::fs::write_file(f, "hello");
  (void)co_await weft::fs::create_dir(d);

  // open(2) with O_CREAT and a trailing slash: EISDIR whatever exists
  // (fs/namei.c open_last_lookups: "trailing slashes?" -> -EISDIR).
  put("O_CREAT on 'file/'", outcome2(co_await raw_open(f + "/", O_WRONLY | O_CREAT)));
  put("O_CREAT|O_EXCL on 'file/'",
      outcome2(co_await raw_open(f + "/", O_WRONLY | O_CREAT | O_EXCL)));
  put("O_CREAT|O_EXCL on 'dir/'",
      outcome2(co_await raw_open(d + "/", O_RDONLY | O_CREAT | O_EXCL)));
  put("write_file onto 'file/'", outcome2(co_await weft::fs::write_file(f + "/", "x")));
  // O_CREAT|O_DIRECTORY: EINVAL since Linux 6.4, whatever exists.
  put("O_CREAT|O_DIRECTORY on a dir",
      outcome2(co_await raw_open(d, O_RDONLY | O_CREAT | O_DIRECTORY)));
  put("O_CREAT|O_DIRECTORY on a file",
      outcome2(co_await raw_open(f, O_RDONLY | O_CREAT | O_DIRECTORY)));
  // O_RDONLY|O_TRUNC: Linux truncates (and a directory is EISDIR).
  put("O_RDONLY|O_TRUNC on a file", outcome2(co_await raw_open(f, O_RDONLY | O_TRUNC)));
  put("size after O_RDONLY|O_TRUNC", co_await size_of(f));
  (void)co_await weft::fs::write_file(f, "hello");
  put("O_RDONLY|O_TRUNC on a dir", outcome2(co_await raw_open(d, O_RDONLY | O_TRUNC)));
  // O_APPEND: pwrite appends but leaves the file position alone.
  {
    result<file> g =
        co_await file::open(root + "/g", {.read = true, .append = true, .create = true});
    put("open g read+append", outcome2(g));
    if (g) {
      put("write_at abc at 0", outcome2(co_await g->write_all_at(bytes("abc"), 0)));
      std::array<std::byte, 16> buf{};
      result<std::size_t> n = co_await g->read(buf);
      put("read() at the position after pwrite", n ? std::to_string(*n) : outcome2(n));
    }
  }
  // rename a file over its own parent directory: the target is an ancestor
  // of the source -> ENOTEMPTY (do_renameat2: new_dentry == trap).
  (void)co_await weft::fs::write_file(d + "/in", "x");
  put("rename d/in over d", outcome2(co_await weft::fs::rename(d + "/in", d)));
  put("rename d over d/in", outcome2(co_await weft::fs::rename(d, d + "/in")));
  put("rename a file to 'x/'", outcome2(co_await weft::fs::rename(f, root + "/x/")));
  put("unlink 'dir/'", outcome2(co_await weft::fs::remove(d + "/")));
  put("unlink 'file/'", outcome2(co_await weft::fs::remove(f + "/")));
  put("mkdir 'file/'", outcome2(co_await weft::fs::create_dir(f + "/")));
  put("rmdir 'dir/in/..'", outcome2(co_await weft::fs::remove_dir(d + "/in/..")));
  // O_PATH: a descriptor that cannot be read.
  {
    result<file> p = co_await file::open(f, {.read = true, .custom_flags = O_PATH});
    put("open O_PATH", outcome2(p));
    if (p) {
      std::array<std::byte, 16> buf{};
      put("read an O_PATH descriptor", outcome2(co_await p->read_at(buf, 0)));
    }
  }
  // ftruncate (copy_file's primitive): a read-only descriptor is EINVAL;
  // growing leaves zeros.
  {
    result<shared_fd> ro = co_await raw_open(f, O_RDONLY);
    if (ro) put("ftruncate read-only", outcome2(co_await weft::fs::detail::truncate(*ro, 1)));
    result<shared_fd> rw = co_await raw_open(f, O_RDWR);
    if (rw) {
      put("ftruncate grow to 8", outcome2(co_await weft::fs::detail::truncate(*rw, 8)));
      std::array<std::byte, 16> buf{};
      result<std::size_t> n = co_await weft::fs::detail::read(*rw, buf, 0);
      put("read after grow",
          n ? std::to_string(*n) + " last " + std::to_string(static_cast<int>(buf[7]))
            : outcome2(n));
      put("ftruncate shrink to 2", outcome2(co_await weft::fs::detail::truncate(*rw, 2)));
      put("size after shrink", co_await size_of(f));
    }
  }
  {
    // Long names: the kernel walks the directories first (ENOTDIR, ENOENT),
    // and meets the long last name only at its lookup.
    const std::string longname(300, 'n');
    put("stat file/<300 chars>", outcome2(co_await weft::fs::stat(root + "/d2/" + longname)));
    (void)co_await weft::fs::write_file(root + "/f3", "x");
    put("stat f3/<300 chars>", outcome2(co_await weft::fs::stat(root + "/f3/" + longname)));
    put("create f3/<300 chars>",
        outcome2(co_await weft::fs::write_file(root + "/f3/" + longname, "x")));
    put("create missing/<300 chars>",
        outcome2(co_await weft::fs::write_file(root + "/missing/" + longname, "x")));
    put("mkdir missing/<300 chars>",
        outcome2(co_await weft::fs::create_dir(root + "/missing/" + longname)));
  }
  {
    // mkdir keeps only rwx and the sticky bit (S_ISUID/S_ISGID dropped).
    put("mkdir 07755", outcome2(co_await weft::fs::create_dir(root + "/suid", 07755)));
    result<weft::fs::file_status> st = co_await weft::fs::stat(root + "/suid");
    put("mode of the 07755 dir", st ? std::to_string(st->mode) : outcome2(st));
  }
  co_return log;
}

TEST(SimulatedFilesEdges, EdgeCasesAreTheKernels) {
  weft_test::temp_dir dir;
  weft::runtime real = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  const std::vector<std::string> expected = real.block_on(review_script(dir.path()));
  weft::runtime sim = weft::runtime_builder{}.flavor(weft::runtime_flavor::simulation).build();
  const std::vector<std::string> got = sim.block_on([]() -> task<std::vector<std::string>> {
    (void)co_await weft::fs::create_dir("/tmp/case");
    co_return co_await review_script("/tmp/case");
  }());
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i], expected[i]) << "step " << i << " (simulation vs kernel)";
  }
}

// The same seed stamps the same modification times: they count from the
// virtual clock's start, not from the host's steady clock (whose epoch is
// its uptime), so two runs built at different real times agree.
TEST(SimulatedFilesEdges, TheSameSeedStampsTheSameMtime) {
  auto run = [] {
    weft::runtime rt =
        weft::runtime_builder{}.flavor(weft::runtime_flavor::simulation).rng_seed(7).build();
    return rt.block_on([]() -> task<std::int64_t> {
      (void)co_await weft::fs::write_file("/tmp/t", "x");
      const auto st = (co_await weft::fs::stat("/tmp/t")).value();
      co_return std::chrono::duration_cast<std::chrono::nanoseconds>(st.mtime.time_since_epoch())
          .count();
    }());
  };
  const std::int64_t a = run();
  const std::int64_t b = run();  // built later in real time
  EXPECT_EQ(a, b) << "seed 7 stamped different mtimes in two runs";
  // And it should be 2026-01-01 plus a few hundred microseconds of virtual time.
  const std::int64_t base = std::int64_t{1767225600} * 1'000'000'000;
  EXPECT_LT(a - base, std::int64_t{1'000'000'000})
      << "mtime is " << (a - base) / 1e9 << " s after 2026-01-01";
}

// Runtime shutdown with file operations still pending (their latency not
// yet passed) and files held open by sleeping tasks, and timeouts that
// cancel opens: no descriptor outlives the runtimes.
TEST(SimulatedFilesEdges, ShutdownAndCancelledOpensLeakNoDescriptor) {
  const int outside = open_descriptors();
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    weft::runtime rt = weft::runtime_builder{}
                           .flavor(weft::runtime_flavor::simulation)
                           .rng_seed(seed)
                           .simulated_files({.max_latency = 1s})
                           .build();
    rt.block_on([]() -> task<> {
      for (int i = 0; i < 10; ++i) {
        (void)weft::spawn(
            [](int i) -> task<> {
              result<file> f = co_await file::create("/tmp/s" + std::to_string(i));
              if (f) (void)co_await f->write_all_at(bytes("x"), 0);
              co_await weft::sleep(1h);  // holds the file until shutdown
            },
            i);
      }
      for (int i = 0; i < 10; ++i) {
        (void)co_await weft::timeout(300ms, file::create("/tmp/t" + std::to_string(i)));
      }
      co_await weft::sleep(400ms);  // some spawned opens done, some pending
    }());
  }
  EXPECT_EQ(open_descriptors(), outside);
}

// The 1 GiB limit is EFBIG (writes and truncation), and a short write's
// count is exactly what reached the file.
TEST(SimulatedFilesEdges, EfbigAtOneGibAndShortCountsAreExact) {
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::simulation)
                         .simulated_files({.short_io_per_mille = 1000})
                         .build();
  rt.block_on([]() -> task<> {
    result<shared_fd> fd = co_await raw_open("/tmp/big", O_RDWR | O_CREAT);
    if (!fd) {
      ADD_FAILURE() << "open /tmp/big: " << fd.error().message();
      co_return;
    }
    EXPECT_EQ(error_of(co_await weft::fs::detail::write(*fd, bytes("x"), std::uint64_t{1} << 30)),
              std::errc::file_too_large);
    EXPECT_EQ(error_of(co_await weft::fs::detail::truncate(*fd, (std::uint64_t{1} << 30) + 1)),
              std::errc::file_too_large);
    for (std::uint64_t off : {0ull, 100ull, 5000ull}) {
      result<std::size_t> n = co_await weft::fs::detail::write(*fd, bytes("0123456789"), off);
      EXPECT_TRUE(n && *n >= 1 && *n < 10);
      const std::uint64_t size = (co_await weft::fs::stat("/tmp/big")).value().size;
      EXPECT_EQ(size, off + *n);
      (void)co_await weft::fs::detail::truncate(*fd, 0);
    }
  }());
}

}  // namespace
