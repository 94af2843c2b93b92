// weft scheduler — per-worker bounded run queue with steal-half.
//
// DESIGN
// ------
// A ring of `Capacity` slots (power of two), each an atomic `T*`, indexed by
// free-running 32-bit positions; a position p lives in slot `p & (Capacity-1)`.
// All position arithmetic is unsigned and wraps modulo 2^32, so "a - b" is the
// distance from b forward to a even across the wrap.
//
//   tail_ (uint32)   next position the owner writes. Only the owner stores it.
//   head_ (uint64)   two packed uint32 positions:
//                      high half = steal: first slot a thief may still be
//                                  reading; slots in [steal, tail) are not
//                                  free for the owner to overwrite.
//                      low half  = real:  first task not yet claimed by anyone;
//                                  [real, tail) are the queued tasks.
//                    steal == real  <=> no steal in progress.
//
//   queued  = tail - real      (what pop / steal may take)
//   in use  = tail - steal     (what push must not overwrite; <= Capacity)
//
// Owner operations:
//   push:  if tail - steal < Capacity, write slot[tail], then release-store
//          tail + 1. Otherwise see OVERFLOW.
//   pop:   CAS head (steal, real) -> (steal', real + 1), where steal' = real+1
//          when no steal is in progress and stays `steal` otherwise; on
//          success the task in slot[real] belongs to the owner.
//
// STEAL PROTOCOL (steal_into, run by the thief = the owner of `dst`):
//   1. Check `dst` has at least Capacity/2 free slots; if not, give up (a
//      steal never moves more than Capacity/2 tasks, so they then all fit).
//   2. Load src head; if steal != real another thief is mid-steal: give up.
//   3. Acquire-load src tail; n = ceil((tail - real) / 2). If n == 0 give up.
//   4. CAS src head (real, real) -> (real, real + n). Success claims the
//      positions [real, real + n) for this thief; the unchanged steal half
//      tells the owner those slots are still being read and must not be
//      reused, and tells other thieves to back off. On failure (owner popped /
//      overflowed, or another thief won) go back to 2 with the fresh value.
//   5. Copy the n task pointers from src slots into dst slots
//      [dst_tail, dst_tail + n).
//   6. CAS src head (steal, real_now) -> (real_now, real_now), retrying with
//      the fresh real if the owner popped meanwhile: this releases the slots
//      (release ordering: the reads in 5 happen-before any owner overwrite).
//   7. Keep the last copied task to return it; publish the other n - 1 in dst
//      by release-storing dst tail += n - 1.
//
// WHY ONLY ONE CONCURRENT THIEF
//   The owner decides whether a slot is free from a single number, `steal`.
//   With two thieves holding two claimed ranges, a single marker cannot say
//   which range has been copied out; we would need per-thief bookkeeping (or
//   per-slot sequence numbers) to know when each range is reusable. Allowing
//   one thief keeps the whole protocol in one 64-bit CAS word. A second thief
//   sees steal != real in step 2 and returns nullptr at once; it will try
//   another victim, which is what a work-stealing loop does anyway.
//
// OVERFLOW (push on a full queue, owner only)
//   If no steal is in progress, the owner claims the Capacity/2 oldest tasks
//   with one CAS of head (real, real) -> (real+half, real+half), links them
//   plus the new task through `queue_next_` (oldest first) and hands the chain
//   to `overflow(head, tail, Capacity/2 + 1)` — normally the inject queue.
//   If a thief is mid-steal, the queue is about to gain room but the owner
//   cannot claim tasks the thief is between; it hands over only the new task
//   (`overflow(t, t, 1)`). If the claim CAS loses to a thief, push retries.
//
// Head is 64 bits with 32-bit halves so that the CASes are immune to ABA
// unless a thief is suspended across 2^32 pushes.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <weft/detail/sync_shim.hpp>

namespace weft::detail {

template <class T, std::size_t Capacity = sync::local_queue_capacity>
class local_queue {
  static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0,
                "local_queue Capacity must be a power of two >= 2");
  static_assert(Capacity <= (std::size_t{1} << 31),
                "local_queue Capacity must leave room in 32-bit positions");

  using pos_t = std::uint32_t;
  using packed_t = std::uint64_t;

