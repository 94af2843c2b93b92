// weft::fs on a simulation runtime: the in-memory file system
// (src/io/sim_files.hpp). One script of operations runs on a real runtime in
// a scratch directory and on the simulation, and every outcome (value or
// errno) must be the same; then the seeded parts: latency that interleaves
// two tasks' writes in an order the seed picks (and the same seed, the same
// order), short reads and writes, EIO, a cancelled operation that never
// happens, and descriptors that are the process's own and freed on close.
// Faults are forced by setting their probability (per mille) to 1000 or 0,
// not waited for.
#include <weft/fs.hpp>
#include <weft/runtime.hpp>
#include <weft/simulation.hpp>
#include <weft/time.hpp>

#include "fs/temp_dir.hpp"
#include "io/sim_network.hpp"
#include "support/open_descriptors.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using weft_test::open_descriptors;
using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::fs::file;
using weft::fs::file_type;

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::vector<std::byte> pattern(std::size_t n, unsigned salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + salt) ^ (i >> 9));
  return v;
}

/// The error of `r`; none if it holds a value.
template <class T>
std::error_code error_of(const result<T>& r) {
  return r.has_value() ? std::error_code{} : r.error();
}

/// "ok", or the error's errno name, for a log both runtimes must agree on.
template <class T>
std::string outcome(const result<T>& r) {
  if (r.has_value()) return "ok";
  const std::error_code ec = r.error();
  return ec.category() == std::system_category()
             ? "errno " + std::to_string(ec.value())
             : ec.category().name() + std::string(" ") + std::to_string(ec.value());
}

weft::detail::sim_network& this_network() {
  weft::detail::io_driver* d = weft::detail::current_io_driver();
  if (d == nullptr || !d->caps().simulated) throw std::logic_error("not on a simulation");
  return static_cast<weft::detail::sim_network&>(*d);
}

