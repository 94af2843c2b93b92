// weft::fs::copy_file — copy a file with several reads and writes in flight
// (examples/file_copy and the 1 GiB copy test run it).
//
// Design: the file is cut into chunks; `depth` spawned tasks each copy every
// depth-th chunk (task k: chunks k, k+depth, k+2·depth, ...) with read_at
// and write_all_at at the chunk's offset, each through its own chunk-sized
// buffer. So up to `depth` operations are in flight at once, spread over the
// runtime's workers, and memory stays depth × chunk whatever the file size.
// The tasks share the two open files through a shared_ptr, so a copy whose
// awaiter is cancelled cannot leave a task using a closed file. After every
// task has finished, the destination is fsynced. A failing task makes the
// others stop at their next chunk; the first error is returned.
//
// Nothing is truncated before the two files are known to differ: the source
// is opened first, the destination is opened without O_TRUNC, and both are
// statx-ed; the same device and inode (the same path, a hard link, a symlink
// to the source) fail with weft::errc::same_file, leaving both untouched.
// Only then is an existing destination truncated.
#include <weft/error.hpp>
#include <weft/fs.hpp>
#include <weft/runtime.hpp>

#include "fs/backend.hpp"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace weft::fs {

namespace {

struct copy_state {
  detail::shared_fd in;
  detail::shared_fd out;
  std::uint64_t size = 0;
  copy_options opt;
  std::atomic<bool> failed{false};
};

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

/// Open `path` for writing without truncating it, creating it (mode 0644)
/// if it does not exist.
weft::task<weft::result<detail::shared_fd>> open_destination(std::string path) {
  co_return co_await detail::open(std::move(path), O_WRONLY | O_CREAT, 0644);
}

/// Copy chunks first, first + depth, ... of `s`.
weft::task<weft::result<void>> copy_stripe(std::shared_ptr<copy_state> s, std::size_t first) {
  std::vector<std::byte> buf(s->opt.chunk);
  for (std::uint64_t i = first;; i += s->opt.depth) {
    const std::uint64_t offset = i * s->opt.chunk;
    // ORDERING: relaxed: a hint to stop early; the error itself travels
    // through the join_handle.
    if (offset >= s->size || s->failed.load(std::memory_order_relaxed)) break;
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(s->opt.chunk, s->size - offset));
    std::size_t got = 0;
    while (got < want) {  // a read may return less than asked
      weft::result<std::size_t> n =
          co_await detail::read(s->in, std::span(buf).subspan(got, want - got), offset + got);
      if (!n || *n == 0) {
        s->failed.store(true, std::memory_order_relaxed);  // ORDERING: see above
        // 0: the source ended early (it shrank while being copied).
        co_return n ? std::make_error_code(std::errc::io_error) : n.error();
      }
      got += *n;
    }
    weft::result<void> w = co_await write_all_at(s->out, std::span(buf).first(want), offset);
    if (!w) {
      s->failed.store(true, std::memory_order_relaxed);  // ORDERING: see above
      co_return w;
    }
  }
  co_return weft::result<void>{};
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
  s->size = in_info->status.size;
  weft::result<detail::shared_fd> out = co_await open_destination(std::move(dst));
  if (!out) co_return out.error();
  s->out = std::move(*out);
  weft::result<detail::file_info> out_info = co_await detail::info(s->out);
  if (!out_info) co_return out_info.error();
  if (out_info->id == in_info->id) co_return make_error_code(weft::errc::same_file);
  // O_TRUNC's effect, now that the destination is known to be another file.
  // (A FIFO or a device, which O_TRUNC would leave alone, is not truncated.)
  if (out_info->status.type == file_type::regular) {
    weft::result<void> emptied = co_await detail::truncate(s->out, 0);
    if (!emptied) co_return emptied.error();
  }

  std::vector<weft::join_handle<weft::result<void>>> stripes;
  for (std::size_t k = 0; k < opt.depth; ++k) stripes.push_back(weft::spawn(copy_stripe, s, k));
  weft::result<void> first_error;
  for (auto& h : stripes) {
    weft::result<void> r = co_await h;
    if (!r && first_error) first_error = r;
  }
  if (!first_error) co_return first_error.error();
  weft::result<void> synced = co_await detail::sync(s->out, false);
  if (!synced) co_return synced.error();
  co_return s->size;
}

}  // namespace weft::fs