  static constexpr pos_t capacity_ = static_cast<pos_t>(Capacity);
  static constexpr pos_t mask_ = capacity_ - 1;
  static constexpr pos_t half_ = capacity_ / 2;

 public:
  local_queue() {
    static_assert(std::is_same_v<decltype(std::declval<T&>().queue_next_), T*>,
                  "T must have a public member `T* queue_next_`");
  }

  ~local_queue() {
    // INVARIANT: tasks are never dropped silently; the scheduler drains (or
    // the worker runs) every task before its queue is destroyed.
    assert(!has_tasks() && "local_queue destroyed while holding tasks");
  }

  local_queue(const local_queue&) = delete;
  local_queue& operator=(const local_queue&) = delete;

  // ---------------------------------------------------------------- owner

  /// Push at the tail. If full, moves the Capacity/2 oldest tasks plus `t`
  /// (as one chain through queue_next_, oldest first) into
  /// `overflow(T* head, T* tail, std::size_t n)`; if a thief is mid-steal it
  /// hands over only `t` (n == 1). `overflow` must take ownership of the whole
  /// chain; the tasks are no longer in this queue when it is called.
  template <class Overflow>
  void push_back_or_overflow(T* t, Overflow&& overflow) {
    // INVARIANT: a task is in at most one queue at a time.
    assert(t != nullptr);
    for (;;) {
      // ORDERING: acquire; pairs with the release CAS in steal_into step 6
      // (release_steal), so every thief read of a slot we may now reuse
      // happened-before our store into it below.
      const packed_t head = head_.load(std::memory_order_acquire);
      const pos_t steal = steal_of(head);
      const pos_t real = real_of(head);
      // ORDERING: relaxed; only the owner (this thread) stores tail_.
      const pos_t tail = tail_.load(std::memory_order_relaxed);

      if (static_cast<pos_t>(tail - steal) < capacity_) {
        // ORDERING: relaxed; published by the release store of tail_ below.
        slots_[tail & mask_].store(t, std::memory_order_relaxed);
        // ORDERING: release; publishes the slot write (and the task's own
        // fields); pairs with the acquire load of tail_ in claim() (thieves).
        tail_.store(tail + 1, std::memory_order_release);
        return;
      }
      if (steal != real) {
        // A thief is between its claim and its release: room is coming, but
        // the oldest tasks are not ours to move. Hand over just this task.
        t->queue_next_ = nullptr;
        overflow(t, t, std::size_t{1});
        return;
      }
      if (T* first = claim_overflow(real, tail, t)) {
        overflow(first, t, std::size_t{half_} + 1);
        return;
      }
      // The claim lost to a thief: re-read and retry.
    }
  }

  /// Pop from the head (FIFO for the owner). nullptr if empty.
  T* pop() noexcept {
    // ORDERING: acquire; pairs with the release CASes of thieves in
    // claim()/release_steal() so the (steal, real) pair we build on is current
    // enough for the CAS below to be meaningful; a stale value only fails it.
    packed_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      const pos_t steal = steal_of(head);
      const pos_t real = real_of(head);
      // ORDERING: relaxed; only the owner (this thread) stores tail_.
      const pos_t tail = tail_.load(std::memory_order_relaxed);
      if (real == tail) return nullptr;

      const pos_t next_real = real + 1;
      // No thief: steal follows real. Thief mid-steal: leave its marker.
      const packed_t next =
          steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      // ORDERING: acq_rel on success; the acquire half pairs with thieves'
      // release CASes (as above). The release half is not needed for data —
      // slot contents reach thieves through tail_ — and is kept so every
      // successful head_ RMW by the owner is a release. acquire on failure:
      // same pairing as the initial load; the fresh value feeds the retry.
      if (head_.compare_exchange_strong(head, next, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        // SAFETY: the successful CAS moved real past this position, so no
        // thief can claim it; the slot was written by this thread.
        // ORDERING: relaxed; our own earlier store, sequenced before.
        return slots_[real & mask_].load(std::memory_order_relaxed);
      }
    }
  }

  /// True if at least one task is queued (may race with thieves).
  bool has_tasks() const noexcept { return len() != 0; }

