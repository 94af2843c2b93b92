// fs/backend — weft::fs's primitive operations on io_uring (or a
// simulation's in-memory file system) or the blocking pool (the design:
// src/fs/backend.hpp and include/weft/fs.hpp).
//
// Each primitive is one coroutine of the shape
//   raw = driver_runs_files() ? co_await <io_awaiter with the opcode>
//                             : co_await spawn_blocking(<the system call>);
//   co_return <raw → result>;
// where raw is the kernel's convention (>= 0, or a negated errno) on both
// paths. Blocking jobs own everything they touch — a copy of the shared
// descriptor, their own buffer, their own copy of a path — because a
// cancelled await detaches them (see fs.hpp, "cancellation").
//
// A job is always made in its own statement (`auto job = spawn_blocking(...);
// co_await job;`), never inside the co_await expression: GCC 12 mishandles a
// lambda temporary with move-initialised captures inside a co_await
// expression (its captured string was destroyed twice).
#include "fs/backend.hpp"

#include <weft/detail/deadline.hpp>
#include <weft/detail/io_op.hpp>
#include <weft/error.hpp>
#include <weft/runtime.hpp>

#include "io/io_driver.hpp"
#include "io/sim_sockets.hpp"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace weft::fs {

detail::fd_owner::~fd_owner() {
  if (fd >= 0) weft::detail::close_fd(fd);  // ::close, or a simulated file's too
}

namespace detail {
namespace {

using weft::detail::io_awaiter;
using weft::detail::io_op;
using weft::detail::io_opcode;

/// As read(2) caps a transfer (and io_uring's length is 32 bits).
constexpr std::size_t max_transfer = 0x7fff'f000;

/// What the worker's I/O driver does itself. Off a worker there is neither
/// a driver nor a blocking pool to use: misuse.
weft::detail::io_capabilities driver_caps() {
  weft::detail::io_driver* io = weft::detail::current_io_driver();
  if (io == nullptr) {
    throw_error(errc::no_runtime,
                "weft::fs needs a runtime: await it in a task on a weft::runtime "
                "(runtime::block_on, weft::spawn, WEFT_MAIN), not under the standalone "
                "weft::block_on or on a blocking-pool thread");
  }
  return io->caps();
}

/// True where the worker's I/O driver runs file operations itself (io_uring,
/// a simulation's in-memory file system), false where they go to the
/// blocking pool (epoll).
bool driver_runs_files() { return driver_caps().file_ops; }

/// A system call's return as a raw result: the value, or the negated errno.
/// EINTR is retried (blocking jobs only ever see it from signal handlers).
template <class F>
std::int32_t sys(F call) noexcept {
  for (;;) {
    const auto r = call();
    if (r >= 0) return static_cast<std::int32_t>(r);
    if (errno != EINTR) return -errno;
  }
}

result<void> void_result(std::int32_t raw) noexcept {
  if (raw < 0) return weft::detail::io_error(raw);
  return {};
}

result<std::size_t> size_result(std::int32_t raw) noexcept {
  if (raw < 0) return weft::detail::io_error(raw);
  return static_cast<std::size_t>(raw);
}

std::error_code bad_path() noexcept { return std::make_error_code(std::errc::invalid_argument); }

/// An operation on no socket (handle stays null) for the io_uring path.
void prep(io_op& op, io_opcode code, int fd, void* buf, std::size_t len = 0,
          std::uint64_t offset = at_position) noexcept {
  op.code = code;
  op.fd = fd;
  op.buf = buf;
  op.len = static_cast<std::uint32_t>(len < max_transfer ? len : max_transfer);
  op.has_offset = offset != at_position;
  op.offset = op.has_offset ? offset : 0;
}

file_status to_status(const struct statx& st) noexcept {
  file_status s;
  s.size = st.stx_size;
  s.mode = st.stx_mode & 07777U;
  switch (st.stx_mode & S_IFMT) {
    case S_IFREG:
      s.type = file_type::regular;
      break;
    case S_IFDIR:
      s.type = file_type::directory;
      break;
    case S_IFLNK:
      s.type = file_type::symlink;
      break;
    default:
      s.type = file_type::other;
      break;
  }
  // system_clock's unit (nanoseconds) spans only 1677..2262: a time outside
  // it saturates at time_point::min()/max() instead of wrapping (a file from
  // 2300 must not read as 1715).
  using tp = std::chrono::system_clock::time_point;
  using dur = tp::duration;
  const dur secs = weft::detail::saturating_ceil<dur>(std::chrono::seconds(st.stx_mtime.tv_sec));
  if (secs == dur::max()) {
    s.mtime = tp::max();
  } else if (secs == dur::min()) {
    s.mtime = tp::min();
  } else {
    s.mtime = weft::detail::saturating_add(
        tp(secs), std::chrono::duration_cast<dur>(std::chrono::nanoseconds(st.stx_mtime.tv_nsec)));
  }
  return s;
}

/// The blocking path's transfer buffers, recycled. A fresh large buffer per
/// read or write would cost a page fault per page every time (allocators map
/// large blocks anew; the sanitizers map shadow memory for them too) — most of
/// a 1 GiB copy's time under TSan. Sizes are rounded up to a power of two from
/// 64 KiB; freed buffers of up to 16 MiB wait on a free list per size, under
/// one mutex, while the lists hold at most 32 MiB in all. Smaller buffers are
/// plain allocations (the allocator caches those itself).
class buffer_pool {
 public:
  static constexpr std::size_t min_pooled = std::size_t{64} << 10;
  static constexpr std::size_t max_pooled = std::size_t{16} << 20;
  static constexpr std::size_t max_kept_bytes = std::size_t{32} << 20;

