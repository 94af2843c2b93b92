// net::resolve: getaddrinfo on the blocking pool; the "weft.resolve" category.
#include <weft/net/resolve.hpp>

#include <weft/runtime.hpp>

#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

namespace weft::net {
namespace {

class resolve_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.resolve"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};

using addresses = result<std::vector<socket_address>>;

/// getaddrinfo's error `gai` (errno `err` for EAI_SYSTEM) as an error_code.
std::error_code gai_error(int gai, int err) noexcept {
  if (gai == EAI_SYSTEM && err != 0) return {err, std::system_category()};
  return {gai, resolve_category()};
}

/// The blocking part: runs on a blocking-pool thread.
addresses lookup(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  addrinfo* list = nullptr;
  const int gai = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (gai != 0) return gai_error(gai, errno);
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(list, &::freeaddrinfo);
  std::vector<socket_address> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    result<socket_address> a = socket_address::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    if (!a) continue;  // not AF_INET/AF_INET6: not ours
    const socket_address sa{a->ip(), port};
    if (std::find(out.begin(), out.end(), sa) == out.end()) out.push_back(sa);
  }
  if (out.empty()) return gai_error(EAI_NONAME, 0);
  return out;
}

}  // namespace

const std::error_category& resolve_category() noexcept {
  static const resolve_category_impl c;
  return c;
}

task<addresses> resolve(std::string host, std::uint16_t port) {
  if (result<ip_address> ip = ip_address::parse(host)) {
    co_return std::vector<socket_address>{socket_address{*ip, port}};
  }
  // getaddrinfo would stop at a NUL and look up a different name.
  if (host.find('\0') != std::string::npos) {
    co_return std::make_error_code(std::errc::invalid_argument);
  }
  // The job owns the string: it outlives this frame if the awaiter goes.
  auto job = weft::spawn_blocking(&lookup, std::move(host), port);
  co_return co_await job;
}

task<addresses> resolve(std::string host_and_port) {
  result<detail::host_port> hp = detail::split_host_port(host_and_port);
  if (!hp) co_return hp.error();
  if (hp->bracketed) {
    // An IPv6 literal, with a zone as "%zone" or RFC 6874's "%25zone".
    if (result<ip_address> ip = detail::parse_bracketed_ip(hp->host)) {
      co_return std::vector<socket_address>{socket_address{*ip, hp->port}};
    }
  }
  co_return co_await resolve(std::string(hp->host), hp->port);
}

}  // namespace weft::net
