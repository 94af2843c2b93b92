// The public park-hook calls: they act on the slot of the runner driving this
// thread (scheduler/park_hook_slot.hpp), set by block_on and by a
// current-thread runtime's block_on for as long as they run.
#include <weft/park_hook.hpp>

#include "scheduler/park_hook_slot.hpp"

namespace weft {
namespace detail {

park_hook_slot*& current_park_hook_slot() noexcept {
  thread_local park_hook_slot* slot = nullptr;
  return slot;
}

}  // namespace detail

std::error_code install_park_hook(const park_hook& hook) noexcept {
  detail::park_hook_slot* slot = detail::current_park_hook_slot();
  if (slot == nullptr) return make_error_code(errc::park_hook_conflict);
  return slot->install(hook);
}

bool remove_park_hook(const park_hook& hook) noexcept {
  detail::park_hook_slot* slot = detail::current_park_hook_slot();
  return slot != nullptr && slot->remove(hook);
}

std::optional<park_hook> installed_park_hook() noexcept {
  detail::park_hook_slot* slot = detail::current_park_hook_slot();
  if (slot == nullptr) return std::nullopt;
  return slot->installed();
}

}  // namespace weft
