// src/sync/misuse.cpp — see misuse.hpp.
#include "sync/misuse.hpp"

#include <cstdio>
#include <cstdlib>

namespace weft::detail {

void sync_misuse(const char* what) noexcept {
  std::fprintf(stderr, "weft: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace weft::detail
