// The running kernel's version, for tests whose expectations depend on it
// (a feature that exists from some release on must then be found).
#pragma once

#include <sys/utsname.h>

#include <cstdio>

namespace weft_test {

/// Whether the running kernel is at least major.minor (false if uname's
/// release cannot be read).
inline bool kernel_at_least(int major, int minor) {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int ma = 0;
  int mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

}  // namespace weft_test
