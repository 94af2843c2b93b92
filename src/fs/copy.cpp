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
#include <weft/fs.hpp>
#include <weft/runtime.hpp>

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
  weft::fs::file in;
  weft::fs::file out;
  std::uint64_t size = 0;
  copy_options opt;
  std::atomic<bool> failed{false};
};

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
          co_await s->in.read_at(std::span(buf).subspan(got, want - got), offset + got);
      if (!n || *n == 0) {
        s->failed.store(true, std::memory_order_relaxed);  // ORDERING: see above
        // 0: the source ended early (it shrank while being copied).
        co_return n ? std::make_error_code(std::errc::io_error) : n.error();
      }
      got += *n;
    }
    weft::result<void> w = co_await s->out.write_all_at(std::span(buf).first(want), offset);
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
  weft::result<weft::fs::file> in = co_await weft::fs::file::open_read(std::move(src));
  if (!in) co_return in.error();
  s->in = std::move(*in);
  weft::result<weft::fs::file_status> st = co_await s->in.stat();
  if (!st) co_return st.error();
  s->size = st->size;
  weft::result<weft::fs::file> out = co_await weft::fs::file::create(std::move(dst));
  if (!out) co_return out.error();
  s->out = std::move(*out);

  std::vector<weft::join_handle<weft::result<void>>> stripes;
  for (std::size_t k = 0; k < opt.depth; ++k) stripes.push_back(weft::spawn(copy_stripe, s, k));
  weft::result<void> first_error;
  for (auto& h : stripes) {
    weft::result<void> r = co_await h;
    if (!r && first_error) first_error = r;
  }
  if (!first_error) co_return first_error.error();
  weft::result<void> synced = co_await s->out.fsync();
  if (!synced) co_return synced.error();
  co_return s->size;
}

}  // namespace weft::fs
