// weft/fs.hpp — weft::fs: files and file-system operations for weft tasks.
//
//   weft::fs::file f = (co_await weft::fs::file::create("/tmp/out")).value();
//   (co_await f.write_all_at(bytes, 0)).value();
//   (co_await f.fsync()).value();
//   std::vector<std::byte> back = (co_await weft::fs::read_file("/tmp/out")).value();
//
// Design
// ------
// Regular files are always "ready" to epoll, so they cannot be waited for the
// way sockets are; a plain read(2) of a cold file blocks its thread. So every
// call picks its backend when it runs, on the worker it runs on:
//   - io_uring worker: the operation is an io_uring opcode (READ/WRITE with an
//     offset, FSYNC, OPENAT, STATX, UNLINKAT, RENAMEAT, MKDIRAT) on that
//     worker's ring, awaited like a socket operation — no thread hop; the
//     buffer is the caller's, handed to the kernel directly.
//   - epoll worker: the plain system call (pread, pwrite, openat, statx,
//     fsync, unlinkat, renameat, mkdirat) runs on the runtime's blocking pool
//     (weft::spawn_blocking) and the task awaits the job. The job works on a
//     buffer it owns (a read copies into the caller's buffer after the job
//     has finished; a write copies the caller's bytes into the job first), so
//     a job that outlives its awaiter never touches the caller's memory.
//   - simulation runtime (runtime_flavor::simulation): the operation is one
//     of the runtime's in-memory file system (weft::simulated_files), which
//     starts with / and /tmp and never touches the disk; it takes effect
//     after a seeded latency on virtual time, with seeded short reads and
//     writes and EIO if asked. A storage engine's logic can so run under
//     many seeds.
// A regular-file read or write never runs synchronously on an async worker.
// Results are identical on both backends: weft::result<T>, errors as
// std::error_code in std::system_category() (compare them with std::errc:
// std::errc::no_such_file_or_directory, std::errc::file_exists, ...), and
// weft::errc::operation_canceled for an io_uring operation that was
// cancelled. A path holding a NUL character fails with
// std::errc::invalid_argument without a system call.
//
// The descriptor of a weft::fs::file is shared (reference counted) with the
// operations in flight on it: a blocking-pool job that outlives its awaiter
// (see cancellation) keeps the descriptor open until it finishes, so it can
// never act on an unrelated file that reused the number. close() and the
// destructor therefore close the descriptor when the last user lets go.
//
// For every awaitable here (all are weft::task<result<T>>; await each one
// once, in a task of a weft::runtime):
// - completion: when the operation has finished: the kernel's completion
//   (io_uring), or the blocking job's return (epoll). A short read or write is
//   normal for read_at/write_at/read/write; read_at returns 0 at end of file.
// - cancellation: destroying the awaiting coroutine (weft::timeout losing the
//   race, runtime shutdown) cancels the await.
//     io_uring: the operation is cancelled in the kernel and the coroutine is
//     destroyed only after the kernel has given the buffer back; the
//     operation may still have happened (a write written, bytes read); an
//     open that succeeded regardless has its descriptor closed.
//     blocking pool: a running system call cannot be interrupted, so the job
//     is detached: it still completes — a cancelled write is still written,
//     a cancelled read still reads (into the job's own buffer, then dropped),
//     a cancelled open still opens (and the job closes the descriptor) — but
//     never touches the caller's buffers or frame. A job still queued when
//     the runtime shuts down is destroyed without running.
//     simulation: an operation not yet performed never happens.
// - resumes on: a worker of the awaiting task's runtime (on a current_thread
//   runtime, the thread inside block_on); never on a blocking-pool thread.
// - runtime shutdown: the awaiting task is destroyed like any other (see
//   cancellation); running blocking jobs are waited for up to the shutdown
//   timeout. An await that observes shutdown throws std::system_error
//   (weft::errc::runtime_shut_down or weft::errc::task_destroyed, as
//   join_handle does).
// - allocation: one coroutine frame per call (weft's frame allocator; the
//   io_uring operation and any struct statx live in it). The blocking path
//   adds one blocking-pool cell, a copy of a path, and for read/write a
//   buffer of the transfer's size (from 64 KiB to 16 MiB recycled through a
//   process-wide pool that keeps at most 32 MiB). open: the shared
//   descriptor. read_to_end/read_file: the result; write_all*: one frame per
//   write it takes.
// - needs a runtime: awaiting one outside a weft::runtime's task (e.g. under
//   the standalone weft::block_on) throws std::system_error(errc::no_runtime).
// Buffers (spans) passed in must stay valid until the await completes; paths
// are taken by value and live in the operation's frame (or the job).
// Calling an operation on a closed or moved-from file throws
// std::system_error(std::errc::bad_file_descriptor).
#pragma once

