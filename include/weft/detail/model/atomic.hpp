// weft/detail/model/atomic.hpp — the model checker's atomic<T>.
//
// Life of a model atomic:
//
//   constructed ──(registers a record in the execution)──> alive
//   alive ──load/store/RMW: scheduling point, then the operation──> alive
//   alive ──destructor: record marked dead (kept until the execution ends)──> dead
//   dead ──any access──> failure "use after free", with both threads' steps
//
// The object holds only a pointer to its record (so sizeof(atomic<T>) is 8 and
// headers that static_assert their layout, like task_header, keep it); the
// value lives in the record. The record outlives the object, which is what
// lets an access through a destroyed atomic be reported instead of reading
// freed memory — as long as the *storage* of the destroyed object is still
// mapped (model tests keep it in a buffer they own).
//
// Memory order: every operation is sequentially consistent: it acts on the
// single current value, in the order the schedule picks. The memory_order
// arguments are accepted and ignored (see model_sync.hpp).
// compare_exchange_weak never fails spuriously.
// Outside an execution (no current model thread) operations act directly,
// without scheduling.
#pragma once

#include <weft/detail/model/execution.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace weft::detail::model {

template <class T>
struct atomic_record : object_record {
  T value{};
};

template <class T>
std::uint64_t bits_of(const T& v) noexcept {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "model atomics hold trivially copyable values of at most 8 bytes");
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}

template <class T>
class atomic {
 public:
  atomic() noexcept : atomic(T{}) {}
  atomic(T v) noexcept {  // NOLINT: implicit, as std::atomic
    if (execution* ex = current()) {
      rec_ = ex->make_record<atomic_record<T>>();
    } else {
      rec_ = new atomic_record<T>();
    }
    rec_->value = v;
  }
  atomic(const atomic&) = delete;
  atomic& operator=(const atomic&) = delete;
  ~atomic() {
    if (rec_->exec == nullptr) {
      delete rec_;
    } else if (execution* ex = current()) {
      ex->destroy_record(*rec_);
    }
  }

  T load(std::memory_order = std::memory_order_seq_cst) const {
    execution* ex = enter("load");
    T v = rec_->value;
    note(ex, "load", v);
    return v;
  }
  void store(T v, std::memory_order = std::memory_order_seq_cst) {
    execution* ex = enter("store");
    rec_->value = v;
    note(ex, "store", v);
  }
  operator T() const { return load(); }  // NOLINT: implicit, as std::atomic
  T operator=(T v) {
    store(v);
    return v;
  }
  T exchange(T v, std::memory_order = std::memory_order_seq_cst) {
    execution* ex = enter("exchange");
    T old = rec_->value;
    rec_->value = v;
    note2(ex, "exchange", old, v);
    return old;
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order = std::memory_order_seq_cst,
                               std::memory_order = std::memory_order_seq_cst) {
    execution* ex = enter("cas");
    const T old = rec_->value;
    if (bits_of(old) == bits_of(expected)) {
      rec_->value = desired;
      note2(ex, "cas ok", old, desired);
      return true;
    }
    note2(ex, "cas FAIL (current, expected)", old, expected);
    expected = old;
    return false;
  }
  bool compare_exchange_weak(T& expected, T desired,
                             std::memory_order s = std::memory_order_seq_cst,
                             std::memory_order f = std::memory_order_seq_cst) {
    return compare_exchange_strong(expected, desired, s, f);
  }

  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_add(T d, std::memory_order = std::memory_order_seq_cst) {
    return rmw("fetch_add", [d](T v) { return static_cast<T>(v + d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_sub(T d, std::memory_order = std::memory_order_seq_cst) {
    return rmw("fetch_sub", [d](T v) { return static_cast<T>(v - d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_and(T d, std::memory_order = std::memory_order_seq_cst) {
    return rmw("fetch_and", [d](T v) { return static_cast<T>(v & d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_or(T d, std::memory_order = std::memory_order_seq_cst) {
    return rmw("fetch_or", [d](T v) { return static_cast<T>(v | d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_xor(T d, std::memory_order = std::memory_order_seq_cst) {
    return rmw("fetch_xor", [d](T v) { return static_cast<T>(v ^ d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T operator++() {
    return static_cast<T>(fetch_add(1) + 1);
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T operator--() {
    return static_cast<T>(fetch_sub(1) - 1);
  }

  /// The model object id printed in schedules (obj<N>).
  std::uint64_t model_id() const noexcept { return rec_->id; }

 private:
  template <class F>
  T rmw(const char* op, F f) {
    execution* ex = enter(op);
    const T old = rec_->value;
    rec_->value = f(old);
    note2(ex, op, old, rec_->value);
    return old;
  }
  execution* enter(const char* op) const {
    execution* ex = current();
    if (ex == nullptr) return nullptr;
    ex->check_alive(*rec_, op);  // before the point: report at the access
    ex->point();
    ex->check_alive(*rec_, op);  // freed while this thread waited its turn
    return ex;
  }
  void note(execution* ex, const char* op, T v) const {
    if (ex != nullptr) ex->record(op, rec_->id, bits_of(v), 0, 1);
  }
  void note2(execution* ex, const char* op, T a, T b) const {
    if (ex != nullptr) ex->record(op, rec_->id, bits_of(a), bits_of(b), 2);
  }

  atomic_record<T>* rec_;
};

}  // namespace weft::detail::model