/// Every kind of operation and misuse weft::fs has, under `root` (which
/// exists and is empty). Returns one line per step.
task<std::vector<std::string>> script(std::string root) {
  std::vector<std::string> log;
  auto put = [&log](const char* step, const std::string& what) {
    log.push_back(std::string(step) + ": " + what);
  };
  const std::string d = root + "/d";
  put("mkdir d", outcome(co_await weft::fs::create_dir(d)));
  put("mkdir d again", outcome(co_await weft::fs::create_dir(d)));
  put("mkdir under a missing parent", outcome(co_await weft::fs::create_dir(root + "/no/x")));
  put("write d/a", outcome(co_await weft::fs::write_file(d + "/a", "hello")));
  {
    result<std::string> s = co_await weft::fs::read_to_string(d + "/a");
    put("read d/a", s ? *s : outcome(s));
    result<weft::fs::file_status> st = co_await weft::fs::stat(d + "/a");
    put("stat d/a",
        st ? std::to_string(st->size) + " regular " + std::to_string(st->type == file_type::regular)
           : outcome(st));
    result<weft::fs::file_status> sd = co_await weft::fs::stat(d);
    put("stat d",
        sd ? "directory " + std::to_string(sd->type == file_type::directory) : outcome(sd));
  }
  put("read missing", outcome(co_await weft::fs::read_file(root + "/nope")));
  put("read through a file", outcome(co_await weft::fs::read_file(d + "/a/x")));
  put("stat with a trailing slash", outcome(co_await weft::fs::stat(d + "/a/")));
  put("stat empty path", outcome(co_await weft::fs::stat("")));
  put("open a directory to write", outcome(co_await file::open(d, {.write = true})));
  put("write_file onto a directory", outcome(co_await weft::fs::write_file(d, "x")));
  put("write_file with a trailing slash",
      outcome(co_await weft::fs::write_file(root + "/t/", "x")));
  put("read_file of a directory", outcome(co_await weft::fs::read_file(d)));
  put("remove a directory", outcome(co_await weft::fs::remove(d)));
  put("remove_dir non-empty", outcome(co_await weft::fs::remove_dir(d)));
  put("remove_dir a file", outcome(co_await weft::fs::remove_dir(d + "/a")));
  put("remove missing", outcome(co_await weft::fs::remove(root + "/nope")));
  put("rename a to b", outcome(co_await weft::fs::rename(d + "/a", d + "/b")));
  put("stat the old name", outcome(co_await weft::fs::stat(d + "/a")));
  {
    result<std::string> s = co_await weft::fs::read_to_string(d + "/b");
    put("read b", s ? *s : outcome(s));
  }
  put("rename missing", outcome(co_await weft::fs::rename(d + "/a", d + "/c")));
  put("rename into itself", outcome(co_await weft::fs::rename(d, d + "/sub")));
  put("mkdir e", outcome(co_await weft::fs::create_dir(root + "/e")));
  put("write e/x", outcome(co_await weft::fs::write_file(root + "/e/x", "1")));
  put("rename a file over a directory", outcome(co_await weft::fs::rename(d + "/b", root + "/e")));
  put("rename a directory over a file", outcome(co_await weft::fs::rename(root + "/e", d + "/b")));
  put("rename a directory over a non-empty one",
      outcome(co_await weft::fs::rename(root + "/e", d)));
  put("mkdir f", outcome(co_await weft::fs::create_dir(root + "/f")));
  put("rename a directory over an empty one",
      outcome(co_await weft::fs::rename(root + "/e", root + "/f")));
  {
    result<std::string> s = co_await weft::fs::read_to_string(root + "/f/x");
    put("read f/x", s ? *s : outcome(s));
  }
  put("rename a file over a file", outcome(co_await weft::fs::rename(root + "/f/x", d + "/b")));
  {
    result<std::string> s = co_await weft::fs::read_to_string(d + "/b");
    put("read b replaced", s ? *s : outcome(s));
  }
  put("create_new", outcome(co_await file::open(root + "/n", {.write = true, .create_new = true})));
  put("create_new again",
      outcome(co_await file::open(root + "/n", {.write = true, .create_new = true})));
  put("open missing without create", outcome(co_await file::open(root + "/m", {.write = true})));
  {
    // Appending: write_at's offset is ignored (O_APPEND), as Linux does.
    result<file> f = co_await file::open(root + "/n", {.append = true});
    put("open to append", outcome(f));
    if (f) {
      put("append ab", outcome(co_await f->write_all(bytes("ab"))));
      put("append zz at 0", outcome(co_await f->write_all_at(bytes("zz"), 0)));
    }
    result<std::string> s = co_await weft::fs::read_to_string(root + "/n");
    put("read n", s ? *s : outcome(s));
  }
  {
    // Positional writes past the end leave zeros; reads past it return 0.
    result<file> f =
        co_await file::open(root + "/p", {.read = true, .write = true, .create = true});
    put("open p", outcome(f));
    if (f) {
      put("write at 10", outcome(co_await f->write_all_at(bytes("xy"), 10)));
      std::array<std::byte, 16> buf{};
      result<std::size_t> n = co_await f->read_at(buf, 0);
      put("read p", n ? std::to_string(*n) + " bytes, first " +
                            std::to_string(static_cast<int>(buf[0])) + ", at 10 " +
                            std::to_string(static_cast<char>(buf[10]))
                      : outcome(n));
      result<std::size_t> past = co_await f->read_at(buf, 100);
      put("read past the end", past ? std::to_string(*past) : outcome(past));
      // The file position: write() then read() continue from it.
      put("write at the position", outcome(co_await f->write_all(bytes("abc"))));
      result<std::size_t> m = co_await f->read(buf);
      put("read at the position", m ? std::to_string(*m) : outcome(m));
      result<weft::fs::file_status> st = co_await f->stat();
      put("stat p by its descriptor", st ? std::to_string(st->size) : outcome(st));
      put("fsync p", outcome(co_await f->fsync()));
      put("fdatasync p", outcome(co_await f->fdatasync()));
    }
  }
  {
    result<file> r = co_await file::open_read(d + "/b");
    put("open_read b", outcome(r));
    if (r) put("write to a read-only file", outcome(co_await r->write(bytes("x"))));
    result<file> w = co_await file::open(root + "/w", {.write = true, .create = true});
    std::array<std::byte, 4> buf{};
    if (w) put("read from a write-only file", outcome(co_await w->read(buf)));
  }
  {
    // An unlinked file stays readable through its descriptor.
    result<file> f = co_await file::open_read(d + "/b");
    put("remove b while open", outcome(co_await weft::fs::remove(d + "/b")));
    if (f) {
      result<std::vector<std::byte>> all = co_await f->read_to_end();
      put("read the removed file", all ? std::to_string(all->size()) : outcome(all));
    }
    put("stat removed b", outcome(co_await weft::fs::stat(d + "/b")));
  }
  put("write c", outcome(co_await weft::fs::write_file(root + "/c", "copy me")));
  {
    result<std::uint64_t> n = co_await weft::fs::copy_file(root + "/c", root + "/c2");
    put("copy c", n ? std::to_string(*n) : outcome(n));
    result<std::string> s = co_await weft::fs::read_to_string(root + "/c2");
    put("read c2", s ? *s : outcome(s));
    put("copy onto itself", outcome(co_await weft::fs::copy_file(root + "/c", root + "/./c")));
    result<std::string> still = co_await weft::fs::read_to_string(root + "/c");
    put("read c after", still ? *still : outcome(still));
    put("copy a directory", outcome(co_await weft::fs::copy_file(d, root + "/c3")));
    put("stat c3", outcome(co_await weft::fs::stat(root + "/c3")));
  }
  put("dot-dot", outcome(co_await weft::fs::stat(d + "/../c")));
  put("remove_dir d/.", outcome(co_await weft::fs::remove_dir(d + "/.")));
  put("remove_dir an empty d", outcome(co_await weft::fs::remove_dir(d)));
  co_return log;
}

