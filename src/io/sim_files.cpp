// sim_files — a simulation's in-memory file system (the design: sim_files.hpp).
#include "io/sim_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

namespace weft::detail {

struct sim_inode {
  bool directory = false;
  bool linked = true;  // named by a directory (regular files: nlink 1, else 0)
  unsigned mode = 0;
  std::uint64_t ino = 0;
  std::int64_t mtime_ns = 0;  // virtual time, since the clock's epoch
  std::vector<std::byte> data;
  std::map<std::string, std::shared_ptr<sim_inode>, std::less<>> entries;  // directory
  std::weak_ptr<sim_inode> parent;  // directory: the one naming it (none for /)
};

namespace {

/// The largest file (a write past it fails EFBIG, a truncate too): the
/// bytes are in memory.
constexpr std::uint64_t max_file_size = std::uint64_t{1} << 30;
constexpr std::size_t max_path = 4095;  // PATH_MAX less its NUL
constexpr std::size_t max_name = 255;   // NAME_MAX
/// A file's modification time on the wall clock: 2026-01-01T00:00:00Z plus
/// the virtual time, so the same seed stamps the same times.
constexpr std::int64_t wall_base_s = 1767225600;

/// A last component that names an entry ("" is the root, "." and ".."
/// name a directory by where it is).
bool normal(const std::string& name) noexcept {
  return !name.empty() && name != "." && name != "..";
}

/// Closes a placeholder descriptor unless released.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

sim_file_system::sim_file_system(const simulated_files& options, std::uint64_t seed)
    : options_(options), rng_(seed ^ 0x66696c6573797321ull) {
  root_ = make_inode(true, 0755, time_point{});
  auto tmp = make_inode(true, 01777, time_point{});
  tmp->parent = root_;
  root_->entries.emplace("tmp", std::move(tmp));
}

sim_file_system::~sim_file_system() {
  // Directories hold their children and children their parent only weakly:
  // nothing cycles. Descriptors still open are closed by their owners
  // (close_fd then finds the network, which keeps this alive until then).
}

std::int64_t sim_file_system::stamp(time_point t) const noexcept {
  // Virtual time since the runtime's clock started: the same seed, the
  // same stamps (the steady clock's own epoch is the host's uptime).
  if (t <= origin_) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - origin_).count();
}

std::uint64_t sim_file_system::next_random() noexcept {
  // splitmix64, as the simulation's own generator.
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool sim_file_system::chance(unsigned per_mille) noexcept {
  return per_mille != 0 && next_random() % 1000 < per_mille;
}

std::chrono::nanoseconds sim_file_system::latency() {
  const auto max = static_cast<std::uint64_t>(options_.max_latency.count());
  return std::chrono::nanoseconds(max == 0 ? 0 : next_random() % (max + 1));
}

std::shared_ptr<sim_inode> sim_file_system::make_inode(bool directory, unsigned mode,
                                                       time_point now) {
  auto n = std::make_shared<sim_inode>();
  n->directory = directory;
  n->mode = mode & 07777U;
  n->ino = next_ino_++;
  n->mtime_ns = stamp(now);
  return n;
}

bool sim_file_system::handles(io_opcode code) noexcept {
  switch (code) {
    case io_opcode::openat:
    case io_opcode::read:
    case io_opcode::write:
    case io_opcode::fsync:
    case io_opcode::statx:
    case io_opcode::unlinkat:
    case io_opcode::renameat:
    case io_opcode::mkdirat:
    case io_opcode::ftruncate:
      return true;
    default:
      return false;
  }
}

sim_file_system::open_file* sim_file_system::file_of(int fd) noexcept {
  auto it = open_.find(fd);
  return it == open_.end() ? nullptr : &it->second;
}

void sim_file_system::close(int fd) noexcept {
  open_.erase(fd);
}

// ---- paths -----------------------------------------------------------------------

std::int32_t sim_file_system::resolve(std::string_view path,
                                      std::shared_ptr<sim_inode>& out) const {
  if (path.empty()) return -ENOENT;
  if (path.size() > max_path) return -ENAMETOOLONG;
  std::shared_ptr<sim_inode> cur = root_;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    const std::string_view name = path.substr(i, j - i);
    if (!cur->directory) return -ENOTDIR;
    if (name.size() > max_name) return -ENAMETOOLONG;
    if (name == "..") {
      if (auto p = cur->parent.lock()) cur = std::move(p);
    } else if (name != ".") {
      auto it = cur->entries.find(name);
      if (it == cur->entries.end()) return -ENOENT;
      cur = it->second;
    }
    i = j;
  }
  if (path.back() == '/' && !cur->directory) return -ENOTDIR;
  out = std::move(cur);
  return 0;
}

std::int32_t sim_file_system::resolve_parent(std::string_view path, parent_and_name& out) const {
  if (path.empty()) return -ENOENT;
  if (path.size() > max_path) return -ENAMETOOLONG;
  std::size_t end = path.size();
  while (end > 0 && path[end - 1] == '/') --end;
  out.trailing_slash = end < path.size();
  if (end == 0) {  // "/", "//": the root itself
    out.dir = root_;
    out.name.clear();
    return 0;
  }
  const std::size_t slash = path.rfind('/', end - 1);
  const std::size_t start = slash == std::string_view::npos ? 0 : slash + 1;
  const std::string_view name = path.substr(start, end - start);
  std::shared_ptr<sim_inode> dir = root_;
  if (start > 0) {
    if (const std::int32_t r = resolve(path.substr(0, start), dir); r < 0) return r;
  }
  if (!dir->directory) return -ENOTDIR;
  if (name.size() > max_name) return -ENAMETOOLONG;
  out.dir = std::move(dir);
  out.name = std::string(name);
  return 0;
}

// ---- operations ------------------------------------------------------------------

std::int32_t sim_file_system::perform(io_op& op, time_point now) {
  try {
    switch (op.code) {
      case io_opcode::openat:
        return do_open(static_cast<const char*>(op.buf), op.flags, op.mode, now);
      case io_opcode::read:
        return do_read(op);
      case io_opcode::write:
        return do_write(op, now);
      case io_opcode::fsync: {
        if (open_file* f = file_of(op.fd); f == nullptr || f->path_only) return -EBADF;
        if (chance(options_.io_error_per_mille)) {
          ++stats_.io_errors;
          return -EIO;
        }
        return 0;
      }
      case io_opcode::statx:
        return do_statx(op, now);
      case io_opcode::unlinkat:
        return do_unlink(static_cast<const char*>(op.buf), op.flags, now);
      case io_opcode::renameat:
        return do_rename(static_cast<const char*>(op.buf), static_cast<const char*>(op.addr), now);
      case io_opcode::mkdirat:
        return do_mkdir(static_cast<const char*>(op.buf), op.mode, now);
      case io_opcode::ftruncate:
        return do_truncate(op, now);
      default:
        return -EOPNOTSUPP;
    }
  } catch (const std::bad_alloc&) {
    return -ENOMEM;  // a name or a file's bytes: the operation did nothing
  }
}

std::int32_t sim_file_system::do_open(const char* path, int flags, unsigned mode, time_point now) {
  // O_PATH keeps only O_DIRECTORY and O_NOFOLLOW (build_open_flags): a
  // descriptor that names the file but cannot read, write or sync it.
  const bool path_only = (flags & O_PATH) != 0;
  if (path_only) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  const int access = flags & O_ACCMODE;
  if (access == O_ACCMODE) return -EINVAL;
  if ((flags & O_CREAT) != 0 && (flags & O_DIRECTORY) != 0) return -EINVAL;  // as Linux >= 6.4
  parent_and_name pn;
  if (const std::int32_t r = resolve_parent(path, pn); r < 0) return r;
  // open_last_lookups: O_CREAT with a trailing slash is EISDIR, whatever exists.
  if ((flags & O_CREAT) != 0 && pn.trailing_slash && normal(pn.name)) return -EISDIR;
  std::shared_ptr<sim_inode> node;
  if (!normal(pn.name)) {  // "/", ".", "..": a directory that exists
    if (const std::int32_t r = resolve(path, node); r < 0) return r;
  } else if (auto it = pn.dir->entries.find(pn.name); it != pn.dir->entries.end()) {
    node = it->second;
  }
  if (node && (flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) return -EEXIST;
  // O_TRUNC asks for write access too (may_open), even with O_RDONLY.
  if (node && node->directory && (access != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0)) {
    return -EISDIR;
  }
  if (node && !node->directory && ((flags & O_DIRECTORY) != 0 || pn.trailing_slash)) {
    return -ENOTDIR;
  }
  if (!node) {
    if ((flags & O_CREAT) == 0) return -ENOENT;
    if (pn.trailing_slash) return -EISDIR;
    if ((flags & O_DIRECTORY) != 0) return -EINVAL;
  }
  // The descriptor first, as the kernel takes one before it creates: a
  // process out of descriptors gets EMFILE and no new file.
  fd_guard fd{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) return -errno;
  if (!node) {
    node = make_inode(false, mode, now);
    pn.dir->entries.emplace(pn.name, node);
    pn.dir->mtime_ns = stamp(now);
  } else if ((flags & O_TRUNC) != 0 && !node->directory) {  // O_RDONLY|O_TRUNC truncates too
    node->data.clear();
    node->data.shrink_to_fit();
    node->mtime_ns = stamp(now);
  }
  open_.emplace(fd.fd, open_file{std::move(node), access, (flags & O_APPEND) != 0, 0, path_only});
  const int out = fd.fd;
  fd.fd = -1;
  return out;
}

std::int32_t sim_file_system::do_read(io_op& op) {
  open_file* f = file_of(op.fd);
  if (f == nullptr || f->access == O_WRONLY || f->path_only) return -EBADF;
  if (f->inode->directory) return -EISDIR;
  if (op.has_offset && op.offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
    return -EINVAL;
  }
  if (chance(options_.io_error_per_mille)) {
    ++stats_.io_errors;
    return -EIO;
  }
  const std::uint64_t at = op.has_offset ? op.offset : f->position;
  const std::vector<std::byte>& data = f->inode->data;
  const std::size_t avail = at >= data.size() ? 0 : static_cast<std::size_t>(data.size() - at);
  std::size_t n = std::min<std::size_t>(avail, op.len);
  if (n > 1 && chance(options_.short_io_per_mille)) {
    n = 1 + static_cast<std::size_t>(next_random() % (n - 1));
    ++stats_.short_ios;
  }
  if (n > 0) std::memcpy(op.buf, data.data() + at, n);
  if (!op.has_offset) f->position += n;
  return static_cast<std::int32_t>(n);
}

std::int32_t sim_file_system::do_write(io_op& op, time_point now) {
  open_file* f = file_of(op.fd);
  if (f == nullptr || f->access == O_RDONLY || f->path_only) return -EBADF;
  if (op.has_offset && op.offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
    return -EINVAL;
  }
  if (chance(options_.io_error_per_mille)) {
    ++stats_.io_errors;
    return -EIO;
  }
  std::vector<std::byte>& data = f->inode->data;
  // O_APPEND writes at the end even at an offset, as Linux's pwrite does.
  const std::uint64_t at = f->append ? data.size() : op.has_offset ? op.offset : f->position;
  if (op.len == 0) return 0;
  if (at >= max_file_size) return -EFBIG;
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(op.len, max_file_size - at));
  if (n > 1 && chance(options_.short_io_per_mille)) {
    n = 1 + static_cast<std::size_t>(next_random() % (n - 1));
    ++stats_.short_ios;
  }
  if (at + n > data.size()) data.resize(static_cast<std::size_t>(at + n));  // zeros in a gap
  std::memcpy(data.data() + at, op.buf, n);
  f->inode->mtime_ns = stamp(now);
  if (!op.has_offset) f->position = at + n;  // pwrite never moves it, O_APPEND or not
  return static_cast<std::int32_t>(n);
}

std::int32_t sim_file_system::do_statx(io_op& op, time_point /*now*/) {
  const char* path = static_cast<const char*>(op.addr);
  std::shared_ptr<sim_inode> node;
  if ((op.flags & AT_EMPTY_PATH) != 0 && (path == nullptr || *path == '\0')) {
    open_file* f = file_of(op.fd);
    if (f == nullptr) return -EBADF;
    node = f->inode;
  } else {
    if (path == nullptr) return -EFAULT;
    if (op.fd != AT_FDCWD && *path != '/') return -EOPNOTSUPP;  // weft::fs never asks this
    if (const std::int32_t r = resolve(path, node); r < 0) return r;
  }
  auto* st = static_cast<struct statx*>(op.buf);
  *st = {};
  st->stx_mask = STATX_BASIC_STATS;
  st->stx_blksize = 4096;
  st->stx_mode = static_cast<std::uint16_t>((node->directory ? S_IFDIR : S_IFREG) | node->mode);
  st->stx_ino = node->ino;
  st->stx_dev_major = 0;
  st->stx_dev_minor = 0x53;  // every simulated file is on one device
  if (node->directory) {
    std::uint32_t subdirs = 0;
    for (const auto& [name, child] : node->entries) subdirs += child->directory ? 1 : 0;
    st->stx_nlink = 2 + subdirs;
    st->stx_size = 4096;
  } else {
    st->stx_nlink = node->linked ? 1 : 0;
    st->stx_size = node->data.size();
  }
  st->stx_blocks = (st->stx_size + 511) / 512;
  const std::int64_t ns = node->mtime_ns;
  st->stx_mtime.tv_sec = wall_base_s + ns / 1'000'000'000;
  st->stx_mtime.tv_nsec = static_cast<std::uint32_t>(ns % 1'000'000'000);
  st->stx_atime = st->stx_ctime = st->stx_btime = st->stx_mtime;
  return 0;
}

std::int32_t sim_file_system::do_unlink(const char* path, int flags, time_point now) {
  if ((flags & ~AT_REMOVEDIR) != 0) return -EINVAL;
  const bool rmdir = (flags & AT_REMOVEDIR) != 0;
  parent_and_name pn;
  if (const std::int32_t r = resolve_parent(path, pn); r < 0) return r;
  if (!normal(pn.name)) {  // as Linux: "/" is busy, "." invalid, ".." not empty
    if (!rmdir) return -EISDIR;
    return pn.name.empty() ? -EBUSY : pn.name == "." ? -EINVAL : -ENOTEMPTY;
  }
  auto it = pn.dir->entries.find(pn.name);
  if (it == pn.dir->entries.end()) return -ENOENT;
  sim_inode& node = *it->second;
  if (rmdir) {
    if (!node.directory) return -ENOTDIR;
    if (!node.entries.empty()) return -ENOTEMPTY;
  } else {
    if (node.directory) return -EISDIR;
    if (pn.trailing_slash) return -ENOTDIR;
  }
  node.linked = false;  // open descriptors keep the inode
  pn.dir->entries.erase(it);
  pn.dir->mtime_ns = stamp(now);
  return 0;
}

std::int32_t sim_file_system::do_rename(const char* from, const char* to, time_point now) {
  parent_and_name a;
  parent_and_name b;
  if (const std::int32_t r = resolve_parent(from, a); r < 0) return r;
  if (const std::int32_t r = resolve_parent(to, b); r < 0) return r;
  if (!normal(a.name) || !normal(b.name)) return -EBUSY;  // "/", ".", "..": as Linux
  auto src_it = a.dir->entries.find(a.name);
  if (src_it == a.dir->entries.end()) return -ENOENT;
  std::shared_ptr<sim_inode> src = src_it->second;
  if (!src->directory && (a.trailing_slash || b.trailing_slash)) return -ENOTDIR;
  std::shared_ptr<sim_inode> dst;
  if (auto it = b.dir->entries.find(b.name); it != b.dir->entries.end()) dst = it->second;
  if (dst == src) return 0;  // the same file: nothing happens
  if (src->directory) {
    // Not into itself: no directory on the target's path may be the source.
    for (std::shared_ptr<sim_inode> d = b.dir; d; d = d->parent.lock()) {
      if (d == src) return -EINVAL;
    }
  }
  if (dst && dst->directory) {
    // The target an ancestor of the source (do_renameat2's trap): ENOTEMPTY.
    for (std::shared_ptr<sim_inode> d = a.dir; d; d = d->parent.lock()) {
      if (d == dst) return -ENOTEMPTY;
    }
  }
  if (dst) {
    if (src->directory && !dst->directory) return -ENOTDIR;
    if (!src->directory && dst->directory) return -EISDIR;
    if (dst->directory && !dst->entries.empty()) return -ENOTEMPTY;
  }
  // The new name first (it may allocate), then the old one goes: a failure
  // leaves the tree as it was.
  b.dir->entries.insert_or_assign(b.name, src);
  a.dir->entries.erase(src_it);
  if (dst) dst->linked = false;
  if (src->directory) src->parent = b.dir;
  a.dir->mtime_ns = b.dir->mtime_ns = stamp(now);
  return 0;
}

std::int32_t sim_file_system::do_mkdir(const char* path, unsigned mode, time_point now) {
  parent_and_name pn;
  if (const std::int32_t r = resolve_parent(path, pn); r < 0) return r;
  if (!normal(pn.name) || pn.dir->entries.contains(pn.name)) return -EEXIST;
  auto dir = make_inode(true, mode & 01777U, now);  // mkdir drops S_ISUID and S_ISGID
  dir->parent = pn.dir;
  pn.dir->entries.emplace(pn.name, std::move(dir));
  pn.dir->mtime_ns = stamp(now);
  return 0;
}

std::int32_t sim_file_system::do_truncate(io_op& op, time_point now) {
  open_file* f = file_of(op.fd);
  if (f == nullptr || f->path_only) return -EBADF;
  if (f->access == O_RDONLY || f->inode->directory) return -EINVAL;  // as ftruncate(2)
  if (op.offset > max_file_size) return -EFBIG;
  f->inode->data.resize(static_cast<std::size_t>(op.offset));
  f->inode->mtime_ns = stamp(now);
  return 0;
}

}  // namespace weft::detail
