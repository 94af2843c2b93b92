// echo_logic — what examples/echo_server does with each connection and with
// its listener, in a header so that the simulation tests
// (tests/examples/echo_simulation_test.cpp) run the very same code on the
// in-memory network under many seeds.
#pragma once

#include "accept_loop.hpp"

#include <weft/cancellation.hpp>
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>

#include <array>
#include <chrono>
#include <span>

namespace echo {

// read_buffered: the bytes arrive in a buffer the runtime owns (on io_uring
// one of the worker's provided buffers), so a connection waiting for data
// holds no buffer of its own; the buffer goes back when `got` is destroyed.
// A message larger than a buffer (16 KiB) arrives in several: the ones
// already queued are taken at once (read_buffered_ready) and echoed with one
// write — four writes for a 64 KiB message cost 1.5x tokio's CPU. At most
// four at a time (a 64 KiB message): a connection whose peer stops reading
// holds what it took until its write ends, and the worker's 256 buffers are
// shared by all its connections.
inline weft::task<void> serve(weft::net::tcp_stream s) {
  (void)s.set_nodelay(true);
  std::array<weft::net::recv_buffer, 4> bufs;
  std::array<std::span<const std::byte>, 4> parts;
  for (;;) {
    weft::result<weft::net::recv_buffer> got = co_await s.read_buffered();
    if (!got || got->empty()) co_return;  // error or end of stream: close
    const std::size_t more = s.read_buffered_ready(std::span(bufs).subspan(1));
    if (more == 0) {
      if (!co_await s.write_all(got->data())) co_return;
      continue;
    }
    bufs[0] = std::move(*got);
    for (std::size_t i = 0; i <= more; ++i) parts[i] = bufs[i].data();
    if (!co_await s.write_all_vectored(std::span(parts.data(), more + 1))) co_return;
    for (std::size_t i = 0; i <= more; ++i) bufs[i].reset();  // back to the ring now
  }
}

/// The echo server's accept loop (examples/accept_loop.hpp).
inline weft::task<std::size_t> accept_loop(weft::net::tcp_listener& listener,
                                           weft::cancellation_token stop) {
  return examples::accept_loop(listener, std::move(stop), serve);
}

}  // namespace echo
