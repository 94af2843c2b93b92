// src/sync/mutex.cpp — weft::mutex's out-of-line parts (the queue is
// fifo_permits.cpp).
#include <weft/sync/mutex.hpp>

#include <system_error>

namespace weft {

mutex::~mutex() {
  core_.check_idle(1, "weft::mutex destroyed while tasks wait for it (their queue nodes would dangle)",
                   "weft::mutex destroyed while locked (its mutex_guard would unlock freed memory)");
}

void mutex_guard::unlock() {
  if (m_ == nullptr) {
    throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                            "weft::mutex_guard::unlock: the guard owns no lock (moved from, "
                            "default-constructed, or already unlocked)");
  }
  mutex* m = m_;
  m_ = nullptr;
  m->core_.release(1);
}

}  // namespace weft
