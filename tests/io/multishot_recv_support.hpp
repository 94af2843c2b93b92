// Helpers shared by the read_buffered() tests (multishot_recv_test.cpp,
// multishot_recv_dry_test.cpp).
#pragma once

#include <weft/net/recv_buffer.hpp>
#include <weft/runtime.hpp>

#include "io/buffer_ring.hpp"
#include "io/io_driver.hpp"
#include "io/uring_driver.hpp"

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace weft_test {

/// `n` bytes of a pattern that a shifted or reordered copy does not match.
inline std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + i / 251) & 0xff);
  return v;
}

inline std::span<const std::byte> bytes(const char* s) {
  return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}

inline std::string text(const weft::net::recv_buffer& b) {
  return {reinterpret_cast<const char*>(b.data().data()), b.size()};
}

/// One worker on io_uring: a test's task and its streams' receives share one
/// ring and its provided buffers.
inline weft::runtime uring_current_thread() {
  return weft::runtime_builder{}
      .flavor(weft::runtime_flavor::current_thread)
      .io_backend(weft::io_backend_choice::io_uring)
      .build();
}

/// The worker's provided buffers still in its ring (io_uring, on the worker
/// this task runs on), or -1 where there are none.
inline int buffers_in_ring() {
  auto* d = dynamic_cast<weft::detail::uring_driver*>(weft::detail::current_io_driver());
  if (d == nullptr || d->provided() == nullptr) return -1;
  return static_cast<int>(d->provided()->in_ring());
}

}  // namespace weft_test
