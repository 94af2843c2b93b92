// io_backend — which park driver the runtime's workers get: io_uring when the
// kernel lets us have it, epoll otherwise.
//
// Design
// ------
// The choice is made once, on the thread that builds the runtime, before any
// worker exists: select_io_backend() probes io_uring (uring_driver::probe():
// create a ring, enable it, round-trip one NOP, close it) and returns a
// driver_factory whose make() the runtime calls once per worker.
//
// Which failures mean "io_uring is refused here" (automatic falls back to
// epoll) — exactly these errnos from the probe:
//   ENOSYS  kernel built without CONFIG_IO_URING, or a seccomp policy that
//           answers ENOSYS for syscalls it does not allow;
//   EPERM   the sysctl kernel.io_uring_disabled (2: nobody; 1: only members
//           of kernel.io_uring_group or CAP_SYS_ADMIN), or a seccomp policy
//           answering EPERM (Docker's default profile, since 2023);
//   EACCES  a security module denying it;
//   ENOMEM  before Linux 5.12 ring memory counts against RLIMIT_MEMLOCK,
//           and io_uring_setup(2) fails with ENOMEM past it;
//   EAGAIN  mmap(2) of the rings: "too much memory has been locked".
// Anything else (EMFILE, ENFILE, EFAULT, EINVAL, EIO from the probe's NOP…)
// is rethrown: epoll would hit the same fd limits, and hiding a bug behind a
// silent fallback is worse than failing.
//
// A forced io_uring (io_backend_choice::io_uring) probes too, and a refusal of
// any kind becomes a std::system_error whose message names io_uring and how
// to choose epoll instead. A factory from a successful probe may still throw
// from make() (say, a memlock limit hit at the fourth worker); the runtime
// sees that error as it is.
//
// WEFT_IO_BACKEND: unset or empty or "auto" → automatic; "io_uring"; "epoll".
// Any other value is an error, not a silent default.
#pragma once

#include <weft/detail/runtime_api.hpp>

#include "io/io_driver.hpp"
#include "scheduler/park_driver.hpp"

#include <functional>
#include <memory>

namespace weft::detail {

using weft::io_backend;         // public: weft/detail/runtime_api.hpp
using weft::io_backend_choice;

/// "io_uring" or "epoll".
const char* to_string(io_backend backend) noexcept;

/// Reads WEFT_IO_BACKEND. Throws std::system_error (invalid_argument) naming
/// the variable and the allowed values if it holds anything else.
io_backend_choice io_backend_from_env();

/// One worker's drivers: what the scheduler parks in, and what I/O
/// operations use (io_driver.hpp). For io_uring and epoll both are the same
/// object, owned through `park`; the scheduler reaches it only as a
/// park_driver and keeps `io` for the worker without looking inside.
struct worker_drivers {
  std::unique_ptr<park_driver> park;
  io_driver* io = nullptr;
};

/// Makes one worker's drivers; called once per worker.
struct driver_factory {
  io_backend backend;
  /// Make one worker's drivers. `owner`: the runtime the worker belongs to
  /// (a socket registered with epoll holds a reference on it; null for a
  /// driver used only to park, in tests). `single_owner`: one thread drives
  /// them for its whole life (a worker thread), which lets io_uring use
  /// SINGLE_ISSUER.
  std::function<worker_drivers(scheduler* owner, bool single_owner)> make;
};

/// Probes and picks the backend (see the header comment). Throws
/// std::system_error when io_uring was forced and is unavailable, or when the
/// probe failed for a reason that is not a refusal.
driver_factory select_io_backend(io_backend_choice choice);

}  // namespace weft::detail
