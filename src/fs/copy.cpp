// weft::fs::copy_file — copy a file with several reads and writes in flight
// (examples/file_copy and the 1 GiB copy test run it).
//
// Design: the copy runs until a read of the source returns 0 (end of file);
// the size statx gives is only a hint of where that is. Two phases:
//  1. Striped, over [0, hint): the range is cut into chunks; `depth` spawned
//     tasks each copy every depth-th chunk (task k: chunks k, k+depth,
//     k+2·depth, ...) with read and write at the chunk's offset, each through
//     its own chunk-sized buffer. So up to `depth` operations are in flight
//     at once, spread over the runtime's workers, and memory stays
//     depth × chunk whatever the file size. A read that returns 0 before the
//     chunk is full means the source shrank: the task writes what it read,
//     lowers `end` to where the source ended, and stops.
//  2. Sequential tail, from min(end, hint): one chunk at a time until a read
//     returns 0 — all of a source that grew since statx, or whose size statx
//     does not tell (/proc files report 0; FIFOs: read(2) at the position,
//     since they cannot pread). The copy's length is where that read ended.
// If the source shrank, stripes above the end may already have written
// there: the destination is then truncated to the copy's length. Then it is
// fsynced. A source changed while it is copied is copied as each chunk was
// when it was read (no snapshot).
// The tasks share the two open files through a shared_ptr, so a copy whose
// awaiter is cancelled cannot leave a task using a closed file. A failing
// task makes the others stop at their next chunk; the first error is
// returned.
//
// Nothing is truncated before the two files are known to differ: the source
// is opened first, the destination is opened without O_TRUNC, and both are
// statx-ed; the same device and inode (the same path, a hard link, a symlink
// to the source) fail with weft::errc::same_file, leaving both untouched.
// Only then is an existing destination truncated.
//
// On failure, a destination this call created (its exclusive create
// succeeded) is removed again by its path; an existing destination that was
// truncated keeps the bytes copied before the error.
#include <weft/detail/test_point.hpp>
#include <weft/error.hpp>
#include <weft/fs.hpp>
#include <weft/runtime.hpp>

#include "fs/backend.hpp"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace weft::fs {

namespace {

struct copy_state {
  detail::shared_fd in;
  detail::shared_fd out;
  std::uint64_t hint = 0;  // the source's size from statx: where the stripes stop
  copy_options opt;
  std::atomic<bool> failed{false};
  /// The lowest offset at which a stripe found the source's end (max: none).
  std::atomic<std::uint64_t> end{std::numeric_limits<std::uint64_t>::max()};
};

/// A buffer of `n` bytes, or false if it cannot be had.
bool allocate(std::vector<std::byte>& buf, std::size_t n) noexcept {
  try {
    buf.resize(n);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  } catch (const std::length_error&) {
    return false;
  }
}

std::error_code out_of_memory() noexcept {
  return std::make_error_code(std::errc::not_enough_memory);
}

/// pwrite until all of `buf` is written at `offset`.
weft::task<weft::result<void>> write_all_at(detail::shared_fd fd, std::span<const std::byte> buf,
                                            std::uint64_t offset) {
  while (!buf.empty()) {
    weft::result<std::size_t> n = co_await detail::write(fd, buf, offset);
    if (!n) co_return n.error();
    if (*n == 0) co_return std::make_error_code(std::errc::io_error);  // never spin
    buf = buf.subspan(*n);
    offset += *n;
  }
  co_return weft::result<void>{};
}

/// The destination, opened for writing without truncating it.
struct destination {
  detail::shared_fd fd;
  bool created = false;  // this call created the file (exclusive create)
};

/// Open `path` for writing without truncating it; create it (mode 0644) if
/// it does not exist, and say whether this call did.
weft::task<weft::result<destination>> open_destination(std::string path) {
  weft::result<detail::shared_fd> made =
      co_await detail::open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (made) co_return destination{std::move(*made), true};
  if (made.error() != std::errc::file_exists) co_return made.error();
  weft::result<detail::shared_fd> existing = co_await detail::open(path, O_WRONLY, 0);
  if (existing) co_return destination{std::move(*existing), false};
  if (existing.error() != std::errc::no_such_file_or_directory) co_return existing.error();
  // A dangling symlink (or the file went in between): create through it as
  // open(2) would, but do not claim the file as ours to remove.
  weft::result<detail::shared_fd> through = co_await detail::open(path, O_WRONLY | O_CREAT, 0644);
  if (!through) co_return through.error();
  co_return destination{std::move(*through), false};
}

/// Copy chunks first, first + depth, ... of [0, s->hint).
weft::task<weft::result<void>> copy_stripe(std::shared_ptr<copy_state> s, std::size_t first) {
  std::vector<std::byte> buf;
  if (!allocate(buf, s->opt.chunk)) {
    s->failed.store(true, std::memory_order_relaxed);  // ORDERING: see below
    co_return out_of_memory();
  }
  for (std::uint64_t i = first;; i += s->opt.depth) {
    const std::uint64_t offset = i * s->opt.chunk;
    // ORDERING: relaxed (failed, end): hints to stop early; the error and the
    // final `end` are read after the stripes are joined (the join orders them).
    if (offset >= s->hint || s->failed.load(std::memory_order_relaxed) ||
        offset >= s->end.load(std::memory_order_relaxed)) {
      break;
    }
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(s->opt.chunk, s->hint - offset));
    std::size_t got = 0;
    while (got < want) {  // a read may return less than asked
      weft::result<std::size_t> n =
          co_await detail::read(s->in, std::span(buf).subspan(got, want - got), offset + got);
      if (!n) {
        s->failed.store(true, std::memory_order_relaxed);  // ORDERING: see above
        co_return n.error();
      }
      if (*n == 0) break;  // the source ended early: it shrank since statx
      got += *n;
    }
    if (got > 0) {
      weft::result<void> w = co_await write_all_at(s->out, std::span(buf).first(got), offset);
      if (!w) {
        s->failed.store(true, std::memory_order_relaxed);  // ORDERING: see above
        co_return w;
      }
    }
    WEFT_TEST_POINT("fs.copy_file.after_chunk");
    if (got < want) {
      // ORDERING: relaxed, as above: lower `end` to where this stripe saw it.
      std::uint64_t seen = s->end.load(std::memory_order_relaxed);
      while (offset + got < seen &&
             !s->end.compare_exchange_weak(seen, offset + got, std::memory_order_relaxed)) {
      }
      break;
    }
  }
  co_return weft::result<void>{};
}

