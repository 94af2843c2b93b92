// weft/net/resolve.hpp — weft::net::resolve: host name to socket addresses.
//
//   auto addrs = co_await weft::net::resolve("example.com", 443);
//   if (!addrs) { /* addrs.error(): category weft::net::resolve_category() */ }
//   for (const weft::net::socket_address& a : *addrs) { /* try to connect */ }
//
// Design: getaddrinfo is a blocking call (files, DNS, NSS modules), so it runs
// on the runtime's blocking pool (weft::spawn_blocking) and the task awaits the
// job's join_handle. Hints: AF_UNSPEC, SOCK_STREAM (so each address comes once,
// not once per socket type), no AI_ADDRCONFIG (so "localhost" gives ::1 even
// on a host without IPv6 routes). The addresses keep getaddrinfo's order (RFC
// 6724, what /etc/gai.conf says), IPv4 and IPv6 mixed, duplicates dropped.
// A numeric host ("127.0.0.1", "::1", "fe80::1%eth0") is parsed at once with
// ip_address::parse and never reaches getaddrinfo or DNS.
//
// - completes with: the addresses (never empty), each with `port`; or an
//   error: getaddrinfo's EAI_* code in resolve_category() ("weft.resolve",
//   message() is gai_strerror's text), or for EAI_SYSTEM the errno in
//   std::system_category(); std::errc::invalid_argument for a host holding a
//   NUL or a malformed "host:port".
// - cancellation: the getaddrinfo call itself cannot be interrupted. If the
//   awaiting task is destroyed (weft::timeout, shutdown) while the call runs,
//   the join_handle in its frame is dropped, which detaches the job: the call
//   finishes on its blocking thread and its result is dropped there. The job
//   owns its copy of the host name, so nothing dangles.
// - resumes on: a worker of the awaiting task's runtime (on a current_thread
//   runtime, the thread inside block_on); never on the blocking thread. A
//   numeric host completes without suspending, on the awaiting thread.
// - runtime shutdown: the awaiting task is destroyed with the runtime's other
//   tasks (see cancellation); a job still queued is destroyed unrun, one
//   already running is waited for up to the shutdown timeout. An await that
//   does observe it throws std::system_error: errc::runtime_shut_down if the
//   blocking pool no longer accepts work, errc::task_destroyed if the queued
//   job was destroyed (as join_handle does).
// - needs a runtime for a host name (spawn_blocking throws errc::no_runtime
//   outside one); a numeric host does not.
// - allocation: the coroutine frame, the host string, one blocking-pool cell,
//   getaddrinfo's list (freed before the job returns) and the result vector.
//   A numeric host: the frame and the vector.
#pragma once

#include <weft/net/address.hpp>
#include <weft/result.hpp>
#include <weft/task.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace weft::net {

/// The category of getaddrinfo's errors; name() is "weft.resolve", value() is
/// the EAI_* code (e.g. EAI_NONAME), message() is gai_strerror's text.
const std::error_category& resolve_category() noexcept;

/// The addresses of `host` (a name or a numeric address), each with `port`.
task<result<std::vector<socket_address>>> resolve(std::string host, std::uint16_t port);

/// The same for "host:port" or "[ipv6]:port" (see socket_address::parse for
/// the port); a malformed text gives std::errc::invalid_argument.
task<result<std::vector<socket_address>>> resolve(std::string host_and_port);

}  // namespace weft::net
