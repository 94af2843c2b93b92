// src/time/timer_wheel.hpp — the hierarchical timing wheel behind a worker's time driver.
//
// Shape. 6 levels x 64 slots, 1 tick = 1 ms. A slot of level L covers 64^L ticks, so level L
// as a whole covers 64^(L+1) ticks and the wheel spans 64^6 = 2^36 ticks (~2.2 years). Each
// slot is the head of an intrusive doubly linked list of timer_entry; each level keeps a
// uint64_t bitmap of its non-empty slots.
//
// Placement (level_for). Write a tick in base 64: digit L is bits [6L, 6L+6). An entry goes
// to the level of the most significant digit in which its deadline differs from elapsed():
//   level = (index of highest set bit of ((elapsed ^ deadline) | 63)) / 6
// (the `| 63` only keeps bit_width away from 0 for equal ticks; it never changes the level
// of ticks that differ, whose highest differing bit is what counts). Its slot is the
// deadline's digit at that level. Because deadline > elapsed and all higher digits agree, the
// slot's digit is strictly ahead of elapsed's digit at that level: the slot is "due" at the
// tick where that digit starts (lower digits zero), which is > elapsed and <= deadline.
// Consequence used by next_expiration(): a level-L slot is due inside the current
// 64^(L+1)-aligned window, a level-(L+1) slot only after that window ends, so the earliest
// due slot is on the lowest non-empty level, found with one rotate + count-trailing-zeros.
//
// Cascading. advance() repeatedly takes the earliest due slot <= now, moves elapsed() to its
// tick and detaches its list. Entries whose deadline equals that tick expire; the others
// (only possible on levels > 0) are re-placed from the new elapsed(), which always puts them
// on a strictly lower level since they now agree with elapsed() in digit L too. An entry
// therefore moves at most 6 times in its life and never fires before its deadline.
//
// The clamp. A deadline in a later 2^36-aligned window than elapsed() (which includes every
// deadline 2^36 or more ticks ahead, and also near ones just across a window edge) makes
// level_for say 6 or more; it is clamped into the top level, at the deadline's top digit.
// The top level is the only one that wraps: a top slot at or behind elapsed's top digit is
// due at that digit's start in the NEXT window. Either way the slot comes due at a tick
// > elapsed and <= the deadline (the deadline lies in that slot or in a later window), so a
// clamped entry never fires early: when its slot comes due it is re-placed from there,
// clamped again if still out of reach, i.e. it hops about once per 2^36 ticks (~2.2 years)
// and then cascades down normally.
//
// Why O(1). insert: one XOR, one bit_width, a list push and a bit set. remove: the entry
// records its level and slot, so unlinking is a pointer splice plus maybe a bit clear.
// next_expiration: at most 6 bitmap probes. advance: amortised O(1) per entry (<= 6 moves)
// plus O(1) per due slot visited.
//
// Expiry and re-entrancy. Entries due at a tick are first moved, without running any user
// code, onto a wheel-owned "expired" list (level_ == expired_level); then they are popped one
// at a time and passed to on_expired. on_expired may therefore insert or remove any entry,
// including ones still waiting on the expired list (remove() unlinks them from it, and they
// do not fire), and may re-insert the one it was given. It must not call advance().
//
// Not thread-safe, no atomics: the per-worker time driver holds its mutex around every call.
// The wheel never allocates; entries live in their owners' memory (awaiters in coroutine
// frames) and must be removed before they are destroyed.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>

#include <weft/detail/timer_entry.hpp>

namespace weft::detail {

class timer_wheel {
 public:
  static constexpr unsigned levels = 6;
  static constexpr unsigned slots_per_level = 64;

  /// Value of timer_entry::level_ for an entry on the expired list (due, not yet handed to
  /// on_expired). Only visible to on_expired callers that inspect other entries.
  static constexpr std::uint8_t expired_level = levels;

  explicit timer_wheel(std::uint64_t start_tick = 0) noexcept : elapsed_(start_tick) {
    // INVARIANT: wrapped top-level slots are due up to 2^37 ticks ahead; keep that
    // arithmetic from overflowing (2^64 ms is ~5.8e8 years, so this costs nothing).
    assert(start_tick <= max_tick);
  }
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  ~timer_wheel() {
    // INVARIANT: owners remove their entries before the wheel dies; a linked entry would
    // otherwise point into freed memory.
    assert(empty());
    // Release builds: leave survivors consistently unlinked, so an owner's later remove() is
    // a no-op instead of a write into this dead object.
    for (unsigned level = 0; level < levels; ++level) {
      for (unsigned slot = 0; slot < slots_per_level; ++slot) unlink_all(slots_[level][slot]);
    }
    unlink_all(expired_head_);
  }