TEST(SimulatedFiles, EveryOutcomeIsTheKernels) {
  // The same script on a real runtime in a scratch directory, and on a
  // simulation under /tmp/case: the same values, the same errnos.
  weft_test::temp_dir dir;
  weft::runtime real = weft::runtime_builder{}.flavor(weft::runtime_flavor::current_thread).build();
  const std::vector<std::string> expected = real.block_on(script(dir.path()));
  ASSERT_GT(expected.size(), 60u);

  std::vector<std::string> got;
  auto failure = weft::simulate({.seeds = 20}, [&](weft::runtime&) -> task<> {
    (void)co_await weft::fs::create_dir("/tmp/case");
    got = co_await script("/tmp/case");
    if (got != expected) throw std::runtime_error("the simulated outcomes differ");
  });
  EXPECT_FALSE(failure) << failure->what;
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "step " << i;
}

TEST(SimulatedFiles, StartWithRootAndTmpAndNothingOfTheRealDisk) {
  weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::simulation).build();
  EXPECT_EQ(rt.io_backend(), weft::io_backend::simulated);
  rt.block_on([]() -> task<> {
    result<weft::fs::file_status> root = co_await weft::fs::stat("/");
    EXPECT_TRUE(root && root->type == file_type::directory);
    result<weft::fs::file_status> tmp = co_await weft::fs::stat("/tmp");
    EXPECT_TRUE(tmp && tmp->type == file_type::directory);
    EXPECT_EQ(error_of(co_await weft::fs::stat("/etc/passwd")),
              std::errc::no_such_file_or_directory);
    // A relative path resolves from /; a new file has the mode it was given.
    EXPECT_TRUE(co_await weft::fs::write_file("rel", "r"));
    result<weft::fs::file_status> rel = co_await weft::fs::stat("/rel");
    EXPECT_TRUE(rel && rel->size == 1 && rel->mode == 0644);
    EXPECT_TRUE(co_await weft::fs::create_dir("/tmp/x", 0700));
    result<weft::fs::file_status> x = co_await weft::fs::stat("/tmp/x");
    EXPECT_TRUE(x && x->mode == 0700);
  }());
  // Nothing reached the disk.
  struct stat st {};
  EXPECT_NE(::stat("/rel", &st), 0);
}

