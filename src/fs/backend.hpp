// fs/backend — the primitive file operations of weft::fs, each choosing its
// backend when it runs (see include/weft/fs.hpp, "Design"):
//   io_uring worker → the opcode, awaited with weft::detail::io_awaiter;
//   otherwise       → the system call on the blocking pool.
// Both paths end in the same conversion (raw result → result<T>), so the
// results and error codes cannot differ between backends. file.cpp and
// ops.cpp build everything else (read_to_end, write_all, read_file, ...) from
// these, so they never need to know the backend.
#pragma once

#include <weft/fs.hpp>

#include <cstdint>
#include <span>
#include <string>

namespace weft::fs::detail {

/// The offset meaning "at the file position" (read(2)/write(2), not pread/pwrite).
inline constexpr std::uint64_t at_position = ~std::uint64_t{0};

/// True if `path` holds a NUL (the kernel would see a shorter path).
bool has_nul(const std::string& path) noexcept;

/// openat(AT_FDCWD, path, flags | O_CLOEXEC, mode).
task<result<shared_fd>> open(std::string path, int flags, unsigned mode);
/// pread/pwrite at `offset`, or read/write at the file position (at_position).
task<result<std::size_t>> read(shared_fd fd, std::span<std::byte> buf, std::uint64_t offset);
task<result<std::size_t>> write(shared_fd fd, std::span<const std::byte> buf,
                                std::uint64_t offset);
/// fsync, or fdatasync when `data_only`.
task<result<void>> sync(shared_fd fd, bool data_only);
/// statx of the open file `fd`, or (fd null) of `path` with `flags`
/// (0 or AT_SYMLINK_NOFOLLOW).
task<result<file_status>> stat(shared_fd fd, std::string path, int flags);
/// Which file a descriptor names: two descriptors of one file (by the same
/// path, a hard link or a symlink) have equal ids.
struct file_id {
  std::uint32_t dev_major = 0;
  std::uint32_t dev_minor = 0;
  std::uint64_t ino = 0;
  friend bool operator==(const file_id&, const file_id&) = default;
};
/// statx of the open file `fd`: its status and its id.
struct file_info {
  file_status status;
  file_id id;
};
task<result<file_info>> info(shared_fd fd);
/// ftruncate(fd, length). An operation of the I/O driver where it has one
/// (io_driver_caps::truncate_op: the simulation's file system); otherwise
/// on the blocking pool (liburing 2.3 has no truncate opcode), where it may
/// block on a large file.
task<result<void>> truncate(shared_fd fd, std::uint64_t length);
/// unlinkat(AT_FDCWD, path, flags) — flags 0 or AT_REMOVEDIR.
task<result<void>> unlink(std::string path, int flags);
task<result<void>> rename(std::string from, std::string to);
task<result<void>> mkdir(std::string path, unsigned mode);

}  // namespace weft::fs::detail
