// zero_copy_send — the record of a zero-copy write, its references and its
// counters (the protocol: include/weft/detail/zero_copy_send.hpp). What each
// backend does with the op is in its driver (uring_zero_copy.cpp; epoll and
// the copying fallback send it as a plain send).
#include <weft/detail/zero_copy_send.hpp>

#include <atomic>
#include <mutex>
#include <vector>

namespace weft::detail {
namespace {

// ORDERING: relaxed, all: statistics (see zero_copy_counters).
std::atomic<std::uint64_t> sends_zc{0};
std::atomic<std::uint64_t> sends_copied{0};
std::atomic<std::uint64_t> results_first{0};
std::atomic<std::uint64_t> notifications{0};
std::atomic<std::uint64_t> alive{0};
std::atomic<std::uint64_t> quarantined{0};

// Records whose driver went away before their notification: kept, and
// reachable (a leak checker sees them through this never-destroyed vector),
// for the life of the process.
std::mutex quarantine_mu;
std::vector<zero_copy_record*>* quarantine_list = nullptr;  // under quarantine_mu

}  // namespace

zero_copy_record::zero_copy_record() {
  code = io_opcode::send_zc;
  alive.fetch_add(1, std::memory_order_relaxed);  // ORDERING: relaxed: a statistic
}

zero_copy_record::~zero_copy_record() {
  alive.fetch_sub(1, std::memory_order_relaxed);  // ORDERING: relaxed: a statistic
}

void zero_copy_unref(zero_copy_record& r) noexcept {
  // ORDERING: acq_rel: release orders this party's last use of the record
  // before the free; acquire, for the party that frees it, sees every other
  // party's uses (the classic reference count).
  if (r.refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete &r;
}

zero_copy_counters zero_copy_stats() noexcept {
  zero_copy_counters c;
  // ORDERING: relaxed, all: statistics.
  c.zero_copy_sends = sends_zc.load(std::memory_order_relaxed);
  c.copied_sends = sends_copied.load(std::memory_order_relaxed);
  c.results_before_notification = results_first.load(std::memory_order_relaxed);
  c.notifications = notifications.load(std::memory_order_relaxed);
  c.records_alive = alive.load(std::memory_order_relaxed);
  c.quarantined = quarantined.load(std::memory_order_relaxed);
  return c;
}

void zero_copy_count_send(bool zero_copy) noexcept {
  // ORDERING: relaxed: statistics.
  (zero_copy ? sends_zc : sends_copied).fetch_add(1, std::memory_order_relaxed);
}

void zero_copy_count_result_before_notification() noexcept {
  results_first.fetch_add(1, std::memory_order_relaxed);  // ORDERING: relaxed: a statistic
}

void zero_copy_count_notification() noexcept {
  notifications.fetch_add(1, std::memory_order_relaxed);  // ORDERING: relaxed: a statistic
}

void zero_copy_quarantine(zero_copy_record& r) noexcept {
  std::lock_guard<std::mutex> lock(quarantine_mu);
  try {
    if (quarantine_list == nullptr) quarantine_list = new std::vector<zero_copy_record*>;
    quarantine_list->push_back(&r);
  } catch (...) {
    // No memory to remember it in: the record stays allocated anyway (it is
    // never freed); only a leak checker would now report it.
  }
  quarantined.fetch_add(1, std::memory_order_relaxed);  // ORDERING: relaxed: a statistic
}

zero_copy_send_awaiter::zero_copy_send_awaiter(zero_copy_record& r, io_handle& h,
                                               std::size_t offset) noexcept
    : cancel_hook{&cancel_op}, r_(&r) {
  const std::size_t left = r.data.size() - offset;
  r.handle = &h;
  r.fd = h.fd;
  r.buf = r.data.data() + offset;
  r.len = static_cast<std::uint32_t>(left > 0x7fff'f000 ? 0x7fff'f000 : left);  // as send(2) caps it
  r.flags = 0;
  r.result = 0;
  r.driver = nullptr;
  r.cancel_sent = false;
  r.copy = false;
  r.awaiting_notification = false;
  r.resend_at_notification = false;
  // ORDERING: relaxed: the op is idle or completed (its previous awaiter is
  // gone, having made sure of it); only this thread leaves `idle`.
  r.state.store(io_op::idle, std::memory_order_relaxed);
}

zero_copy_send_awaiter::~zero_copy_send_awaiter() {
  // ORDERING: relaxed: only the awaiter's own thread leaves `idle`.
  if (r_->state.load(std::memory_order_relaxed) != io_op::idle) {
    // Cancel and wait if still in flight (a path that should not exist, as
    // for every io_awaiter); a cancelled zero-copy op completes without
    // waiting for its notification.
    io_abandon(*r_, /*result_taken=*/true);
  }
}

}  // namespace weft::detail