  /// Link `e` (e.deadline set by caller, e not linked). A deadline <= elapsed() is
  /// returned as `false` without linking: the caller fires it at once. Otherwise true.
  [[nodiscard]] bool insert(timer_entry& e) noexcept {
    // INVARIANT: linking a linked entry would corrupt the list it is already on.
    assert(!e.linked_);
    if (e.deadline <= elapsed_) return false;
    place(e);
    ++size_;
    return true;
  }

  /// Unlink `e` if linked; no-op otherwise. O(1).
  void remove(timer_entry& e) noexcept {
    if (!e.linked_) return;
    if (e.level_ == expired_level) {
      unlink_from(expired_head_, e);
    } else {
      unlink_from(slots_[e.level_][e.slot_], e);
      if (slots_[e.level_][e.slot_] == nullptr) occupied_[e.level_] &= ~(1ULL << e.slot_);
    }
    e.linked_ = false;
    --size_;
  }

  /// The tick of the earliest slot that holds an entry (a lower bound on the earliest
  /// deadline, never later than it), or nullopt if empty. Used as the park timeout.
  /// Exact for level-0 entries (deadline < next multiple of 64 above elapsed()).
  [[nodiscard]] std::optional<std::uint64_t> next_expiration() const noexcept {
    // Entries already due (only observable from inside on_expired) are due now.
    if (expired_head_ != nullptr) return elapsed_;
    if (auto due = next_due()) return due->tick;
    return std::nullopt;
  }

  /// Advance time to `now` (monotonic; smaller values are ignored). Every entry with
  /// deadline <= now is unlinked and passed to on_expired(timer_entry&), in
  /// non-decreasing deadline order across slots; entries of higher levels whose slot
  /// comes due are cascaded down, not fired early. While on_expired runs, elapsed() equals
  /// the fired entry's deadline. on_expired may insert()/remove() any entry (including
  /// re-inserting the one it got) but must not call advance(). If on_expired throws, the
  /// other entries already due stay linked and fire at the start of the next advance().
  /// Returns the number fired.
  template <class F>
  std::size_t advance(std::uint64_t now, F&& on_expired) {
    // INVARIANT: not re-entered from on_expired; the slot walk below assumes it owns time.
    assert(!advancing_);
    // INVARIANT: as in the constructor, keeps the due-tick arithmetic from overflowing.
    assert(now <= max_tick);
    advancing_ = true;
    struct reset_guard {
      bool& flag;
      ~reset_guard() { flag = false; }
    } guard{advancing_};

    std::size_t fired = fire_expired(on_expired);  // leftovers of a throwing on_expired
    while (now > elapsed_) {
      std::optional<due_slot> due = next_due();
      if (!due || due->tick > now) {
        elapsed_ = now;
        break;
      }
      // INVARIANT: time only moves forward, and never past an entry that has not fired.
      assert(due->tick > elapsed_);
      elapsed_ = due->tick;
      expire_slot(due->level, due->slot);
      fired += fire_expired(on_expired);
    }
    return fired;
  }

  [[nodiscard]] std::uint64_t elapsed() const noexcept { return elapsed_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }  // linked entries

 private:
  static constexpr unsigned bits_per_level = 6;  // log2(slots_per_level)
  static constexpr std::uint64_t slot_mask = slots_per_level - 1;
  static constexpr std::uint64_t wheel_span = 1ULL << (bits_per_level * levels);  // 2^36
  // Farthest tick the wheel is asked to reach; leaves headroom for wheel_span arithmetic.
  static constexpr std::uint64_t max_tick = ~0ULL - 4 * wheel_span;

  static_assert(slots_per_level == 64, "occupied_ bitmaps are one uint64_t per level");

  struct due_slot {
    unsigned level;
    unsigned slot;
    std::uint64_t tick;  // when the slot comes due: its first tick after elapsed_
  };

  static constexpr std::uint64_t slot_ticks(unsigned level) noexcept {
    return 1ULL << (bits_per_level * level);
  }

  static constexpr unsigned digit(std::uint64_t tick, unsigned level) noexcept {
    return static_cast<unsigned>((tick >> (bits_per_level * level)) & slot_mask);
  }

  // The level of the most significant base-64 digit where `when` differs from `elapsed`;
  // may exceed levels - 1 when `when` lies in a later 2^36-aligned window.
  static constexpr unsigned level_for(std::uint64_t elapsed, std::uint64_t when) noexcept {
    const std::uint64_t masked = (elapsed ^ when) | slot_mask;
    return static_cast<unsigned>(std::bit_width(masked) - 1) / bits_per_level;
  }

