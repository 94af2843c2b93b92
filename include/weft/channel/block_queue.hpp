// weft/channel/block_queue.hpp — the FIFO of values inside an mpsc channel.
//
// Design
// ------
// A queue of fixed blocks of `block_size` slots, linked head to tail. Values
// are constructed in place in a slot and destroyed when popped, so a push or a
// pop moves the value exactly once and allocates nothing while a block has
// room. Emptied blocks go to a free list and are reused, so a channel in
// steady state (a producer and a consumer keeping pace) never allocates:
//   - bounded channels keep every block they ever used (at most
//     capacity / block_size + 2): after warming up, no allocation at all, and
//     a channel of capacity 1'000'000 only ever allocates the blocks it needs;
//   - unbounded channels keep up to `max_free` spare blocks and free the rest,
//     so a burst does not pin its memory for ever.
// Growing never moves a stored value (unlike a doubling ring buffer).
//
// Not synchronised: the owning channel's lock guards it. T must be nothrow
// move constructible (checked by the channels), so a push can only fail by
// bad_alloc, before anything changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace weft::chan_detail {

template <class T, std::size_t block_size = 32>
class block_queue {
  struct block {
    block* next = nullptr;
    alignas(T) unsigned char storage[block_size * sizeof(T)];
    T* at(std::size_t i) noexcept {
      return std::launder(reinterpret_cast<T*>(storage + i * sizeof(T)));
    }
    void* raw(std::size_t i) noexcept { return storage + i * sizeof(T); }
  };

 public:
  /// Keep at most `max_free` spare blocks; start with `prealloc` of them.
  explicit block_queue(std::size_t max_free = 8, std::size_t prealloc = 0) : max_free_(max_free) {
    for (std::size_t i = 0; i < prealloc; ++i) put_block(new block);
  }
  block_queue(const block_queue&) = delete;
  block_queue& operator=(const block_queue&) = delete;
  ~block_queue() {
    clear();
    free_blocks(head_);
    free_blocks(free_);
  }

  /// Exchange contents (values, blocks and spares) with `o`.
  void swap(block_queue& o) noexcept {
    std::swap(head_, o.head_);
    std::swap(tail_, o.tail_);
    std::swap(head_i_, o.head_i_);
    std::swap(tail_i_, o.tail_i_);
    std::swap(size_, o.size_);
    std::swap(free_, o.free_);
    std::swap(free_count_, o.free_count_);
    std::swap(max_free_, o.max_free_);
  }

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Append. Throws only std::bad_alloc (then nothing changed).
  void push_back(T&& v) {
    if (tail_ == nullptr || tail_i_ == block_size) {
      block* b = get_block();  // may throw: nothing changed yet
      b->next = nullptr;
      if (tail_ == nullptr) {
        head_ = b;
        head_i_ = 0;
      } else {
        tail_->next = b;
      }
      tail_ = b;
      tail_i_ = 0;
    }
    ::new (tail_->raw(tail_i_)) T(std::move(v));
    ++tail_i_;
    ++size_;
  }

  /// Insert before the oldest value (a value handed back by a cancelled
  /// receiver). Throws only std::bad_alloc (then nothing changed).
  void push_front(T&& v) {
    if (size_ == 0) {
      push_back(std::move(v));
      return;
    }
    if (head_i_ == 0) {
      block* b = get_block();
      b->next = head_;
      head_ = b;
      head_i_ = block_size;
    }
    --head_i_;
    ::new (head_->raw(head_i_)) T(std::move(v));
    ++size_;
  }

  /// Remove and return the oldest value. Precondition: !empty().
  T pop_front() noexcept {
    T* p = head_->at(head_i_);
    T v(std::move(*p));
    p->~T();
    advance_head();
    return v;
  }

 private:
  void advance_head() noexcept {
    ++head_i_;
    --size_;
    if (size_ == 0) {
      // head_ == tail_ here: the popped value was the last one pushed. Keep
      // the block and start it over (its earlier slots are free).
      head_i_ = tail_i_ = 0;
    } else if (head_i_ == block_size) {
      block* done = head_;
      head_ = head_->next;
      head_i_ = 0;
      put_block(done);
    }
  }

 public:

  /// pop_front, moving the value straight into `out` (one move, not two).
  template <class Opt>
  void pop_front_into(Opt& out) noexcept {
    T* p = head_->at(head_i_);
    out.emplace(std::move(*p));
    p->~T();
    advance_head();
  }

  /// Destroy every value (the blocks are kept as spares, up to max_free).
  void clear() noexcept {
    while (size_ != 0) (void)pop_front();
  }

 private:
  block* get_block() {
    if (free_ != nullptr) {
      block* b = free_;
      free_ = b->next;
      --free_count_;
      return b;
    }
    return new block;
  }
  void put_block(block* b) noexcept {
    if (free_count_ >= max_free_) {
      delete b;
      return;
    }
    b->next = free_;
    free_ = b;
    ++free_count_;
  }
  static void free_blocks(block* b) noexcept {
    while (b != nullptr) delete std::exchange(b, b->next);
  }

  block* head_ = nullptr;    // oldest value at head_->at(head_i_)
  block* tail_ = nullptr;    // next push at tail_->at(tail_i_) (tail_i_ == block_size: full)
  std::uint32_t head_i_ = 0;
  std::uint32_t tail_i_ = 0;
  std::size_t size_ = 0;
  block* free_ = nullptr;  // spare blocks, singly linked through next
  std::size_t free_count_ = 0;
  std::size_t max_free_;
};

}  // namespace weft::chan_detail