#include <weft/result.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weft::fs {

namespace detail {
/// A descriptor, closed by the destructor. Shared between a file and the
/// blocking-pool jobs working on it.
struct fd_owner {
  int fd = -1;
  fd_owner() noexcept = default;
  fd_owner(const fd_owner&) = delete;
  fd_owner& operator=(const fd_owner&) = delete;
  ~fd_owner();
};
using shared_fd = std::shared_ptr<const fd_owner>;
}  // namespace detail

/// How file::open opens a file — the flags of open(2), named as Rust's
/// std::fs::OpenOptions names them. Use designated initializers:
///   file::open(path, {.write = true, .create = true, .truncate = true})
/// At least one of read, write, append must be set. create, truncate and
/// create_new need write or append; truncate cannot go with append (unless
/// create_new). A combination outside these rules throws
/// std::system_error(std::errc::invalid_argument) naming the rule.
/// Every file is opened close-on-exec.
struct open_options {
  bool read = false;
  bool write = false;
  /// Every write goes to the end of the file (O_APPEND); implies write.
  /// (write_at's offset is then ignored by Linux: see pwrite(2).)
  bool append = false;
  /// Create the file if it does not exist (O_CREAT).
  bool create = false;
  /// Truncate an existing file to length 0 (O_TRUNC).
  bool truncate = false;
  /// Exclusive create: fail with std::errc::file_exists if the path exists
  /// (O_CREAT | O_EXCL; `create` and `truncate` are then ignored).
  bool create_new = false;
  /// Permission bits of a created file (before the umask).
  unsigned mode = 0644;
  /// More open(2) flags, or-ed in (O_NOFOLLOW, O_DIRECT, O_NOATIME, ...).
  int custom_flags = 0;
};

enum class file_type { regular, directory, symlink, other };

/// What statx(2) says about a file.
struct file_status {
  std::uint64_t size = 0;
  file_type type = file_type::other;
  /// Permission bits (st_mode & 07777: rwx for user/group/other, setuid,
  /// setgid, sticky).
  unsigned mode = 0;
  /// Last modification time. system_clock::time_point holds nanoseconds
  /// since 1970 and so spans about 1677-09-21 to 2262-04-11: a file time
  /// outside that range saturates at time_point::min() (earlier) or
  /// time_point::max() (later), never wraps.
  std::chrono::system_clock::time_point mtime{};
};

/// An open file: a move-only owner of a descriptor (see the note on sharing
/// above). Positional operations (read_at, write_at) may run concurrently
/// from several tasks on one file.
class file {
 public:
  file() noexcept = default;
  file(file&&) noexcept = default;
  file& operator=(file&&) noexcept = default;
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  ~file() = default;

  /// Open `path` as `options` say. Fails with the errno of openat(2):
  /// std::errc::no_such_file_or_directory, permission_denied, file_exists
  /// (create_new), is_a_directory (writing a directory), ...
  static task<result<file>> open(std::string path, open_options options);
  /// Open for reading.
  static task<result<file>> open_read(std::string path);
  /// Open for writing, creating the file or truncating it (mode 0644).
  static task<result<file>> create(std::string path);

  /// Read up to buf.size() bytes at `offset` (pread); the file position is
  /// not used or changed. Returns the bytes read: fewer than asked at the end
  /// of the file, 0 at or past it. An offset past INT64_MAX (for any *_at)
  /// fails with std::errc::invalid_argument.
  task<result<std::size_t>> read_at(std::span<std::byte> buf, std::uint64_t offset) const;
  /// Write up to buf.size() bytes at `offset` (pwrite); returns how many went.
  task<result<std::size_t>> write_at(std::span<const std::byte> buf,
                                     std::uint64_t offset) const;
  /// Write all of buf at `offset`, however many writes it takes (the file
  /// grows as needed). Fails with the first write's error.
  task<result<void>> write_all_at(std::span<const std::byte> buf, std::uint64_t offset) const;

  /// read(2)/write(2) at the file position, which they advance: for FIFOs,
  /// character devices, and appending. A read of a FIFO waits for a writer's
  /// bytes (cancel it with weft::timeout). Do not run two of these on one
  /// file at once.
  task<result<std::size_t>> read(std::span<std::byte> buf) const;
  task<result<std::size_t>> write(std::span<const std::byte> buf) const;
  /// write() until all of buf is written.
  task<result<void>> write_all(std::span<const std::byte> buf) const;

