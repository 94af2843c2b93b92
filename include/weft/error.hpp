// weft/error.hpp — weft's error codes, as std::error_code values.
//
// Every failure weft reports is either a std::error_code in a weft::result<T>
// (operations that fail as part of normal operation: a timeout, I/O) or a
// std::system_error carrying one of these codes (misuse: a nested block_on, a
// spawn on a runtime that has shut down). The message of each code says what
// to do about it.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace weft {

enum class errc {
  /// weft::timeout: the deadline passed before the operation completed.
  timed_out = 1,
  /// The operation was cancelled before it completed.
  operation_canceled,
  /// spawn or block_on on a runtime whose shutdown has begun.
  runtime_shut_down,
  /// block_on (or a runner) started on a thread that already runs one.
  nested_runtime,
  /// A join_handle awaited a second time, or after it was moved from.
  join_handle_consumed,
  /// A runtime_builder setting out of range or a bad combination.
  invalid_builder_setting,
  /// The task was destroyed by runtime shutdown before it completed.
  task_destroyed,
  /// A runtime-only operation (spawn, sleep) used where no weft runtime runs.
  no_runtime,
  /// A coroutine awaited something that is not a weft awaitable outside a task.
  not_in_task,
  /// read_exact: the peer closed the stream before all the bytes arrived.
  end_of_stream,
  /// A channel's other side is gone: recv after every sender was dropped and
  /// the queue drained, or send after the receiver was dropped or closed.
  channel_closed,
  /// try_send on a full bounded channel, or try_acquire with too few permits.
  would_block,
  /// A broadcast receiver fell behind and messages were overwritten; it
  /// resumes at the oldest message still held.
  channel_lagged,
  /// A park hook was installed on a runner that already has a different one
  /// (one foreign event source per thread), or where no hook can be
  /// installed (not on a block_on or current-thread runner).
  park_hook_conflict,
  /// post_task/spawn_task on a dispatcher whose shutdown has begun.
  dispatcher_shut_down,
  /// dispatcher_builder::scheduler_role named a role the runtime does not have.
  unknown_scheduler_role,
  /// A task<T> was awaited after it had already been awaited (started), or
  /// an empty (moved-from, default-constructed) task<T> was awaited.
  task_consumed,
  /// weft::fs::copy_file: the source and the destination name the same file
  /// (the same path, a hard link, or a symlink to it); nothing was changed.
  same_file,
  /// A simulation runtime (runtime_flavor::simulation) reached a state where
  /// every task waits and nothing can wake one: no runnable task, no timer,
  /// no blocking job. A deadlock of the program or a lost wake-up; the
  /// message names the seed that replays it.
  simulation_stalled,
  /// A simulation ran more steps than its limit without finishing (a task
  /// that never stops yielding, or a livelock); the message names the seed.
  simulation_step_limit,
  /// An operation a simulation runtime cannot do (I/O it has no in-memory
  /// counterpart for: UDP, pipes, sockets made outside it): run it on a
  /// multi-thread or current-thread runtime.
  not_supported_in_simulation,
};

/// The category of weft::errc; name() is "weft".
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Throws std::system_error(e, what). Out of line so call sites stay small.
[[noreturn]] void throw_error(errc e, const char* what);

}  // namespace weft

template <>
struct std::is_error_code_enum<weft::errc> : std::true_type {};
