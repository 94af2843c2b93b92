// Helpers of the fault-injection tests: runtimes on a chosen backend, open
// descriptor counts, and a loopback echo exchange whose every wait has a
// deadline.
#pragma once

#include "support/fault_injection.hpp"

#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include <gtest/gtest.h>

#include <dirent.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <system_error>

namespace weft_test::faults {

namespace fault = weft::detail::fault;
using namespace std::chrono_literals;

inline std::size_t open_fd_count() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

inline weft::runtime make_runtime(weft::runtime_flavor flavor, weft::io_backend_choice backend) {
  return weft::runtime_builder{}.flavor(flavor).io_backend(backend).build();
}

inline weft::net::socket_address loopback_any_port() {
  return {weft::net::ip_address::v4_loopback(), 0};
}

inline fault::fault_schedule schedule(double probability, std::uint64_t seed, std::uint64_t times,
                                      std::array<int, 4> errors = {}) {
  fault::fault_schedule s;
  s.probability = probability;
  s.seed = seed;
  s.times = times;
  s.errors = errors;
  return s;
}

/// Echoes until end of stream or an error.
inline weft::task<void> echo_one(weft::net::tcp_stream s) {
  std::array<std::byte, 1024> buf{};
  for (;;) {
    weft::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) co_return;
    if (!(co_await s.write_all(std::span(buf.data(), *n)))) co_return;
  }
}

/// Connects, writes `msg`, reads it back. Empty: echoed intact. Otherwise
/// the error (errc::timed_out if any step missed its deadline, EPROTO for a
/// reply that differs).
inline weft::task<std::error_code> exchange(weft::net::socket_address addr, std::string msg) {
  constexpr auto deadline = 5s;
  auto c = co_await weft::timeout(deadline, weft::net::tcp_stream::connect(addr));
  if (!c) co_return c.error();
  if (!*c) co_return c->error();
  weft::net::tcp_stream s = std::move(c->value());
  auto w = co_await weft::timeout(
      deadline, s.write_all(std::as_bytes(std::span(msg.data(), msg.size()))));
  if (!w) co_return w.error();
  if (!*w) co_return w->error();
  std::string back(msg.size(), '\0');
  auto r = co_await weft::timeout(
      deadline, s.read_exact(std::as_writable_bytes(std::span(back.data(), back.size()))));
  if (!r) co_return r.error();
  if (!*r) co_return r->error();
  if (back != msg) co_return std::make_error_code(std::errc::protocol_error);
  co_return std::error_code{};
}

}  // namespace weft_test::faults