  // Links `e` (deadline > elapsed_) at the slot that comes due first without passing it.
  void place(timer_entry& e) noexcept {
    unsigned level = level_for(elapsed_, e.deadline);
    // The clamp: a deadline in a later 2^36 window goes to the (wrapping) top level.
    if (level >= levels) level = levels - 1;
    const unsigned slot = digit(e.deadline, level);
    e.level_ = static_cast<std::uint8_t>(level);
    e.slot_ = static_cast<std::uint8_t>(slot);
    e.linked_ = true;
    push_front(slots_[level][slot], e);
    occupied_[level] |= 1ULL << slot;
  }

  // The earliest non-empty slot and its due tick. Every slot of level L is due before any
  // slot of level L+1 (see the header comment), so the lowest non-empty level decides.
  std::optional<due_slot> next_due() const noexcept {
    for (unsigned level = 0; level < levels; ++level) {
      const std::uint64_t bits = occupied_[level];
      if (bits == 0) continue;
      // Search from the digit after elapsed's: slots past it are due in this window, the
      // ones at or before it (top level only) in the next; the rotation orders them so.
      const unsigned start = (digit(elapsed_, level) + 1) & slot_mask;
      const std::uint64_t rotated = std::rotr(bits, static_cast<int>(start));
      const auto ahead = static_cast<unsigned>(std::countr_zero(rotated));
      const unsigned slot = (start + ahead) & static_cast<unsigned>(slot_mask);
      const std::uint64_t window = slot_ticks(level + 1);
      std::uint64_t tick = (elapsed_ & ~(window - 1)) + slot * slot_ticks(level);
      if (tick <= elapsed_) {
        // INVARIANT: only the top level holds entries due in the next window (the clamp).
        assert(level == levels - 1);
        tick += window;
      }
      return due_slot{level, slot, tick};
    }
    return std::nullopt;
  }

  // elapsed_ has just reached the tick of (level, slot): move its due entries onto the
  // expired list and cascade the rest down. Runs no user code, so walking the detached list
  // cannot be disturbed by insert()/remove().
  void expire_slot(unsigned level, unsigned slot) noexcept {
    timer_entry* e = slots_[level][slot];
    slots_[level][slot] = nullptr;
    occupied_[level] &= ~(1ULL << slot);
    while (e != nullptr) {
      timer_entry* const next = e->next_;
      // INVARIANT: a slot comes due no later than any deadline in it (never fire late).
      assert(e->deadline >= elapsed_);
      if (e->deadline == elapsed_) {
        e->level_ = expired_level;
        push_front(expired_head_, *e);
      } else {
        // INVARIANT: a level-0 slot holds exactly one deadline, its due tick.
        assert(level > 0);
        place(*e);  // lands on a lower level, or hops down the top level if clamped
      }
      e = next;
    }
  }

  // Hands every entry on the expired list to on_expired, one at a time, re-reading the head
  // each time because on_expired may remove entries from the list.
  template <class F>
  std::size_t fire_expired(F& on_expired) {
    std::size_t fired = 0;
    while (timer_entry* e = expired_head_) {
      unlink_from(expired_head_, *e);
      e->linked_ = false;
      --size_;
      ++fired;
      on_expired(*e);
    }
    return fired;
  }

  static void push_front(timer_entry*& head, timer_entry& e) noexcept {
    e.prev_ = nullptr;
    e.next_ = head;
    if (head != nullptr) head->prev_ = &e;
    head = &e;
  }

  static void unlink_from(timer_entry*& head, timer_entry& e) noexcept {
    if (e.prev_ != nullptr) {
      e.prev_->next_ = e.next_;
    } else {
      // INVARIANT: an entry without a predecessor is the head of the list it is on.
      assert(head == &e);
      head = e.next_;
    }
    if (e.next_ != nullptr) e.next_->prev_ = e.prev_;
    e.prev_ = nullptr;
    e.next_ = nullptr;
  }

  static void unlink_all(timer_entry*& head) noexcept {
    while (timer_entry* e = head) {
      head = e->next_;
      e->prev_ = nullptr;
      e->next_ = nullptr;
      e->linked_ = false;
    }
  }

  std::uint64_t elapsed_;
  std::size_t size_ = 0;
  timer_entry* expired_head_ = nullptr;  // due entries not yet handed to on_expired
  bool advancing_ = false;               // catches advance() re-entered from on_expired
  std::uint64_t occupied_[levels] = {};  // bit s set <=> slots_[level][s] != nullptr
  timer_entry* slots_[levels][slots_per_level] = {};
};

}  // namespace weft::detail
