// src/sync/misuse.hpp — how the synchronisation primitives report misuse that
// cannot be an exception (a destructor, a noexcept release path).
#pragma once

namespace weft::detail {

/// Print "weft: <what>" to stderr and abort. For misuse that would otherwise
/// corrupt memory silently (a primitive destroyed while tasks wait on it).
[[noreturn]] void sync_misuse(const char* what) noexcept;

}  // namespace weft::detail
