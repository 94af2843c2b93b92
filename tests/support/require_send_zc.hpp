// WEFT_REQUIRE_SEND_ZC(): a test of zero-copy sends runs where the kernel has
// IORING_OP_SEND_ZC. Only a kernel before 6.0 may lack it — then the test is
// skipped (the copying fallback has its own test, with the refusal forced);
// on 6.0 and later weft not finding it fails the test.
#pragma once

#include "io/uring_driver.hpp"
#include "support/kernel_version.hpp"

#include <gtest/gtest.h>

#define WEFT_REQUIRE_SEND_ZC()                                                   \
  do {                                                                           \
    if (!::weft::detail::uring_driver::zero_copy_available()) {                  \
      ASSERT_FALSE(::weft_test::kernel_at_least(6, 0))                           \
          << "Linux 6.0+ has IORING_OP_SEND_ZC, yet weft found none";            \
      GTEST_SKIP() << "this kernel has no IORING_OP_SEND_ZC (Linux 6.0)";        \
    }                                                                            \
  } while (0)
