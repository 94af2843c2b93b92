// park_hook_slot — where a runner keeps the park hook installed on it.
//
// One slot per park driver (include/weft/park_hook.hpp has the public side).
// The owner — the runner's thread — installs, removes and blocks in the hook;
// any thread may interrupt it, through the driver's unpark.
//
// Why a lock: an unparker that saw the owner PARKED calls hook.interrupt()
// while the owner may, having woken for its own reasons, remove the hook and
// return, after which the hook's source may be destroyed. interrupt() runs
// under mu_ and removal takes mu_, so once clear()/remove() returns no
// interrupt is in progress or can start. The lock is taken only by those two
// and by an unpark that must actually wake a parked owner whose slot has a
// hook; a driver without a hook (every multi-thread worker) never takes it.
//
// Why the unparker sees the hook: the owner installs it (under mu_) during a
// task step, before it parks. Its CAS to PARKED is a release and the
// unparker's exchange that reads PARKED an acquire (park_token.hpp), so the
// unparker's lock of mu_ comes after the install's unlock.
#pragma once

#include <weft/detail/sync_shim.hpp>
#include <weft/error.hpp>
#include <weft/park_hook.hpp>

#include <optional>
#include <system_error>

namespace weft::detail {

class park_hook_slot {
 public:
  /// Owner thread. See weft::install_park_hook.
  std::error_code install(const park_hook& h) noexcept {
    if (!h) return make_error_code(errc::park_hook_conflict);
    if (active()) return h == hook_ ? std::error_code{} : make_error_code(errc::park_hook_conflict);
    sync::lock_guard<sync::mutex> lock(mu_);
    hook_ = h;
    // ORDERING: relaxed: ordered for unparkers by the owner's release CAS to
    // PARKED (see the file comment) and by mu_.
    active_.store(true, std::memory_order_relaxed);
    return {};
  }
  /// Owner thread: remove `h` if installed.
  bool remove(const park_hook& h) noexcept {
    if (!active() || !(h == hook_)) return false;
    clear();
    return true;
  }
  /// Owner thread: remove whatever is installed (the runner returns).
  void clear() noexcept {
    if (!active()) return;
    sync::lock_guard<sync::mutex> lock(mu_);
    // ORDERING: relaxed: under mu_, which interrupt() takes before it calls
    // the hook; an unparker that reads a stale true just takes the lock.
    active_.store(false, std::memory_order_relaxed);
    hook_ = park_hook{};
  }
  /// Owner thread (no lock: only the owner writes).
  [[nodiscard]] bool active() const noexcept {
    // ORDERING: relaxed: the owner reads its own writes.
    return active_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::optional<park_hook> installed() const noexcept {
    if (!active()) return std::nullopt;
    return hook_;
  }
  /// Owner thread: block in the hook. Precondition: active().
  void block(const park_request& r) const noexcept { hook_.block(r); }
  /// Any thread, after the owner was seen PARKED: interrupt the hook if one
  /// is installed. False if none is (the caller wakes the owner its own way).
  bool interrupt() noexcept {
    // Fast path for the drivers that never get a hook (every multi-thread
    // worker): no lock on their wakes.
    // ORDERING: relaxed: the caller's acquire exchange that read PARKED pairs
    // with the owner's release CAS to PARKED, which follows any install; a
    // false here means no hook was installed when the owner parked.
    if (!active_.load(std::memory_order_relaxed)) return false;
    sync::lock_guard<sync::mutex> lock(mu_);
    // ORDERING: relaxed: under mu_ (clear() writes it under mu_ too).
    if (!active_.load(std::memory_order_relaxed)) return false;
    hook_.interrupt();
    return true;
  }

 private:
  sync::mutex mu_;
  park_hook hook_;  // written under mu_ by the owner
  // Written under mu_ by the owner; read by the owner freely, by unparkers
  // first without the lock (a hint), then under it.
  sync::atomic<bool> active_{false};
};

/// The slot of the runner driving this thread (nullptr: none takes hooks).
park_hook_slot*& current_park_hook_slot() noexcept;

/// Makes `slot` this thread's for the scope; on exit clears it (the hook is
/// removed when the runner returns) and restores the previous one.
class park_hook_scope {
 public:
  explicit park_hook_scope(park_hook_slot* slot) noexcept
      : slot_(slot), prev_(current_park_hook_slot()) {
    current_park_hook_slot() = slot;
  }
  park_hook_scope(const park_hook_scope&) = delete;
  park_hook_scope& operator=(const park_hook_scope&) = delete;
  ~park_hook_scope() {
    if (slot_ != nullptr) slot_->clear();
    current_park_hook_slot() = prev_;
  }

 private:
  park_hook_slot* slot_;
  park_hook_slot* prev_;
};

}  // namespace weft::detail