// Two tasks append to one file, each writing its letter five times. With a
// seeded latency per operation, each seed picks an interleaving; the same
// seed picks the same one again.
TEST(SimulatedFiles, TheSeedOrdersConcurrentOperationsAndReplays) {
  auto run = [](std::uint64_t seed) {
    weft::runtime rt = weft::runtime_builder{}
                           .flavor(weft::runtime_flavor::simulation)
                           .rng_seed(seed)
                           .simulated_files({.max_latency = 1ms})
                           .build();
    return rt.block_on([]() -> task<std::string> {
      file f = (co_await file::open("/tmp/log", {.append = true, .create = true})).value();
      // Positional writes (which may run concurrently) at 0: O_APPEND puts
      // each at the end.
      auto writer = [&f](char c) -> task<void> {
        for (int i = 0; i < 5; ++i)
          (void)co_await f.write_all_at(std::as_bytes(std::span(&c, 1)), 0);
      };
      auto a = weft::spawn(writer, 'A');
      auto b = weft::spawn(writer, 'B');
      co_await a;
      co_await b;
      co_return (co_await weft::fs::read_to_string("/tmp/log")).value();
    }());
  };
  std::set<std::string> orders;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const std::string s = run(seed);
    EXPECT_EQ(s.size(), 10u);
    EXPECT_EQ(std::count(s.begin(), s.end(), 'A'), 5);
    EXPECT_EQ(run(seed), s) << "seed " << seed << " did not replay";
    orders.insert(s);
  }
  EXPECT_GE(orders.size(), 3u) << "the seeds did not vary the interleaving";
}

