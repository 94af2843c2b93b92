// src/sync/shared_mutex.cpp — weft::shared_mutex's out-of-line parts (the
// queue is fifo_permits.cpp).
#include <weft/sync/shared_mutex.hpp>

#include <system_error>

namespace weft {

namespace {
[[noreturn]] void throw_not_owned(const char* what) {
  throw std::system_error(std::make_error_code(std::errc::operation_not_permitted), what);
}
}  // namespace

shared_mutex::~shared_mutex() {
  core_.check_idle(max_readers,
                   "weft::shared_mutex destroyed while tasks wait for it (their queue nodes "
                   "would dangle)",
                   "weft::shared_mutex destroyed while locked (its guards would unlock freed "
                   "memory)");
}

void unique_guard::unlock() {
  if (m_ == nullptr) {
    throw_not_owned("weft::unique_guard::unlock: the guard owns no lock (moved from, "
                    "default-constructed, or already unlocked)");
  }
  shared_mutex* m = m_;
  m_ = nullptr;
  m->core_.release(shared_mutex::max_readers);
}

void shared_guard::unlock() {
  if (m_ == nullptr) {
    throw_not_owned("weft::shared_guard::unlock: the guard owns no lock (moved from, "
                    "default-constructed, or already unlocked)");
  }
  shared_mutex* m = m_;
  m_ = nullptr;
  m->core_.release(1);
}

}  // namespace weft
