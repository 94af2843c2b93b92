// run_corpus — a stand-in for libFuzzer's main, for builds without libFuzzer
// (g++, TSan): runs LLVMFuzzerTestOneInput once on every file of the
// directories (or files) named on the command line, in name order, each from
// a heap buffer of exactly its size (so ASan sees a read past the input).
// Exit status 0 if every input passed; a broken property aborts. No input at
// all is a failure too (a corpus directory that went missing proves nothing).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "run_corpus: cannot read %s\n", p.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // new[] of exactly the size (at least 1 byte: new[0] is not dereferenceable).
  std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[std::max<std::size_t>(bytes.size(), 1)]);
  std::memcpy(buf.get(), bytes.data(), bytes.size());
  std::fprintf(stderr, "run_corpus: %s (%zu bytes)\n", p.c_str(), bytes.size());
  (void)LLVMFuzzerTestOneInput(buf.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg = argv[i];
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(arg);
    }
    for (const auto& f : files) {
      if (!run_file(f)) return 1;
      ++runs;
    }
  }
  if (runs == 0) {
    std::fprintf(stderr, "run_corpus: no input files: pass corpus directories or files\n");
    return 1;
  }
  std::printf("run_corpus: %zu inputs passed\n", runs);
  return 0;
}
