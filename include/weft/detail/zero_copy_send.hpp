// weft/detail/zero_copy_send.hpp — a send whose bytes the kernel takes from
// the caller's memory instead of copying them (io_uring's IORING_OP_SEND_ZC),
// behind stream_socket::write_all_zero_copy.
//
// Design
// ------
// With SEND_ZC the kernel keeps reading the buffer after the send's result
// has come: its first CQE (IORING_CQE_F_MORE set) gives the byte count, and a
// second one (IORING_CQE_F_NOTIF, same user_data) says the kernel no longer
// uses the memory — on TCP once the peer has acknowledged, on loopback once
// the peer has read. A peer that stops reading holds the buffer for as long
// as it likes. So the memory cannot belong to a frame that a timeout, a
// cancellation or shutdown destroys: it belongs to a heap record that two
// parties own, counted in `refs`:
//   - the writer (write_all_zero_copy's frame: one reference, dropped when
//     the frame goes, however it ends), and
//   - the kernel (one reference per SEND_ZC whose notification has not come,
//     taken by the driver when it submits one and dropped at that SEND_ZC's
//     last CQE: the notification, or a first CQE without F_MORE).
// Whoever drops the last frees the record and the buffer in it.
//
// Two tracks per operation. The op (the io_op this record is) is what the
// task waits for; its state machine is io_op's (io_op.hpp). The kernel track
// is the reference above. Normally the op completes at the notification, so
// write_all_zero_copy hands the buffer back for reuse. When the op must end
// before it — its task is cancelled, the runtime shuts down — the op
// completes at once and the record stays with the driver until the
// notification (owner thread of the ring that sent it):
//
//   idle ─start─┬─ plain send (epoll; no SEND_ZC; socket refused it) ─ io_op's machine
//               └─ SEND_ZC queued, refs+1, on the driver's pending list ─► sent_wait
//   sent_wait ─ first CQE ─┬─ no F_MORE (no notification follows):
//               │          │     refs-1, off the list ───────────────► op completed (its result)
//               │          ├─ -EOPNOTSUPP (not TCP; the socket remembered), or -ECANCELED
//               │          │     because its submitting thread exited: resent as a plain
//               │          │     send — once the notification has come if F_MORE says one will
//               │          ├─ F_MORE, cancel asked or quiescing ─────► op completed; record
//               │          │     waits on the list for the notification (the driver's)
//               │          └─ F_MORE ──────────────────────────────────► notif_wait
//   notif_wait ─┬─ notification: refs-1, off the list ───────────────► op completed (the count)
//               └─ cancel (owner, or handed over by another thread) ─► op completed now;
//                     the record waits on the list for the notification
//   on the list ─ notification: refs-1, off the list; the last reference frees it
//   on the list when the driver is destroyed (a peer that never read): the
//     record moves to a process-wide quarantine and is never freed — freeing
//     it would let the kernel send whatever later reuses the memory.
//
// Thread rules: `refs` is the only field two threads touch (the writer's
// drop may run on whichever thread destroys the task); the rest of the
// record is the op's (io_op's rules) or the owning driver's.
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/detail/sync_shim.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::detail {

struct zero_copy_record : io_op {
  std::vector<std::byte> data;
  /// The writer's reference plus one per SEND_ZC whose notification is
  /// outstanding (see the top of this file).
  sync::atomic<std::uint32_t> refs{1};
  // Owner thread of the ring that sent it:
  bool copy = false;               // this op goes as a plain send
  bool awaiting_notification = false;  // notif_wait: the op completes at the notification
  bool resend_at_notification = false;  // refused or orphaned: resent as a copy then
  zero_copy_record* pending_next = nullptr;  // on the driver's list of records
  zero_copy_record* pending_prev = nullptr;  // with a notification outstanding

  zero_copy_record();
  ~zero_copy_record();
  zero_copy_record(const zero_copy_record&) = delete;
  zero_copy_record& operator=(const zero_copy_record&) = delete;
};

/// Drop one reference (any thread); the last frees the record.
void zero_copy_unref(zero_copy_record& r) noexcept;

/// Counters of the zero-copy path, process-wide (relaxed: statistics; a
/// test reads them after the operations it counts have completed).
struct zero_copy_counters {
  std::uint64_t zero_copy_sends = 0;   // SEND_ZC requests submitted
  std::uint64_t results_before_notification = 0;  // their first CQEs with F_MORE (a
                                                   // notification to follow)
  std::uint64_t notifications = 0;     // their notifications reaped
  std::uint64_t copied_sends = 0;      // ops of write_all_zero_copy sent as plain sends
  std::uint64_t records_alive = 0;     // records not yet freed (quarantined included)
  std::uint64_t quarantined = 0;       // records kept for the process's life
};
zero_copy_counters zero_copy_stats() noexcept;
/// Counters, for the drivers.
void zero_copy_count_send(bool zero_copy) noexcept;
void zero_copy_count_result_before_notification() noexcept;
void zero_copy_count_notification() noexcept;
/// The driver that held `r` is going away with its notification outstanding.
void zero_copy_quarantine(zero_copy_record& r) noexcept;

/// One op of write_all_zero_copy: data[offset, end) of `r` on `h` (at most
/// 0x7ffff000 bytes, as send(2) takes). The op of `r` must be idle or
/// completed: the awaiter starts it afresh. Its destructor makes sure the op
/// has completed (io_abandon: cancel, then wait — which a notification never
/// delays: a cancelled op completes without it).
class zero_copy_send_awaiter : private cancel_hook {
 public:
  zero_copy_send_awaiter(zero_copy_record& r, io_handle& h, std::size_t offset) noexcept;
  zero_copy_send_awaiter(const zero_copy_send_awaiter&) = delete;
  zero_copy_send_awaiter& operator=(const zero_copy_send_awaiter&) = delete;
  ~zero_copy_send_awaiter();

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return io_start(*r_, h, this); }
  /// Bytes sent (>= 0) or a negated errno.
  std::int32_t await_resume() noexcept { return r_->result; }

 private:
  static bool cancel_op(cancel_hook* self) noexcept {
    return io_request_cancel(*static_cast<zero_copy_send_awaiter*>(self)->r_);
  }
  zero_copy_record* r_;
};

}  // namespace weft::detail
