// fs/file — weft::fs::file: open options, and the file operations built on
// the primitives of fs/backend (which choose io_uring or the blocking pool).
//
// Every member copies the shared descriptor into the operation's frame, so
// an operation stays valid even if the file object is moved or closed before
// the operation is awaited.
#include <weft/fs.hpp>

#include "fs/backend.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace weft::fs {
namespace {

[[noreturn]] void bad_options(const char* rule) {
  throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                          std::string("weft::fs::open_options: ") + rule);
}

/// open(2) flags for `o`, by the rules of Rust's OpenOptions.
int open_flags(const open_options& o) {
  int flags = 0;
  if (o.append) {
    flags = (o.read ? O_RDWR : O_WRONLY) | O_APPEND;
  } else if (o.read && o.write) {
    flags = O_RDWR;
  } else if (o.write) {
    flags = O_WRONLY;
  } else if (o.read) {
    flags = O_RDONLY;
  } else {
    bad_options("set at least one of read, write, append");
  }
  if (!o.write && !o.append && (o.create || o.truncate || o.create_new)) {
    bad_options("create, truncate and create_new need write or append");
  }
  if (o.append && o.truncate && !o.create_new) {
    bad_options("truncate and append contradict each other; set one");
  }
  if (o.create_new) {
    flags |= O_CREAT | O_EXCL;
  } else {
    if (o.create) flags |= O_CREAT;
    if (o.truncate) flags |= O_TRUNC;
  }
  return flags | o.custom_flags;
}

/// An offset for pread/pwrite. They take a signed offset, so one past
/// INT64_MAX becomes 2^63, which the kernel refuses with EINVAL on both
/// paths — ~0 in particular must not reach io_uring, where it means "at the
/// file position".
std::uint64_t positional(std::uint64_t offset) noexcept {
  constexpr std::uint64_t max_offset = std::numeric_limits<std::int64_t>::max();
  return offset > max_offset ? max_offset + 1 : offset;
}

/// write_at (or write, at the file position) until all of buf is written.
task<result<void>> write_all_from(detail::shared_fd fd, std::span<const std::byte> buf,
                                  std::uint64_t offset) {
  while (!buf.empty()) {
    result<std::size_t> n = co_await detail::write(fd, buf, offset);
    if (!n) co_return n.error();
    // Only a broken file system writes nothing without saying why; do not
    // spin on it.
    if (*n == 0) co_return std::make_error_code(std::errc::io_error);
    buf = buf.subspan(*n);
    if (offset != detail::at_position) offset += *n;
  }
  co_return result<void>{};
}

/// The most bytes read_all holds: the machine's physical memory (and what a
/// vector can hold). A larger file could not be held without swapping all
/// of it out, and asking for such a buffer may abort instead of throwing
/// (under the sanitizers), so it is refused before anything is allocated.
std::uint64_t whole_file_limit() noexcept {
  std::uint64_t limit = std::vector<std::byte>().max_size();
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) {
    limit = std::min(limit, static_cast<std::uint64_t>(pages) *
                                static_cast<std::uint64_t>(page_size));
  }
  return limit;
}

/// Resize `v` to `n` bytes; false if the memory cannot be had.
bool try_resize(std::vector<std::byte>& v, std::uint64_t n) noexcept {
  try {
    v.resize(static_cast<std::size_t>(n));
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  } catch (const std::length_error&) {
    return false;
  }
}

std::error_code too_large() noexcept { return std::make_error_code(std::errc::file_too_large); }
std::error_code out_of_memory() noexcept {
  return std::make_error_code(std::errc::not_enough_memory);
}

