// weft/embedded/waker_list.hpp — the per-interrupt list of waiting tasks.
//
// Why: an operation that waits (a sleep, an event, a channel receive) arms its
// hardware, links an entry into the waker list of the interrupt that will end
// the wait, and suspends its task. The interrupt handler calls poll_waiters(),
// which walks the list and polls every entry once: the entry's poll function
// checks its own condition (deadline reached? event signalled? data there?)
// and, if it holds, the entry is unlinked and its task woken. The lists are
// fixed in number: each is a static object owned by the primitive that its
// interrupt drives (timer, irq_event, irq_channel), one per interrupt source.
//
// Ownership: a waker_entry lives inside the waiting awaiter, i.e. inside the
// waiting task's coroutine frame; the list only points at it. The entry is
// pinned (neither copyable nor movable) and its destructor unlinks it, so a
// task destroyed while it waits (cancelled, or the losing side of a select)
// leaves no dangling node behind. No allocation anywhere.
//
// Interrupt safety — the walk: every link and unlink happens with interrupts
// masked. The walk masks interrupts per entry only, so between two polls an
// interrupt of higher priority may run and link or unlink entries of this very
// list (a task it polls may be a select that also waits here). The walk is
// made safe against that by a marker node of its own, on its stack:
//   1. link the marker at the tail: the entries in front of it are the ones
//      this walk must poll, each exactly once;
//   2. pop the head. If it is the marker, the walk is done. Otherwise poll it:
//      ready → wake its task (which may destroy or re-link the entry, so the
//      walk never touches it again); pending → re-link it *behind* the marker;
//   3. repeat 2 with a fresh critical section.
// Because the walk only ever looks at the head, an entry removed by someone
// else simply never shows up, and an entry linked during the walk lands behind
// the marker and waits for the next interrupt. A second walk of the same list
// while one runs (a task polled by the walk signals the same event) does not
// nest: it sets rewalk_, and the running walk makes one more pass.
#pragma once

#include <weft/embedded/detail/assert.hpp>
#include <weft/embedded/detail/task_header.hpp>
#include <weft/embedded/platform.hpp>

namespace weft::embedded {

template <platform P>
class waker_list;

/// A pinned, intrusive node of a waker_list. Embedded (by inheritance) in every
/// awaiter that waits for an interrupt.
template <platform P>
class waker_entry {
 public:
  /// Returns true when the wait this entry stands for is over. Called with
  /// interrupts masked, from the walk; must not link or unlink entries.
  using poll_fn = bool (*)(waker_entry&) noexcept;

  explicit constexpr waker_entry(poll_fn poll) noexcept : poll_(poll) {}
  ~waker_entry() { unlink(); }
  waker_entry(const waker_entry&) = delete;
  waker_entry& operator=(const waker_entry&) = delete;

  /// Arm: wake `task` when `list` is walked and poll() returns true.
  void link(waker_list<P>& list, detail::task_header& task) noexcept {
    critical_section<P> cs;
    // INVARIANT: an entry waits in one list at a time.
    WEFT_EMBEDDED_ASSERT(list_ == nullptr);
    task_ = &task;
    list.push_back_unchecked(*this);
  }

  /// Disarm; does nothing if not linked (already woken, or never armed).
  void unlink() noexcept {
    critical_section<P> cs;
    if (list_ != nullptr) list_->remove_unchecked(*this);
  }

  [[nodiscard]] bool linked() const noexcept { return list_ != nullptr; }

 private:
  friend class waker_list<P>;
  waker_entry* prev_ = nullptr;
  waker_entry* next_ = nullptr;
  waker_list<P>* list_ = nullptr;
  detail::task_header* task_ = nullptr;
  poll_fn poll_;  // nullptr only for a walk's marker
};

template <platform P>
class waker_list {
 public:
  constexpr waker_list() noexcept = default;
  waker_list(const waker_list&) = delete;
  waker_list& operator=(const waker_list&) = delete;
  // A list must outlive its entries (lists are static). The destructor stays
  // trivial on purpose: a static with a non-trivial destructor would register
  // it with atexit from a dynamic initialiser, i.e. an .init_array entry.
  ~waker_list() = default;

  /// Poll every entry linked when the call starts, once, and wake the tasks
  /// whose wait is over. Called by the interrupt handler of this list's
  /// source; also callable from a task (the woken tasks are then queued).
  void poll_waiters() noexcept {
    {
      critical_section<P> cs;
      if (walking_) {  // a walk of this list is under way lower on the stack
        rewalk_ = true;
        return;
      }
      walking_ = true;
    }
    for (bool again = true; again;) {
      waker_entry<P> marker{nullptr};
      {
        critical_section<P> cs;
        rewalk_ = false;
        push_back_unchecked(marker);
      }
      for (;;) {
        critical_section<P> cs;
        waker_entry<P>* e = head_;
        // INVARIANT: only this walk unlinks its marker, so the list is not empty.
        WEFT_EMBEDDED_ASSERT(e != nullptr);
        if (e == &marker) {
          remove_unchecked(marker);
          again = rewalk_;
          walking_ = again;
          break;
        }
        remove_unchecked(*e);
        if (e->poll_(*e)) {
          // SAFETY: a linked entry's task is alive (the entry lives in its
          // frame). After this call `e` may be destroyed or linked again.
          detail::wake_unchecked(*e->task_);
        } else {
          push_back_unchecked(*e);
        }
      }
    }
  }

  [[nodiscard]] bool empty() const noexcept {
    critical_section<P> cs;
    return head_ == nullptr;
  }

 private:
  friend class waker_entry<P>;

  // SAFETY: interrupts masked; `e` not linked anywhere.
  void push_back_unchecked(waker_entry<P>& e) noexcept {
    WEFT_EMBEDDED_ASSERT(e.list_ == nullptr);  // INVARIANT: see SAFETY
    e.list_ = this;
    e.prev_ = tail_;
    e.next_ = nullptr;
    if (tail_ != nullptr) {
      tail_->next_ = &e;
    } else {
      head_ = &e;
    }
    tail_ = &e;
  }

  // SAFETY: interrupts masked; `e` linked in *this.
  void remove_unchecked(waker_entry<P>& e) noexcept {
    WEFT_EMBEDDED_ASSERT(e.list_ == this);  // INVARIANT: see SAFETY
    if (e.prev_ != nullptr) {
      e.prev_->next_ = e.next_;
    } else {
      head_ = e.next_;
    }
    if (e.next_ != nullptr) {
      e.next_->prev_ = e.prev_;
    } else {
      tail_ = e.prev_;
    }
    e.prev_ = e.next_ = nullptr;
    e.list_ = nullptr;
  }

  waker_entry<P>* head_ = nullptr;
  waker_entry<P>* tail_ = nullptr;
  bool walking_ = false;
  bool rewalk_ = false;
};

}  // namespace weft::embedded
