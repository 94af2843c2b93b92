// src/sync/semaphore.cpp — weft::semaphore's out-of-line parts (the queue is
// fifo_permits.cpp).
#include <weft/sync/semaphore.hpp>

#include <stdexcept>
#include <string>

namespace weft {

namespace {
std::size_t checked_initial(std::size_t permits) {
  if (permits > semaphore::max_permits) {
    throw std::invalid_argument("weft::semaphore: " + std::to_string(permits) +
                                " initial permits exceed semaphore::max_permits (" +
                                std::to_string(semaphore::max_permits) + ")");
  }
  return permits;
}
}  // namespace

semaphore::semaphore(std::size_t permits) : core_(checked_initial(permits)) {}

semaphore::~semaphore() {
  core_.check_idle(detail::fifo_permits::no_check,
                   "weft::semaphore destroyed while tasks wait for it (their queue nodes would "
                   "dangle)",
                   "");
}

void semaphore::check_request(std::size_t n, const char* who) {
  if (n > max_permits) {
    throw std::invalid_argument(std::string(who) + ": a request for " + std::to_string(n) +
                                " permits exceeds semaphore::max_permits (" +
                                std::to_string(max_permits) + ") and could never be granted");
  }
}

void semaphore::release(std::size_t n) {
  if (!core_.add(n, max_permits)) {
    throw std::overflow_error("weft::semaphore::release: adding " + std::to_string(n) +
                              " permits would make more than semaphore::max_permits (" +
                              std::to_string(max_permits) + ") free");
  }
}

}  // namespace weft
