// cancellation_walk — whether this thread is inside a cancellation walk.
#pragma once

namespace weft::detail {

/// True while this thread runs a cancellation walk (cancel() and the
/// callbacks it calls). The walk tells "the canceller" from other threads by
/// thread id, so a simulation runtime, whose virtual workers share one
/// thread, never pauses a step inside one (src/scheduler/simulation.cpp).
bool cancellation_walk_on_this_thread() noexcept;

}  // namespace weft::detail
