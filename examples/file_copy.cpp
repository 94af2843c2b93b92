// file_copy — copy a (large) file with weft::fs, several reads and writes in
// flight, and report the throughput.
//
//   file_copy SRC DST [--chunk BYTES] [--depth N]
//
// The copy (weft::fs::copy_file, which the 1 GiB copy test runs too): DEPTH tasks
// (default 4) each copy every DEPTH-th CHUNK (default 1 MiB) with read_at and
// write_all_at at the chunk's offset; then DST is fsynced. On an io_uring
// runtime those are io_uring reads and writes on the workers' rings; under
// WEFT_IO_BACKEND=epoll they run on the blocking pool. The time includes the
// fsync; the source may come from the page cache (nothing is dropped).
#include <weft/fs.hpp>
#include <weft/runtime.hpp>


#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace {

int usage() {
  std::fputs("usage: file_copy SRC DST [--chunk BYTES] [--depth N]\n", stderr);
  return 2;
}

/// A positive integer argument, or 0 if it is not one.
std::size_t parse_count(const char* s) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0') return 0;
  return static_cast<std::size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  weft::fs::copy_options opt;
  for (int i = 3; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return usage();
    const std::size_t v = parse_count(argv[i + 1]);
    if (v == 0) return usage();
    if (flag == "--chunk") {
      opt.chunk = v;
    } else if (flag == "--depth") {
      opt.depth = v;
    } else {
      return usage();
    }
  }
  try {
    weft::runtime rt = weft::runtime_builder{}.build();
    const auto t0 = std::chrono::steady_clock::now();
    weft::result<std::uint64_t> copied =
        rt.block_on(weft::fs::copy_file(argv[1], argv[2], opt));
    const std::chrono::duration<double> secs = std::chrono::steady_clock::now() - t0;
    if (!copied) {
      std::fprintf(stderr, "file_copy: copying %s to %s: %s\n", argv[1], argv[2],
                   copied.error().message().c_str());
      return 1;
    }
    const double mib = static_cast<double>(*copied) / (1024.0 * 1024.0);
    std::printf("%llu bytes in %.3f s: %.1f MiB/s (%s, chunk %zu, depth %zu)\n",
                static_cast<unsigned long long>(*copied), secs.count(), mib / secs.count(),
                rt.io_backend() == weft::io_backend::io_uring ? "io_uring" : "epoll + blocking pool",
                opt.chunk, opt.depth);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "file_copy: %s\n", e.what());
    return 1;
  }
}