  /// The whole file, from offset 0 until a read returns 0 (the file position
  /// is not used). The size from statx sizes the buffer, so a file that does
  /// not change is read with one read plus one small read that sees the end.
  /// A file that cannot seek (a FIFO, a pipe, a socket, a terminal) is read
  /// with read(2) from its position until end of file (for a FIFO: every
  /// writer has closed it) — the same on both backends.
  /// A file larger than the machine's physical memory (by its statx size, or
  /// by what the reads return) fails with std::errc::file_too_large before
  /// any such buffer is allocated; memory that cannot be had fails with
  /// std::errc::not_enough_memory. Neither is thrown.
  task<result<std::vector<std::byte>>> read_to_end() const;

  /// fsync(2): the file's data and metadata reach the device.
  task<result<void>> fsync() const;
  /// fdatasync(2): the data, and the metadata needed to read it back.
  task<result<void>> fdatasync() const;
  /// statx(2) of the open file.
  task<result<file_status>> stat() const;

  /// Let go of the descriptor now (the destructor does it too). It is closed
  /// at once unless a detached blocking-pool job still uses it; errors of
  /// close(2) are not reported — call fsync() first to learn of write errors.
  void close() noexcept { fd_.reset(); }
  [[nodiscard]] bool is_open() const noexcept { return fd_ != nullptr; }
  /// The descriptor (still owned by this object); -1 when closed.
  [[nodiscard]] int native_handle() const noexcept { return fd_ ? fd_->fd : -1; }

 private:
  explicit file(detail::shared_fd fd) noexcept : fd_(std::move(fd)) {}
  const detail::shared_fd& checked(const char* operation) const;

  detail::shared_fd fd_;
};

/// The whole contents of the file at `path` (as file::read_to_end: a FIFO
/// is read until every writer has closed it; opening it waits for a writer).
task<result<std::vector<std::byte>>> read_file(std::string path);
/// The same as a string (bytes as they are; no encoding is checked). The
/// errors of read_file, and not_enough_memory for the string.
task<result<std::string>> read_to_string(std::string path);
/// Create or truncate `path` (mode 0644) and write all of `bytes` to it.
/// `bytes` must stay valid until the await completes.
task<result<void>> write_file(std::string path, std::span<const std::byte> bytes);
task<result<void>> write_file(std::string path, std::string_view text);

/// Remove a file, symlink, FIFO or socket (unlinkat(2)); a directory fails
/// with std::errc::is_a_directory — use remove_dir.
task<result<void>> remove(std::string path);
/// Remove an empty directory (unlinkat with AT_REMOVEDIR); a non-empty one
/// fails with std::errc::directory_not_empty.
task<result<void>> remove_dir(std::string path);
/// Rename `from` to `to`, replacing `to` if it is a file (renameat(2)).
task<result<void>> rename(std::string from, std::string to);
/// Create a directory (mkdirat(2)); std::errc::file_exists if `path` exists.
task<result<void>> create_dir(std::string path, unsigned mode = 0755);
/// statx(2) of `path`, following symlinks.
task<result<file_status>> stat(std::string path);
/// statx(2) of `path` itself: a symlink is reported as file_type::symlink.
task<result<file_status>> symlink_status(std::string path);

/// How copy_file cuts the work.
struct copy_options {
  std::size_t chunk = std::size_t{1} << 20;  // bytes per read/write
  std::size_t depth = 4;                     // chunks in flight at once
};
/// Copy `from` to `to` (created or truncated, mode 0644) with `depth` tasks
/// copying every depth-th chunk through read_at/write_all_at, then fsync
/// `to`. Returns the bytes copied; the first error otherwise (the other
/// tasks stop at their next chunk). Memory: depth × chunk.
/// - `to` naming the same file as `from` (the same path, a hard link, a
///   symlink to it: the same device and inode) fails with
///   weft::errc::same_file before anything is truncated; both stay as they
///   were. `to` is truncated only after this check.
/// - length: the copy goes on until a read of `from` returns 0 (end of file);
///   the size from statx is only a hint. A file whose size statx does not
///   tell (/proc files) is copied whole, one that grows while it is copied
///   is copied to the end it has when the last read returns 0, and one that
///   shrinks is copied to its new end (a file changed while it is copied is
///   copied as each chunk was when it was read: no snapshot). A FIFO or
///   other source that cannot pread is read with read(2). A directory fails
///   with std::errc::is_a_directory before `to` is opened.
/// - on failure: a `to` that this call created is removed again (by its
///   path, after every copy task has stopped); an existing `to` that was
///   truncated keeps whatever was copied before the error.
/// - cancellation: destroying the awaiting coroutine leaves the copy tasks
///   running to the end of their current chunk (they hold the files); the
///   destination is then left as it is (not removed).
/// - resumes on: a worker of the awaiting task's runtime.
task<result<std::uint64_t>> copy_file(std::string from, std::string to, copy_options opt = {});

}  // namespace weft::fs
