// weft/channel/state_handle.hpp — the pointer a channel handle (sender,
// receiver) holds to the channel's shared state, with the handle plumbing
// every channel repeats: move (the source becomes empty, "moved from"),
// copy (for copyable handles: the state counts one more handle), swap,
// drop on destruction, and the moved-from check that throws
// std::logic_error with the caller's message.
//
// The state's hooks are member functions passed as template arguments, so
// they are called directly (inlined): no indirection on the hot paths.
//   unique_state<State, &State::drop_x>                  move-only handle
//   shared_state<State, &State::add_x, &State::drop_x>   copyable handle
#pragma once

#include <weft/channel/send_result.hpp>  // throw_channel_misuse

#include <utility>

namespace weft::chan_detail {

/// Move-only: owns one hold on the state (released by `(st->*Drop)()`).
template <class State, auto Drop>
class unique_state {
 public:
  unique_state() noexcept = default;
  /// Adopts a hold the caller already made.
  explicit unique_state(State* st) noexcept : st_(st) {}
  unique_state(unique_state&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  unique_state& operator=(unique_state&& o) noexcept {
    unique_state(std::move(o)).swap(*this);
    return *this;
  }
  unique_state(const unique_state&) = delete;
  unique_state& operator=(const unique_state&) = delete;
  ~unique_state() {
    if (st_ != nullptr) (st_->*Drop)();
  }
  void swap(unique_state& o) noexcept { std::swap(st_, o.st_); }

  /// Null once moved from (or released).
  [[nodiscard]] State* get() const noexcept { return st_; }
  State* operator->() const noexcept { return st_; }
  /// Give up the hold without dropping it (the caller takes it over).
  [[nodiscard]] State* release() noexcept { return std::exchange(st_, nullptr); }

  /// The state; throws std::logic_error with `what` on a moved-from handle.
  State* checked(const char* what) const {
    if (st_ == nullptr) weft::detail::throw_channel_misuse(what);
    return st_;
  }

 private:
  State* st_ = nullptr;
};

/// Copyable: a copy makes one more hold (`(st->*Add)()`).
template <class State, auto Add, auto Drop>
class shared_state : public unique_state<State, Drop> {
  using base = unique_state<State, Drop>;

 public:
  shared_state() noexcept = default;
  explicit shared_state(State* st) noexcept : base(st) {}
  shared_state(const shared_state& o) noexcept : base(o.get()) {
    if (this->get() != nullptr) (this->get()->*Add)();
  }
  shared_state(shared_state&& o) noexcept = default;
  shared_state& operator=(const shared_state& o) noexcept {
    shared_state(o).swap(*this);
    return *this;
  }
  shared_state& operator=(shared_state&& o) noexcept {
    shared_state(std::move(o)).swap(*this);
    return *this;
  }
  ~shared_state() = default;
};

}  // namespace weft::chan_detail
