// weft/embedded/detail/assert.hpp — the freestanding assertion.
//
// <cassert> would call the C library's __assert_func, which the target build
// does not link (there is no C library there, see embedded/Makefile). An
// INVARIANT that fails traps instead: `udf` on Cortex-M (a HardFault a debugger
// stops on), SIGILL on the host (GoogleTest reports the death). Compiled out
// with NDEBUG, like assert.
#pragma once

#if defined(NDEBUG)
#define WEFT_EMBEDDED_ASSERT(cond) static_cast<void>(0)
#else
#define WEFT_EMBEDDED_ASSERT(cond) ((cond) ? static_cast<void>(0) : __builtin_trap())
#endif
