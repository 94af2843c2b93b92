// weft's error category.
#include <weft/error.hpp>

#include <string>
#include <system_error>

namespace weft {
namespace {

class weft_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft"; }

  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::timed_out:
        return "operation timed out";
      case errc::operation_canceled:
        return "operation canceled";
      case errc::runtime_shut_down:
        return "the runtime is shut down (or shutting down) and accepts no new work";
      case errc::nested_runtime:
        return "a weft runner is already running on this thread (nested event loop refused)";
      case errc::join_handle_consumed:
        return "join_handle is empty or its value was already taken";
      case errc::invalid_builder_setting:
        return "invalid runtime_builder setting";
      case errc::task_destroyed:
        return "the task was destroyed by runtime shutdown before it finished";
      case errc::no_runtime:
        return "no weft runtime is running on this thread";
      case errc::not_in_task:
        return "not inside a weft task or runner";
      case errc::end_of_stream:
        return "the peer closed the stream before all the requested bytes arrived";
      case errc::channel_closed:
        return "the channel is closed: the other side was dropped or closed it";
      case errc::would_block:
        return "not ready now (channel full or empty, too few permits); await the operation "
               "instead of trying it";
      case errc::channel_lagged:
        return "the receiver fell behind and missed messages; it continues with the oldest one "
               "still held";
      case errc::park_hook_conflict:
        return "this runner already has a different park hook (one foreign event source per "
               "thread), or the thread runs no block_on/current-thread runner to install it on";
      case errc::dispatcher_shut_down:
        return "the dispatcher is shutting down or shut down and accepts no new work";
      case errc::unknown_scheduler_role:
        return "no such scheduler role: declare it with runtime_builder::scheduler_role first";
      case errc::task_consumed:
        return "a task<T> can be awaited once: this one was already awaited, or is empty";
      case errc::same_file:
        return "the source and the destination are the same file (the same path, a hard link "
               "or a symlink to it); nothing was copied or changed: pick another destination";
      case errc::simulation_stalled:
        return "the simulation stalled: every task waits and nothing can wake one (a deadlock "
               "or a lost wake-up); replay it with the seed the message names";
      case errc::simulation_step_limit:
        return "the simulation ran past its step limit (a task that never stops yielding, or a "
               "livelock); replay it with the seed the message names";
      case errc::not_supported_in_simulation:
        return "a simulation runtime has no real I/O yet: run sockets and files on a "
               "multi_thread or current_thread runtime";
    }
    return "unknown weft error";
  }

  std::error_condition default_error_condition(int code) const noexcept override {
    switch (static_cast<errc>(code)) {
      case errc::timed_out:
        return std::errc::timed_out;
      case errc::operation_canceled:
        return std::errc::operation_canceled;
      case errc::would_block:
        return std::errc::operation_would_block;
      default:
        return {code, *this};
    }
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const weft_category c;
  return c;
}

void throw_error(errc e, const char* what) { throw std::system_error(make_error_code(e), what); }

}  // namespace weft

namespace weft::detail {

void throw_task_misuse(bool empty) {
  throw_error(errc::task_consumed,
              empty ? "awaited an empty weft::task (moved from or default-constructed): await "
                      "the task object that owns the coroutine"
                    : "a weft::task was awaited a second time: a task runs once; keep its "
                      "result, or call the coroutine function again for a new task");
}

}  // namespace weft::detail