  /// Number of queued tasks; approximate while other threads are active.
  std::size_t len() const noexcept {
    // ORDERING: acquire; pairs with release CASes on head_ (pop, claim,
    // overflow). Loaded before tail_ so that tail - real cannot go negative
    // (tail only moves forward and real <= tail at every instant).
    const pos_t real = real_of(head_.load(std::memory_order_acquire));
    // ORDERING: acquire; pairs with the release store of tail_ in push.
    const pos_t tail = tail_.load(std::memory_order_acquire);
    const pos_t n = tail - real;
    // A racing observer can see a tail newer than its head snapshot.
    return n > capacity_ ? Capacity : std::size_t{n};
  }

  /// Free slots for push without overflow. Owner only.
  std::size_t remaining_slots() const noexcept {
    // ORDERING: acquire; pairs with the release CAS in release_steal(), so
    // slots counted free here are really done being read.
    const pos_t steal = steal_of(head_.load(std::memory_order_acquire));
    // ORDERING: relaxed; only the owner (the caller) stores tail_.
    const pos_t tail = tail_.load(std::memory_order_relaxed);
    return std::size_t{capacity_ - static_cast<pos_t>(tail - steal)};
  }

  // --------------------------------------------------------------- thieves

  /// Steal half of this queue's tasks (rounding up) into `dst`. Called by
  /// dst's owner. Returns one stolen task (not placed in dst), or nullptr if
  /// nothing was stolen: this queue empty, another thief mid-steal here, or
  /// dst has fewer than Capacity/2 free slots.
  T* steal_into(local_queue& dst) noexcept {
    // INVARIANT: a worker never steals from itself.
    assert(&dst != this);
    // ORDERING: relaxed; the caller owns dst, only it stores dst.tail_.
    const pos_t dst_tail = dst.tail_.load(std::memory_order_relaxed);
    // ORDERING: acquire; pairs with the release CAS in dst's release_steal(),
    // so dst slots we are about to overwrite are done being read by dst's
    // thieves.
    const pos_t dst_steal = steal_of(dst.head_.load(std::memory_order_acquire));
    // Step 1.
    if (static_cast<pos_t>(dst_tail - dst_steal) > capacity_ - half_) {
      return nullptr;
    }

    pos_t first = 0;
    const pos_t n = claim(first);  // Steps 2-4.
    if (n == 0) return nullptr;

    // Step 5.
    for (pos_t i = 0; i < n; ++i) {
      // SAFETY: [first, first + n) is claimed by us (claim() succeeded) and
      // the owner cannot overwrite it until release_steal(); the dst slots are
      // free per step 1 and n <= Capacity/2.
      // ORDERING: relaxed; visibility comes from the acquire load of tail_ in
      // claim() that observed a tail >= first + n (the owner's release store
      // published these slot writes).
      T* task = slots_[(first + i) & mask_].load(std::memory_order_relaxed);
      // ORDERING: relaxed; published by the release store of dst.tail_ below
      // (or, for the returned task, only read back by this thread).
      dst.slots_[(dst_tail + i) & mask_].store(task, std::memory_order_relaxed);
    }

    release_steal(first + n);  // Step 6.

    // Step 7.
    const pos_t keep = n - 1;
    // ORDERING: relaxed; this thread's own store above.
    T* ret = dst.slots_[(dst_tail + keep) & mask_].load(
        std::memory_order_relaxed);
    if (keep != 0) {
      // ORDERING: release; publishes the copied slots into dst; pairs with the
      // acquire load of tail_ in claim() by dst's thieves.
      dst.tail_.store(dst_tail + keep, std::memory_order_release);
    }
    return ret;
  }

 private:
  static constexpr packed_t pack(pos_t steal, pos_t real) noexcept {
    return (packed_t{steal} << 32) | packed_t{real};
  }
  static constexpr pos_t steal_of(packed_t h) noexcept {
    return static_cast<pos_t>(h >> 32);
  }
  static constexpr pos_t real_of(packed_t h) noexcept {
    return static_cast<pos_t>(h);
  }

