// fuzz_check.hpp — how a fuzz target reports a broken property: a message on
// stderr naming the property, then abort() (libFuzzer saves the input as a
// crash; tests/fuzz/run_corpus.cpp dies, so its CTest test fails).
#pragma once

#include <cstdio>
#include <cstdlib>

#define WEFT_FUZZ_CHECK(cond, ...)                                            \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, \
                   #cond);                                                    \
      std::fprintf(stderr, __VA_ARGS__);                                      \
      std::fputc('\n', stderr);                                               \
      std::abort();                                                           \
    }                                                                         \
  } while (0)