/// Phase 2: copy from `offset` until a read returns 0; the copy's length.
weft::task<weft::result<std::uint64_t>> copy_tail(std::shared_ptr<copy_state> s,
                                                  std::uint64_t offset) {
  std::vector<std::byte> buf;
  if (!allocate(buf, s->opt.chunk)) co_return out_of_memory();
  bool seekable = true;  // false: the source is a FIFO (or the like): read at its position
  for (;;) {
    weft::result<std::size_t> n =
        co_await detail::read(s->in, buf, seekable ? offset : detail::at_position);
    if (!n && seekable && n.error() == std::errc::invalid_seek) {
      seekable = false;
      continue;
    }
    if (!n) co_return n.error();
    if (*n == 0) co_return offset;
    weft::result<void> w = co_await write_all_at(s->out, std::span(buf).first(*n), offset);
    if (!w) co_return w.error();
    offset += *n;
    WEFT_TEST_POINT("fs.copy_file.after_chunk");
  }
}

/// The copy once both files are open and known to differ: its length.
weft::task<weft::result<std::uint64_t>> copy_open_files(std::shared_ptr<copy_state> s,
                                                       bool out_is_regular) {
  if (s->hint > 0) {
    std::vector<weft::join_handle<weft::result<void>>> stripes;
    for (std::size_t k = 0; k < s->opt.depth; ++k) {
      stripes.push_back(weft::spawn(copy_stripe, s, k));
    }
    weft::result<void> first_error;
    for (auto& h : stripes) {
      weft::result<void> r = co_await h;
      if (!r && first_error) first_error = r;
    }
    if (!first_error) co_return first_error.error();
  }
  // ORDERING: relaxed: every stripe that stored to `end` has been joined.
  const std::uint64_t end = s->end.load(std::memory_order_relaxed);
  const bool shrank = end < s->hint;
  weft::result<std::uint64_t> length = co_await copy_tail(s, shrank ? end : s->hint);
  if (!length) co_return length.error();
  if (shrank && out_is_regular) {
    // Stripes above the end may have written there before it was seen.
    weft::result<void> cut = co_await detail::truncate(s->out, *length);
    if (!cut) co_return cut.error();
  }
  weft::result<void> synced = co_await detail::sync(s->out, false);
  if (!synced) co_return synced.error();
  co_return *length;
}

}  // namespace

weft::task<weft::result<std::uint64_t>> copy_file(std::string src, std::string dst, copy_options opt) {
  if (opt.chunk == 0 || opt.depth == 0) co_return std::make_error_code(std::errc::invalid_argument);
  auto s = std::make_shared<copy_state>();
  s->opt = opt;
  weft::result<detail::shared_fd> in = co_await detail::open(std::move(src), O_RDONLY, 0);
  if (!in) co_return in.error();
  s->in = std::move(*in);
  weft::result<detail::file_info> in_info = co_await detail::info(s->in);
  if (!in_info) co_return in_info.error();
  if (in_info->status.type == file_type::directory) {
    co_return std::make_error_code(std::errc::is_a_directory);
  }
  // Only a regular file's size means anything; the tail finds the real end.
  if (in_info->status.type == file_type::regular) s->hint = in_info->status.size;
  weft::result<destination> out = co_await open_destination(dst);
  if (!out) co_return out.error();
  s->out = std::move(out->fd);
  weft::result<detail::file_info> out_info = co_await detail::info(s->out);
  if (!out_info) co_return out_info.error();  // (an fd's statx does not fail in practice)
  if (out_info->id == in_info->id) co_return make_error_code(weft::errc::same_file);
  const bool out_is_regular = out_info->status.type == file_type::regular;

  weft::result<std::uint64_t> copied{std::uint64_t{0}};
  // O_TRUNC's effect, now that the destination is known to be another file.
  // (A FIFO or a device, which O_TRUNC would leave alone, is not truncated.)
  if (out_is_regular && !out->created) {
    weft::result<void> emptied = co_await detail::truncate(s->out, 0);
    if (!emptied) copied = emptied.error();
  }
  if (copied) copied = co_await copy_open_files(s, out_is_regular);
  if (!copied && out->created) {
    // Best effort: the error to report is the copy's, not this one's.
    (void)co_await detail::unlink(std::move(dst), 0);
  }
  co_return copied;
}

}  // namespace weft::fs
