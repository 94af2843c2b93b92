// io_backend — implementation. The rules (which errnos mean "refused") are in
// io_backend.hpp.
#include "io/io_backend.hpp"

#include <memory>

#include "io/epoll_driver.hpp"
#include "io/uring_driver.hpp"

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>
#include <string_view>
#include <system_error>

namespace weft::detail {
namespace {

constexpr const char* env_name = "WEFT_IO_BACKEND";

bool refused(const std::error_code& code) noexcept {
  if (code.category() != std::system_category()) return false;
  switch (code.value()) {
    case ENOSYS:
    case EPERM:
    case EACCES:
    case ENOMEM:
    case EAGAIN:
      return true;
    default:
      return false;
  }
}

driver_factory epoll_factory() {
  return {io_backend::epoll, [](scheduler* owner, bool) {
            auto d = std::make_unique<epoll_driver>(owner);
            io_driver* io = d.get();
            return worker_drivers{std::move(d), io};
          }};
}

// WEFT_URING_SEND: how a send on a socket starts on io_uring — "syscall"
// (the default: a non-blocking send(2) first, an SQE only if it would block)
// or "ring" (an SQE always, submitted with the turn's other SQEs). A
// measurement knob (bench/net/sweep_echo.sh runs both); read once per
// runtime, before the probe, so a wrong value is reported as itself.
bool uring_inline_send_from_env() {
  constexpr const char* name = "WEFT_URING_SEND";
  const char* raw = std::getenv(name);
  const std::string_view v = raw == nullptr ? std::string_view{} : std::string_view{raw};
  if (v.empty() || v == "syscall") return true;
  if (v == "ring") return false;
  throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                          std::string(name) + "=\"" + std::string(v) +
                              "\" is not known; allowed values: syscall (default), ring");
}

driver_factory uring_factory(bool inline_send) {
  return {io_backend::io_uring, [inline_send](scheduler*, bool single_owner) {
            auto d = std::make_unique<uring_driver>(256, single_owner, inline_send);
            io_driver* io = d.get();
            return worker_drivers{std::move(d), io};
          }};
}

}  // namespace

const char* to_string(io_backend backend) noexcept {
  switch (backend) {
    case io_backend::io_uring:
      return "io_uring";
    case io_backend::epoll:
      return "epoll";
    case io_backend::simulated:
      return "simulated";
  }
  return "unknown";
}

io_backend_choice io_backend_from_env() {
  const char* raw = std::getenv(env_name);
  const std::string_view value = raw == nullptr ? std::string_view{} : std::string_view{raw};
  if (value.empty() || value == "auto") return io_backend_choice::automatic;
  if (value == "io_uring") return io_backend_choice::io_uring;
  if (value == "epoll") return io_backend_choice::epoll;
  throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                          std::string(env_name) + "=\"" + std::string(value) +
                              "\" is not a known I/O backend; allowed values: auto, io_uring, "
                              "epoll");
}

driver_factory select_io_backend(io_backend_choice choice) {
  switch (choice) {
    case io_backend_choice::epoll:
      return epoll_factory();
    case io_backend_choice::io_uring: {
      const bool inline_send = uring_inline_send_from_env();
      try {
        uring_driver::probe();
      } catch (const std::system_error& e) {
        throw std::system_error(e.code(),
                                std::string("weft: the io_uring I/O backend was requested but "
                                            "io_uring is unavailable (") +
                                    e.what() + "); use " + env_name +
                                    "=epoll or auto to run on epoll");
      }
      return uring_factory(inline_send);
    }
    case io_backend_choice::automatic: {
      const bool inline_send = uring_inline_send_from_env();
      try {
        uring_driver::probe();
      } catch (const std::system_error& e) {
        if (!refused(e.code())) throw;
        return epoll_factory();
      }
      return uring_factory(inline_send);
    }
  }
  return epoll_factory();
}

}  // namespace weft::detail