  /// Capacity of a buffer of at least `len` bytes.
  static std::size_t capacity_for(std::size_t len) noexcept {
    return len < min_pooled || len > max_pooled ? len : std::bit_ceil(len);
  }

  std::byte* take(std::size_t capacity) {
    if (pooled(capacity)) {
      std::lock_guard lock(mu_);
      std::vector<std::byte*>& list = free_[slot(capacity)];
      if (!list.empty()) {
        std::byte* p = list.back();
        list.pop_back();
        kept_bytes_ -= capacity;
        return p;
      }
    }
    return new std::byte[capacity];
  }

  void give_back(std::byte* p, std::size_t capacity) noexcept {
    if (pooled(capacity)) {
      std::lock_guard lock(mu_);
      std::vector<std::byte*>& list = free_[slot(capacity)];
      if (kept_bytes_ + capacity <= max_kept_bytes && list.size() < list.capacity()) {
        list.push_back(p);
        kept_bytes_ += capacity;
        return;
      }
    }
    delete[] p;
  }

  buffer_pool() {
    for (std::size_t i = 0; i < free_.size(); ++i) free_[i].reserve(max_kept_bytes / (min_pooled << i));
  }
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

 private:
  static bool pooled(std::size_t capacity) noexcept {
    return capacity >= min_pooled && capacity <= max_pooled && std::has_single_bit(capacity);
  }
  static std::size_t slot(std::size_t capacity) noexcept {
    return static_cast<std::size_t>(std::countr_zero(capacity) - std::countr_zero(min_pooled));
  }

