// weft/detail/deadline.hpp — saturating duration and deadline arithmetic.
//
// A duration that means "forever" (nanoseconds::max(), hours::max(), a huge
// double) must not overflow when it is converted to another unit or added to
// a time point: signed overflow is undefined and in practice wraps to a time
// in the past, so the wait ends at once. Every place in weft that converts a
// caller's duration or adds one to a time point goes through these helpers:
//   - a conversion saturates at the target's max() (and min() for negatives);
//   - a deadline saturates at the time point's max(); a negative duration
//     means "now".
#pragma once

#include <chrono>
#include <climits>
#include <cmath>
#include <type_traits>

namespace weft::detail {

/// `d` in `To`, rounded up (as std::chrono::ceil), clamped to To's range.
/// A NaN floating duration converts to zero.
template <class To, class Rep, class Period>
constexpr To saturating_ceil(std::chrono::duration<Rep, Period> d) noexcept {
  using wide = std::chrono::duration<long double, typename To::period>;
  const long double v = std::chrono::duration_cast<wide>(d).count();
  if (v != v) return To::zero();  // NaN
  if (v >= static_cast<long double>(To::max().count())) return To::max();
  if (v <= static_cast<long double>(To::min().count())) return To::min();
  if constexpr (std::is_floating_point_v<Rep> || std::is_floating_point_v<typename To::rep>) {
    // In range: round up in the wide type (no overflow), then narrow.
    const long double up = std::ceil(v);
    return To(static_cast<typename To::rep>(up));
  } else {
    return std::chrono::ceil<To>(d);  // in range: no overflow
  }
}

/// As saturating_ceil, for a time-out: negative becomes zero.
template <class To, class Rep, class Period>
constexpr To saturating_timeout(std::chrono::duration<Rep, Period> d) noexcept {
  const To t = saturating_ceil<To>(d);
  return t < To::zero() ? To::zero() : t;
}

/// `tp + d`, clamped to the time point's range.
template <class Clock, class Dur>
constexpr std::chrono::time_point<Clock, Dur> saturating_add(std::chrono::time_point<Clock, Dur> tp,
                                                             Dur d) noexcept {
  using tp_t = std::chrono::time_point<Clock, Dur>;
  const Dur since = tp.time_since_epoch();
  if (d > Dur::zero() && since > Dur::max() - d) return tp_t::max();
  if (d < Dur::zero() && since < Dur::min() - d) return tp_t::min();
  return tp + d;
}

/// The deadline `d` after `from`: rounded up to the clock's resolution,
/// saturated at time_point::max(); a negative (or NaN) `d` means `from`.
template <class Clock, class Dur, class Rep, class Period>
constexpr std::chrono::time_point<Clock, Dur> deadline_after(
    std::chrono::time_point<Clock, Dur> from, std::chrono::duration<Rep, Period> d) noexcept {
  return saturating_add(from, saturating_timeout<Dur>(d));
}

/// steady_clock::now() + d, saturated (for waits on the real clock).
template <class Rep, class Period>
std::chrono::steady_clock::time_point steady_deadline_after(
    std::chrono::duration<Rep, Period> d) noexcept {
  return deadline_after(std::chrono::steady_clock::now(), d);
}

/// Time left until `deadline`, never negative.
inline std::chrono::nanoseconds time_left(std::chrono::steady_clock::time_point deadline,
                                          std::chrono::steady_clock::time_point now) noexcept {
  if (deadline <= now) return std::chrono::nanoseconds::zero();
  // Both are ≥ 0 on steady_clock, so the difference cannot overflow; convert
  // with saturation all the same, in case steady_clock's unit is not ns.
  return saturating_ceil<std::chrono::nanoseconds>(deadline - now);
}

/// A wait of `d` as poll/epoll_wait milliseconds: rounded up (never wake
/// early), 0 for none, clamped to INT_MAX (the caller's loop waits again for
/// the rest). Divides before rounding: `ns + 999'999` overflows near max().
constexpr int poll_timeout_ms(std::chrono::nanoseconds d) noexcept {
  if (d.count() <= 0) return 0;
  const long long ms = d.count() / 1'000'000 + (d.count() % 1'000'000 != 0 ? 1 : 0);
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace weft::detail
