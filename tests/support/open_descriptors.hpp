// open_descriptors — how many descriptors this process has open (the
// entries of /proc/self/fd, less the one reading it), for tests that check
// that nothing leaks a descriptor.
#pragma once

#include <dirent.h>

#include <stdexcept>

namespace weft_test {

inline int open_descriptors() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) throw std::runtime_error("open_descriptors: cannot open /proc/self/fd");
  int n = 0;
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] == '.' ? 0 : 1;
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

}  // namespace weft_test