TEST(SimulatedFiles, ShortReadsAndWritesLoseNothing) {
  weft::detail::sim_file_system::stats total;
  auto failure = weft::simulate(
      {.seeds = 10, .files = {.short_io_per_mille = 500}}, [&](weft::runtime&) -> task<> {
        const std::vector<std::byte> out = pattern(200'000, 3);
        (co_await weft::fs::write_file("/tmp/big", out)).value();
        std::vector<std::byte> back = (co_await weft::fs::read_file("/tmp/big")).value();
        if (back != out) throw std::runtime_error("bytes changed through short I/O");
        (co_await weft::fs::copy_file("/tmp/big", "/tmp/big2", {.chunk = 4096, .depth = 3}))
            .value();
        if ((co_await weft::fs::read_file("/tmp/big2")).value() != out) {
          throw std::runtime_error("copy_file changed the bytes through short I/O");
        }
        total.short_ios += this_network().file_counters().short_ios;
      });
  EXPECT_FALSE(failure) << failure->what;
  EXPECT_GT(total.short_ios, 100u) << "short I/O never fired";
}

TEST(SimulatedFiles, EioReachesTheCaller) {
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(weft::runtime_flavor::simulation)
                         .simulated_files({.io_error_per_mille = 1000})
                         .build();
  rt.block_on([]() -> task<> {
    // Opening and naming do not fail; every read, write and fsync does.
    file f = (co_await file::open("/tmp/e", {.read = true, .write = true, .create = true})).value();
    EXPECT_EQ(error_of(co_await f.write_all_at(bytes("x"), 0)), std::errc::io_error);
    std::array<std::byte, 4> buf{};
    EXPECT_EQ(error_of(co_await f.read_at(buf, 0)), std::errc::io_error);
    EXPECT_EQ(error_of(co_await f.fsync()), std::errc::io_error);
    EXPECT_EQ(error_of(co_await weft::fs::write_file("/tmp/w", "abc")), std::errc::io_error);
    EXPECT_TRUE(co_await weft::fs::create_dir("/tmp/dir"));
    EXPECT_GE(this_network().file_counters().io_errors, 4u);
  }());
}

// A create_dir whose latency (0-1 s, by seed) outlasts its 500 ms timeout
// is cancelled before it takes effect: the directory is there exactly when
// the operation completed.
TEST(SimulatedFiles, ACancelledOperationNeverHappens) {
  int timed_out = 0;
  int completed = 0;
  auto failure =
      weft::simulate({.seeds = 30, .files = {.max_latency = 1s}}, [&](weft::runtime&) -> task<> {
        result<result<void>> r = co_await weft::timeout(500ms, weft::fs::create_dir("/tmp/late"));
        const bool exists = (co_await weft::fs::stat("/tmp/late")).has_value();
        if (r.has_value()) {
          ++completed;
          if (!exists) throw std::runtime_error("completed, yet no directory");
        } else {
          ++timed_out;
          if (exists) throw std::runtime_error("cancelled, yet the directory was made");
        }
      });
  EXPECT_FALSE(failure) << failure->what;
  EXPECT_GT(timed_out, 0);
  EXPECT_GT(completed, 0);
  EXPECT_EQ(completed + timed_out, 30);
}

TEST(SimulatedFiles, DescriptorsAreTheProcesssAndFreedOnClose) {
  const int outside = open_descriptors();
  std::optional<file> kept;
  {
    weft::runtime rt = weft::runtime_builder{}.flavor(weft::runtime_flavor::simulation).build();
    rt.block_on([&]() -> task<> {
      const int before = open_descriptors();
      std::vector<file> files;
      for (int i = 0; i < 200; ++i) {
        files.push_back((co_await file::create("/tmp/f" + std::to_string(i))).value());
      }
      EXPECT_EQ(open_descriptors(), before + 200);
      std::set<int> numbers;
      for (const file& f : files) numbers.insert(f.native_handle());
      EXPECT_EQ(numbers.size(), 200u);
      files.clear();
      EXPECT_EQ(open_descriptors(), before);
      // Numbers are reused after a close, and name the new file only.
      file a = (co_await file::create("/tmp/a")).value();
      (void)co_await a.write_all(bytes("a"));
      a.close();
      file b = (co_await file::open_read("/tmp/f0")).value();
      std::array<std::byte, 4> buf{};
      EXPECT_EQ((co_await b.read(buf)).value(), 0u);  // f0 is empty; a's byte is not here
      kept = std::move(b);
    }());
  }
  // A file that outlives its runtime closes later without harm.
  EXPECT_EQ(open_descriptors(), outside + 1);
  kept.reset();
  EXPECT_EQ(open_descriptors(), outside);
}

TEST(SimulatedFiles, BuilderRejectsSettingsOutOfRange) {
  auto code_of = [](auto build) -> std::error_code {
    try {
      build();
    } catch (const std::system_error& e) {
      return e.code();
    }
    return {};
  };
  const auto bad = weft::errc::invalid_builder_setting;
  EXPECT_EQ(code_of([] {
              (void)weft::runtime_builder{}
                  .flavor(weft::runtime_flavor::simulation)
                  .simulated_files({.max_latency = 2s});
            }),
            bad);
  EXPECT_EQ(code_of([] {
              (void)weft::runtime_builder{}
                  .flavor(weft::runtime_flavor::simulation)
                  .simulated_files({.short_io_per_mille = 1001});
            }),
            bad);
  EXPECT_EQ(code_of([] {
              (void)weft::runtime_builder{}.simulated_files({}).build();  // not a simulation
            }),
            bad);
}

}  // namespace
