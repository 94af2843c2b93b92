// io_op_list — a FIFO of waiting I/O operations linked through io_op::next
// and io_op::prev (no allocation). Not synchronised: its owner's lock guards
// it (io_source's readers and writers, an accept queue's waiters).
#pragma once

#include <weft/detail/io_op.hpp>
#include <weft/waker.hpp>

#include <utility>

namespace weft::detail {

/// Whether an op waits for its descriptor to be readable (a reader) rather
/// than writable: reads, receives and accepts.
inline bool is_read_op(io_opcode code) noexcept {
  switch (code) {
    case io_opcode::read:
    case io_opcode::readv:
    case io_opcode::recv:
    case io_opcode::recv_buffered:
    case io_opcode::recvmsg:
    case io_opcode::accept:
      return true;
    default:
      return false;
  }
}

struct io_op_list {
  io_op* head = nullptr;
  io_op* tail = nullptr;

  [[nodiscard]] bool empty() const noexcept { return head == nullptr; }

  void push(io_op& op) noexcept {
    op.next = nullptr;
    op.prev = tail;
    if (tail != nullptr) {
      tail->next = &op;
    } else {
      head = &op;
    }
    tail = &op;
  }

  void remove(io_op& op) noexcept {
    if (op.prev != nullptr) {
      op.prev->next = op.next;
    } else {
      head = op.next;
    }
    if (op.next != nullptr) {
      op.next->prev = op.prev;
    } else {
      tail = op.prev;
    }
    op.next = op.prev = nullptr;
  }
};

/// After the lock is dropped: each op of `done` (linked through next, each
/// `completing` with its result set) becomes `completed` and its task is
/// woken. An op may be gone as soon as it is completed.
inline void finish_completing(io_op* done) noexcept {
  while (done != nullptr) {
    io_op* next = done->next;
    done->next = nullptr;
    waker w = std::move(done->wake_on_done);
    // ORDERING: release: publishes `result`; pairs with the acquire in
    // io_op::is_completed (the resumed task, a waiting canceller).
    done->state.store(io_op::completed, std::memory_order_release);
    w.wake();  // `done` may be gone now
    done = next;
  }
}

}  // namespace weft::detail