  std::mutex mu_;
  std::array<std::vector<std::byte*>, 9> free_;  // 64 KiB … 16 MiB; never reallocated
  std::size_t kept_bytes_ = 0;                   // guarded by mu_
};

buffer_pool& pool() {
  // Never destroyed: a blocking job detached from its awaiter may give its
  // buffer back while the process exits.
  static buffer_pool& p = *new buffer_pool;
  return p;
}

struct pool_deleter {
  std::size_t capacity = 0;
  void operator()(std::byte* p) const noexcept { pool().give_back(p, capacity); }
};
using job_buffer = std::unique_ptr<std::byte[], pool_deleter>;

/// A buffer of at least `len` bytes for a blocking job (contents unspecified).
job_buffer take_buffer(std::size_t len) {
  const std::size_t capacity = buffer_pool::capacity_for(len);
  return job_buffer(pool().take(capacity), pool_deleter{capacity});
}

/// A blocking read's outcome: the raw result and the job's own buffer.
struct read_outcome {
  std::int32_t raw = 0;
  job_buffer data;
};

/// A blocking statx's outcome.
struct stat_outcome {
  std::int32_t raw = 0;
  struct statx st {};
};

}  // namespace

bool has_nul(const std::string& path) noexcept { return path.find('\0') != std::string::npos; }

task<result<shared_fd>> open(std::string path, int flags, unsigned mode) {
  if (has_nul(path)) co_return bad_path();
  flags |= O_CLOEXEC;
  if (driver_runs_files()) {
    // Allocated first, so a descriptor is never left without an owner.
    auto owner = std::make_shared<fd_owner>();
    io_awaiter a;
    prep(a.op(), io_opcode::openat, AT_FDCWD, path.data());
    a.op().flags = flags;
    a.op().mode = mode;
    const std::int32_t raw = co_await a;
    if (raw < 0) co_return weft::detail::io_error(raw);
    owner->fd = raw;
    co_return shared_fd(std::move(owner));
  }
  // The descriptor is owned inside the job's result: a detached job's
  // result is destroyed with its cell, which closes it.
  auto job = weft::spawn_blocking([path = std::move(path), flags, mode]() -> result<shared_fd> {
    auto owner = std::make_shared<fd_owner>();
    const std::int32_t raw = sys([&] { return ::openat(AT_FDCWD, path.c_str(), flags, mode); });
    if (raw < 0) return weft::detail::io_error(raw);
    owner->fd = raw;
    return shared_fd(std::move(owner));
  });
  co_return co_await job;
}

task<result<std::size_t>> read(shared_fd fd, std::span<std::byte> buf, std::uint64_t offset) {
  const std::size_t len = buf.size() < max_transfer ? buf.size() : max_transfer;
  if (driver_runs_files()) {
    io_awaiter a;
    prep(a.op(), io_opcode::read, fd->fd, buf.data(), len, offset);
    co_return size_result(co_await a);
  }
  auto job = weft::spawn_blocking([fd = std::move(fd), len, offset]() {
    read_outcome r{0, take_buffer(len)};
    r.raw = sys([&] {
      return offset == at_position ? ::read(fd->fd, r.data.get(), len)
                                   : ::pread(fd->fd, r.data.get(), len, static_cast<off_t>(offset));
    });
    return r;
  });
  read_outcome out = co_await job;
  // The job has finished: copying into the caller's buffer is safe now.
  if (out.raw > 0) std::memcpy(buf.data(), out.data.get(), static_cast<std::size_t>(out.raw));
  co_return size_result(out.raw);
}

task<result<std::size_t>> write(shared_fd fd, std::span<const std::byte> buf,
                                std::uint64_t offset) {
  const std::size_t len = buf.size() < max_transfer ? buf.size() : max_transfer;
  if (driver_runs_files()) {
    io_awaiter a;
    prep(a.op(), io_opcode::write, fd->fd, const_cast<std::byte*>(buf.data()), len, offset);
    co_return size_result(co_await a);
  }
  // The job writes its own copy: it may outlive the caller's buffer.
  job_buffer copy = take_buffer(len);
  if (len > 0) std::memcpy(copy.get(), buf.data(), len);
  auto job = weft::spawn_blocking([fd = std::move(fd), copy = std::move(copy), len, offset]() {
    return sys([&] {
      return offset == at_position
                 ? ::write(fd->fd, copy.get(), len)
                 : ::pwrite(fd->fd, copy.get(), len, static_cast<off_t>(offset));
    });
  });
  co_return size_result(co_await job);
}

task<result<void>> sync(shared_fd fd, bool data_only) {
  if (driver_runs_files()) {
    io_awaiter a;
    prep(a.op(), io_opcode::fsync, fd->fd, nullptr);
    a.op().flags = data_only ? IORING_FSYNC_DATASYNC : 0;
    co_return void_result(co_await a);
  }
  auto job = weft::spawn_blocking([fd = std::move(fd), data_only]() {
    return sys([&] { return data_only ? ::fdatasync(fd->fd) : ::fsync(fd->fd); });
  });
  co_return void_result(co_await job);
}

namespace {

/// statx of `fd` (not null) or of `path` with `flags`, as the kernel gives it.
task<result<struct statx>> raw_stat(shared_fd fd, std::string path, int flags) {
  if (has_nul(path)) co_return bad_path();
  const int dirfd = fd ? fd->fd : AT_FDCWD;
  if (fd) flags |= AT_EMPTY_PATH;
  if (driver_runs_files()) {
    struct statx st {};
    io_awaiter a;
    prep(a.op(), io_opcode::statx, dirfd, &st);
    a.op().addr = path.data();
    a.op().flags = flags;
    a.op().mode = STATX_BASIC_STATS;
    const std::int32_t raw = co_await a;
    if (raw < 0) co_return weft::detail::io_error(raw);
    co_return st;
  }
  auto job = weft::spawn_blocking([fd = std::move(fd), path = std::move(path), dirfd, flags]() {
    stat_outcome r;
    r.raw = sys([&] { return ::statx(dirfd, path.c_str(), flags, STATX_BASIC_STATS, &r.st); });
    return r;
  });
  stat_outcome out = co_await job;
  if (out.raw < 0) co_return weft::detail::io_error(out.raw);
  co_return out.st;
}

}  // namespace

task<result<file_status>> stat(shared_fd fd, std::string path, int flags) {
  result<struct statx> st = co_await raw_stat(std::move(fd), std::move(path), flags);
  if (!st) co_return st.error();
  co_return to_status(*st);
}

task<result<file_info>> info(shared_fd fd) {
  result<struct statx> st = co_await raw_stat(std::move(fd), std::string(), 0);
  if (!st) co_return st.error();
  co_return file_info{to_status(*st), file_id{st->stx_dev_major, st->stx_dev_minor, st->stx_ino}};
}

task<result<void>> truncate(shared_fd fd, std::uint64_t length) {
  const bool as_op = driver_caps().truncate_op;  // the same misuse check as every other operation
  if (length > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
    co_return std::make_error_code(std::errc::invalid_argument);
  }
  if (as_op) {
    io_awaiter a;
    prep(a.op(), io_opcode::ftruncate, fd->fd, nullptr);
    a.op().offset = length;
    a.op().has_offset = true;
    co_return void_result(co_await a);
  }
  auto job = weft::spawn_blocking([fd = std::move(fd), length]() {
    return sys([&] { return ::ftruncate(fd->fd, static_cast<off_t>(length)); });
  });
  co_return void_result(co_await job);
}

namespace {

/// The system call of a path operation on the blocking pool: (path, second
/// path or "", flags, mode) → 0 or -1 with errno.
using path_call = int (*)(const char*, const char*, int, unsigned);

/// unlinkat, renameat or mkdirat: `path` (and `path2` for renameat) with
/// `flags` and `mode`, as the opcode `code` or as `call` on the blocking pool.
task<result<void>> path_op(io_opcode code, std::string path, std::string path2, int flags,
                           unsigned mode, path_call call) {
  if (has_nul(path) || has_nul(path2)) co_return bad_path();
  if (driver_runs_files()) {
    io_awaiter a;
    prep(a.op(), code, AT_FDCWD, path.data());
    a.op().addr = path2.data();
    a.op().flags = flags;
    a.op().mode = mode;
    co_return void_result(co_await a);
  }
  auto job = weft::spawn_blocking(
      [path = std::move(path), path2 = std::move(path2), flags, mode, call]() {
        return sys([&] { return call(path.c_str(), path2.c_str(), flags, mode); });
      });
  co_return void_result(co_await job);
}

}  // namespace

task<result<void>> unlink(std::string path, int flags) {
  return path_op(io_opcode::unlinkat, std::move(path), {}, flags, 0,
                 [](const char* p, const char*, int f, unsigned) { return ::unlinkat(AT_FDCWD, p, f); });
}

task<result<void>> rename(std::string from, std::string to) {
  return path_op(io_opcode::renameat, std::move(from), std::move(to), 0, 0,
                 [](const char* p, const char* to_path, int, unsigned) {
                   return ::renameat(AT_FDCWD, p, AT_FDCWD, to_path);
                 });
}

task<result<void>> mkdir(std::string path, unsigned mode) {
  return path_op(io_opcode::mkdirat, std::move(path), {}, 0, mode,
                 [](const char* p, const char*, int, unsigned m) {
                   return ::mkdirat(AT_FDCWD, p, static_cast<mode_t>(m));
                 });
}

}  // namespace detail
}  // namespace weft::fs