  // Owner, queue full, no steal in progress (head == (real, real)). Claims the
  // half_ oldest tasks and returns them linked oldest-first with `t` appended
  // (t->queue_next_ == nullptr), or nullptr if a thief changed head first.
  T* claim_overflow(pos_t real, [[maybe_unused]] pos_t tail, T* t) {
    // INVARIANT: only called when the queue is exactly full.
    assert(static_cast<pos_t>(tail - real) == capacity_);
    packed_t expected = pack(real, real);
    // ORDERING: acq_rel on success; the acquire half pairs with the release
    // CAS of the last thief's release_steal() that produced (real, real), so
    // its slot reads finished before we relink and later overwrite these
    // slots (the push loop's acquire load already gave us this; the CAS keeps
    // it local). The release half carries no data: thieves never read the
    // claimed slots. relaxed on failure: the value is discarded and the push
    // loop re-loads head_ with acquire.
    if (!head_.compare_exchange_strong(expected,
                                       pack(real + half_, real + half_),
                                       std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
      return nullptr;
    }
    // SAFETY: the CAS made [real, real + half_) ours; no thief was mid-steal
    // (steal == real), and new thieves start at real + half_.
    // ORDERING (both loads): relaxed; this thread wrote the slots.
    T* first = slots_[real & mask_].load(std::memory_order_relaxed);
    T* prev = first;
    for (pos_t i = 1; i < half_; ++i) {
      T* cur = slots_[(real + i) & mask_].load(std::memory_order_relaxed);
      prev->queue_next_ = cur;
      prev = cur;
    }
    prev->queue_next_ = t;
    t->queue_next_ = nullptr;
    return first;
  }

  // Steps 2-4. Returns the number of tasks claimed (0 = nothing) and their
  // first position in `first`.
  pos_t claim(pos_t& first) noexcept {
    // ORDERING: acquire; pairs with the release CASes on head_ by the owner
    // (pop, overflow) and by the previous thief (release_steal).
    packed_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      const pos_t steal = steal_of(head);
      const pos_t real = real_of(head);
      if (steal != real) return 0;  // Another thief is mid-steal: back off.
      // ORDERING: acquire; pairs with the release store of tail_ in
      // push_back_or_overflow / steal_into step 7, making the slot writes for
      // every position below this tail visible to our relaxed slot loads.
      const pos_t tail = tail_.load(std::memory_order_acquire);
      const pos_t avail = tail - real;
      const pos_t n = avail - avail / 2;
      if (n == 0) return 0;
      // ORDERING: acq_rel on success; the acquire half pairs with the
      // release RMWs on head_ (owner pop/overflow, previous release_steal)
      // like the load above. The release half carries no data (the owner
      // never reads what we write here beyond the positions) and is kept for
      // uniformity. Success means head was unchanged since before the tail
      // load, which is what makes n consistent. acquire on failure: the
      // fresh value drives the retry (same pairing as the first load).
      if (head_.compare_exchange_strong(head, pack(steal, real + n),
                                        std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        // INVARIANT: the CAS saw head unchanged since before the tail load,
        // so tail - real was a consistent count <= Capacity.
        assert(n <= half_);
        first = real;
        return n;
      }
    }
  }

  // Step 6: move steal up to the (possibly advanced) real head, freeing the
  // slots we copied from. `claimed_end` is first + n, for the invariant.
  void release_steal([[maybe_unused]] pos_t claimed_end) noexcept {
    // ORDERING: relaxed; only used as the CAS expectation — the CAS itself
    // carries the ordering, and on failure we get a fresh value.
    packed_t head = head_.load(std::memory_order_relaxed);
    for (;;) {
      const pos_t real = real_of(head);
      // INVARIANT: only this thief moves steal while it differs from real,
      // and the owner never moves real backwards past our claimed range.
      assert(steal_of(head) != real);
      assert(static_cast<pos_t>(real - claimed_end) <= capacity_);
      // ORDERING: release on success; publishes "our slot reads are done";
      // pairs with the acquire loads of head_ in push_back_or_overflow and
      // remaining_slots (owner) before it reuses these slots. acquire is not
      // needed (we read nothing through it). relaxed on failure: value only
      // feeds the retry.
      if (head_.compare_exchange_strong(head, pack(real, real),
                                        std::memory_order_release,
                                        std::memory_order_relaxed)) {
        return;
      }
    }
  }

  // Owner-written, thief-read; head_ is written by everyone. Separate cache
  // lines keep the owner's pushes from invalidating thieves' head reads.
  alignas(64) sync::atomic<packed_t> head_{0};
  alignas(64) sync::atomic<pos_t> tail_{0};
  alignas(64) sync::atomic<T*> slots_[Capacity]{};
};

}  // namespace weft::detail
