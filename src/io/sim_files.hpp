// sim_files — a simulation's in-memory file system: what weft::fs reads and
// writes on a simulation runtime (weft::simulated_files), so that a storage
// engine's logic runs under many seeds without touching the disk.
//
// Design
// ------
// One sim_file_system per simulation runtime, inside its I/O driver
// (sim_network, which owns the lock, the virtual clock and the event queue):
// a file operation reaches it as an io_op on the driver, like a socket's, and
// is performed when its seeded latency has passed (sim_network schedules a
// `file` event; the simulation's network actor delivers it) — so two tasks'
// operations on one file interleave in an order the seed picks. This file
// is the data and the rules: it never blocks, allocates only for the files'
// bytes and names, and is called under the network's lock.
//
// The tree: inodes (a regular file's bytes, a directory's entries by name),
// starting with the directories / and /tmp. A path resolves from / (a
// relative one too), "." and ".." as in POSIX, "a/" only if a is a directory.
// An open file is a descriptor the network keeps open on /dev/null, so its
// number is the process's and no other descriptor can take it while the file
// is open (sim_sockets.hpp's table records it, and close_fd tells the file
// system before the number is freed); behind it, the inode, the access mode
// and the file position. An unlinked inode lives while a descriptor holds it,
// as on a kernel. Each misuse draws the kernel's errno (ENOENT, ENOTDIR,
// EISDIR, EEXIST, ENOTEMPTY, EBADF, EINVAL); a rename replaces a file or an
// empty directory atomically, as rename(2).
//
// Not modelled: permissions (every caller may do everything), symlinks and
// hard links, the umask (a new file's mode is the one given), timestamps
// other than the modification time (virtual time), what a crash loses (an
// fsync succeeds or fails by seed, but the bytes are always there), sparse
// files (a write or a truncate far past the end allocates the gap as zeros:
// a file is at most 1 GiB, EFBIG past it, and a 1 GiB file holds 1 GiB of
// memory). Modification times count from the virtual clock's start, so the
// same seed stamps the same times.
//
// Seeded faults (this file system's own generator, seeded from the runtime's
// rng_seed, so they never shift the network's draws): the latency of each
// operation; a short read or write (at least one byte); EIO from a read, a
// write or an fsync.
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/detail/runtime_api.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace weft::detail {

struct sim_inode;

class sim_file_system {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  sim_file_system(const simulated_files& options, std::uint64_t seed);
  ~sim_file_system();
  sim_file_system(const sim_file_system&) = delete;
  sim_file_system& operator=(const sim_file_system&) = delete;

  /// True for the opcodes this file system performs (a file op: no socket).
  [[nodiscard]] static bool handles(io_opcode code) noexcept;
  /// Perform `op` at virtual time `now`: >= 0 as the kernel returns (an
  /// openat's new descriptor, not yet in sim_sockets' table: the caller
  /// registers it), or a negated errno.
  std::int32_t perform(io_op& op, time_point now);
  /// How long the next operation takes (seeded, 0…max_latency).
  std::chrono::nanoseconds latency();
  /// The virtual clock's start: modification times count from it.
  void set_origin(time_point origin) noexcept { origin_ = origin; }
  /// Forget descriptor `fd` (before its number is closed).
  void close(int fd) noexcept;
  /// How many descriptors are open (the stall report).
  [[nodiscard]] std::size_t open_count() const noexcept { return open_.size(); }

  struct stats {
    std::uint64_t short_ios = 0, io_errors = 0;
  };
  [[nodiscard]] stats counters() const noexcept { return stats_; }

 private:
  struct open_file {
    std::shared_ptr<sim_inode> inode;
    int access = 0;  // O_RDONLY, O_WRONLY or O_RDWR
    bool append = false;
    std::uint64_t position = 0;
    bool path_only = false;  // O_PATH
  };
  // A path split into its directory (resolved) and its last name.
  struct parent_and_name {
    std::shared_ptr<sim_inode> dir;
    std::string name;  // the last component as written ("" for "/")
    bool trailing_slash = false;
  };

  std::int32_t resolve(std::string_view path, std::shared_ptr<sim_inode>& out) const;
  std::int32_t resolve_parent(std::string_view path, parent_and_name& out) const;
  std::int32_t do_open(const char* path, int flags, unsigned mode, time_point now);
  std::int32_t do_read(io_op& op);
  std::int32_t do_write(io_op& op, time_point now);
  std::int32_t do_statx(io_op& op, time_point now);
  std::int32_t do_unlink(const char* path, int flags, time_point now);
  std::int32_t do_rename(const char* from, const char* to, time_point now);
  std::int32_t do_mkdir(const char* path, unsigned mode, time_point now);
  std::int32_t do_truncate(io_op& op, time_point now);
  open_file* file_of(int fd) noexcept;
  std::shared_ptr<sim_inode> make_inode(bool directory, unsigned mode, time_point now);
  bool chance(unsigned per_mille) noexcept;
  std::int64_t stamp(time_point t) const noexcept;
  std::uint64_t next_random() noexcept;

  const simulated_files options_;
  std::uint64_t rng_;
  std::uint64_t next_ino_ = 2;
  time_point origin_{};
  std::shared_ptr<sim_inode> root_;
  std::unordered_map<int, open_file> open_;
  stats stats_;
};

}  // namespace weft::detail