/// The whole file: pread from offset 0 until a read returns 0, or — for a
/// file that cannot seek (FIFO, pipe, socket, terminal: pread fails with
/// ESPIPE) — read(2) at its position until end of file. io_uring ignores the
/// offset of such a file by itself; the blocking pool's pread does not, so
/// the fallback keeps both backends alike.
/// A file (by its statx size, or by what was read) larger than
/// whole_file_limit() fails with std::errc::file_too_large; memory that
/// cannot be had fails with std::errc::not_enough_memory: never an exception.
task<result<std::vector<std::byte>>> read_all_unguarded(detail::shared_fd fd) {
  constexpr std::uint64_t min_buffer = 8192;
  const std::uint64_t limit = whole_file_limit();
  std::uint64_t hint = 0;
  if (result<file_status> st = co_await detail::stat(fd, std::string(), 0)) {
    if (st->type == file_type::regular) hint = st->size;
  }
  if (hint > limit) co_return too_large();
  std::vector<std::byte> out;
  if (!try_resize(out, std::max(hint, min_buffer))) co_return out_of_memory();
  std::size_t len = 0;
  bool seekable = true;
  std::array<std::byte, 32> probe{};
  for (;;) {
    // Until full (usually: exactly the size statx gave), into the buffer;
    // then a small read looks for more before the buffer grows.
    const bool room = len < out.size();
    const std::span<std::byte> into = room ? std::span(out).subspan(len) : std::span(probe);
    result<std::size_t> n = co_await detail::read(fd, into, seekable ? len : detail::at_position);
    if (!n && seekable && n.error() == std::errc::invalid_seek) {
      seekable = false;
      continue;
    }
    if (!n) co_return n.error();
    if (*n == 0) break;
    if (!room) {
      const std::uint64_t need = std::uint64_t{len} + *n;
      if (need > limit) co_return too_large();
      const std::uint64_t grown = std::min<std::uint64_t>(
          std::max<std::uint64_t>(std::uint64_t{out.size()} * 2, need), limit);
      if (!try_resize(out, grown)) co_return out_of_memory();
      std::copy_n(probe.begin(), *n, out.begin() + static_cast<std::ptrdiff_t>(len));
    }
    len += *n;
  }
  out.resize(len);
  co_return out;
}

/// read_all_unguarded, with an allocation that fails anywhere below it (an
/// operation's frame, a blocking job's buffer) turned into a result.
task<result<std::vector<std::byte>>> read_all(detail::shared_fd fd) {
  try {
    co_return co_await read_all_unguarded(std::move(fd));
  } catch (const std::bad_alloc&) {
    co_return out_of_memory();
  }
}

}  // namespace

task<result<file>> file::open(std::string path, open_options options) {
  const int flags = open_flags(options);
  result<detail::shared_fd> fd = co_await detail::open(std::move(path), flags, options.mode);
  if (!fd) co_return fd.error();
  co_return file(std::move(*fd));
}

task<result<file>> file::open_read(std::string path) {
  return open(std::move(path), {.read = true});
}

task<result<file>> file::create(std::string path) {
  return open(std::move(path), {.write = true, .create = true, .truncate = true});
}

const detail::shared_fd& file::checked(const char* operation) const {
  if (!fd_) {
    throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor),
                            std::string("weft::fs::file::") + operation +
                                " on a closed or moved-from file: open one with "
                                "weft::fs::file::open first");
  }
  return fd_;
}

task<result<std::size_t>> file::read_at(std::span<std::byte> buf, std::uint64_t offset) const {
  return detail::read(checked("read_at"), buf, positional(offset));
}

task<result<std::size_t>> file::write_at(std::span<const std::byte> buf,
                                         std::uint64_t offset) const {
  return detail::write(checked("write_at"), buf, positional(offset));
}

task<result<void>> file::write_all_at(std::span<const std::byte> buf,
                                      std::uint64_t offset) const {
  return write_all_from(checked("write_all_at"), buf, positional(offset));
}

task<result<std::size_t>> file::read(std::span<std::byte> buf) const {
  return detail::read(checked("read"), buf, detail::at_position);
}

task<result<std::size_t>> file::write(std::span<const std::byte> buf) const {
  return detail::write(checked("write"), buf, detail::at_position);
}

task<result<void>> file::write_all(std::span<const std::byte> buf) const {
  return write_all_from(checked("write_all"), buf, detail::at_position);
}

task<result<std::vector<std::byte>>> file::read_to_end() const {
  return read_all(checked("read_to_end"));
}

task<result<void>> file::fsync() const { return detail::sync(checked("fsync"), false); }

task<result<void>> file::fdatasync() const { return detail::sync(checked("fdatasync"), true); }

task<result<file_status>> file::stat() const {
  return detail::stat(checked("stat"), std::string(), 0);
}

}  // namespace weft::fs
