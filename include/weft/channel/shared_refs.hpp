// weft/channel/shared_refs.hpp — the reference count of a channel's shared
// state (mpsc, broadcast, watch): every handle holds one reference; the
// state frees itself when the last one is dropped, as shared_ptr's control
// block does, but intrusive (one allocation, no control block).
//
// CRTP: `class state : public shared_refs<state>`, with the state's
// destructor private and `friend class shared_refs<state>;`. The count
// starts at 2: the sender and the receiver a channel() call returns.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include <cstddef>

namespace weft::chan_detail {

template <class Derived>
class shared_refs {
 public:
  shared_refs(const shared_refs&) = delete;
  shared_refs& operator=(const shared_refs&) = delete;

  void ref() noexcept {
    // ORDERING: relaxed: a new reference is made from a live one (shared_ptr).
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void unref() noexcept {
    // ORDERING: acq_rel: the release half publishes this holder's writes to
    // the thread that frees; the acquire half (on the last one) sees them all.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete static_cast<Derived*>(this);
  }

 protected:
  shared_refs() noexcept = default;
  ~shared_refs() = default;  // through unref()

 private:
  weft::detail::sync::atomic<std::size_t> refs_{2};  // the first sender + receiver
};

}  // namespace weft::chan_detail
