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
// Memory order (see model_sync.hpp for what is and is not modeled): the
// record keeps the atomic's last stores (its modification order) with the
// clock each release published, and per thread the stores it accessed; a
// non-seq_cst load may read a retained store that coherence and
// happens-before still allow (a choice point), an acquire joins the
// released clock. compare_exchange_weak never fails spuriously.
// Outside an execution (no current model thread) operations act directly on
// the latest value, without scheduling.
#pragma once

#include <weft/detail/model/execution.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <utility>
#include <vector>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace weft::detail::model {

inline bool is_acquire(std::memory_order o) noexcept {
  return o == std::memory_order_acquire || o == std::memory_order_acq_rel ||
         o == std::memory_order_seq_cst || o == std::memory_order_consume;
}
inline bool is_release(std::memory_order o) noexcept {
  return o == std::memory_order_release || o == std::memory_order_acq_rel ||
         o == std::memory_order_seq_cst;
}

// An atomic's modification order (its last stores) and, per thread, the
// stores it has seen (for coherence).
template <class T>
struct atomic_record : object_record {
  struct entry {
    T value;
    vclock rel;  // what an acquire reading this store synchronises with
  };
  std::deque<entry> hist;  // the newest last; hist[0] is store number `base`
  std::size_t base = 0;
  // Per thread: (that thread's clock at the access, store number accessed),
  // in program order. A thread may not read a store older than one accessed
  // by an access that happens-before it.
  std::array<std::vector<std::pair<std::uint32_t, std::size_t>>, 8> seen;

  std::size_t last() const noexcept { return base + hist.size() - 1; }
  entry& at(std::size_t n) { return hist[n - base]; }
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
    execution* ex = current();
    rec_ = ex != nullptr ? ex->make_record<atomic_record<T>>() : new atomic_record<T>();
    rec_->hist.push_back({v, vclock{}});
    if (ex != nullptr) {
      // The initialisation is a store by this thread, seen by it.
      rec_->seen[ex->self()].emplace_back(ex->clock()[ex->self()], 0);
    }
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

  T load(std::memory_order o = std::memory_order_seq_cst) const {
    execution* ex = enter("load");
    if (ex == nullptr) return rec_->hist.back().value;
    const std::size_t n = read_index(ex, o);
    const T v = rec_->at(n).value;
    ex->record(n == rec_->last() ? "load" : "load (STALE store)", rec_->id, bits_of(v), 0, 1);
    return v;
  }
  void store(T v, std::memory_order o = std::memory_order_seq_cst) {
    execution* ex = enter("store");
    if (ex == nullptr) {
      rec_->hist.back().value = v;
      return;
    }
    push(ex, v, is_release(o) ? ex->clock() : vclock{});
    ex->record("store", rec_->id, bits_of(v), 0, 1);
  }
  operator T() const { return load(); }  // NOLINT: implicit, as std::atomic
  T operator=(T v) {
    store(v);
    return v;
  }
  T exchange(T v, std::memory_order o = std::memory_order_seq_cst) {
    return rmw("exchange", o, [v](T) { return v; });
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order s,
                               std::memory_order f) {
    execution* ex = enter("cas");
    const T old = latest();
    if (bits_of(old) == bits_of(expected)) {
      if (ex == nullptr) {
        rec_->hist.back().value = desired;
        return true;
      }
      rmw_at_latest(ex, s, desired);
      ex->record("cas ok", rec_->id, bits_of(old), bits_of(desired), 2);
      return true;
    }
    // A failed CAS is a load of the latest store (not a stale one: a bound
    // of this model).
    if (ex != nullptr) {
      observe(ex, rec_->last(), f);
      ex->record("cas FAIL (current, expected)", rec_->id, bits_of(old), bits_of(expected), 2);
    }
    expected = old;
    return false;
  }
  bool compare_exchange_strong(T& expected, T desired,
                               std::memory_order o = std::memory_order_seq_cst) {
    return compare_exchange_strong(expected, desired, o, failure_order(o));
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order s,
                             std::memory_order f) {
    return compare_exchange_strong(expected, desired, s, f);
  }
  bool compare_exchange_weak(T& expected, T desired,
                             std::memory_order o = std::memory_order_seq_cst) {
    return compare_exchange_strong(expected, desired, o, failure_order(o));
  }

  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_add(T d, std::memory_order o = std::memory_order_seq_cst) {
    return rmw("fetch_add", o, [d](T v) { return static_cast<T>(v + d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_sub(T d, std::memory_order o = std::memory_order_seq_cst) {
    return rmw("fetch_sub", o, [d](T v) { return static_cast<T>(v - d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_and(T d, std::memory_order o = std::memory_order_seq_cst) {
    return rmw("fetch_and", o, [d](T v) { return static_cast<T>(v & d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_or(T d, std::memory_order o = std::memory_order_seq_cst) {
    return rmw("fetch_or", o, [d](T v) { return static_cast<T>(v | d); });
  }
  template <class U = T, class = std::enable_if_t<std::is_integral_v<U>>>
  T fetch_xor(T d, std::memory_order o = std::memory_order_seq_cst) {
    return rmw("fetch_xor", o, [d](T v) { return static_cast<T>(v ^ d); });
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
  static std::memory_order failure_order(std::memory_order o) noexcept {
    if (o == std::memory_order_acq_rel) return std::memory_order_acquire;
    if (o == std::memory_order_release) return std::memory_order_relaxed;
    return o;
  }
  T latest() const { return rec_->hist.back().value; }

  template <class F>
  T rmw(const char* op, std::memory_order o, F f) {
    execution* ex = enter(op);
    const T old = latest();
    const T next = f(old);
    if (ex == nullptr) {
      rec_->hist.back().value = next;
      return old;
    }
    rmw_at_latest(ex, o, next);
    ex->record(op, rec_->id, bits_of(old), bits_of(next), 2);
    return old;
  }
  // A read-modify-write reads the latest store (atomicity) and continues its
  // release sequence.
  void rmw_at_latest(execution* ex, std::memory_order o, T next) {
    const std::size_t n = rec_->last();
    observe(ex, n, o);
    vclock rel = rec_->at(n).rel;
    if (is_release(o)) join_clock(rel, ex->clock());
    push(ex, next, rel);
  }
  void push(execution* ex, T v, const vclock& rel) {
    rec_->hist.push_back({v, rel});
    const std::size_t keep = std::max<std::size_t>(1, std::min<std::size_t>(8, ex->opts().history));
    while (rec_->hist.size() > keep) {
      rec_->hist.pop_front();
      ++rec_->base;
    }
    rec_->seen[ex->self()].emplace_back(ex->clock()[ex->self()], rec_->last());
  }
  // Read store n: coherence bookkeeping, and an acquire synchronises with
  // the store's release sequence.
  void observe(execution* ex, std::size_t n, std::memory_order o) const {
    rec_->seen[ex->self()].emplace_back(ex->clock()[ex->self()], n);
    if (is_acquire(o)) join_clock(ex->clock(), rec_->at(n).rel);
  }
  // Which store a load reads: the latest, or (weak memory, not seq_cst) an
  // older one no access that happens-before this load has gone past.
  std::size_t read_index(execution* ex, std::memory_order o) const {
    std::size_t n = rec_->last();
    if (ex->opts().weak_memory && o != std::memory_order_seq_cst) {
      std::size_t floor = rec_->base;
      const vclock& mine = ex->clock();
      for (std::size_t t = 0; t < rec_->seen.size(); ++t) {
        const auto& s = rec_->seen[t];
        for (auto it = s.rbegin(); it != s.rend(); ++it) {
          if (it->first <= mine[t]) {
            floor = std::max(floor, it->second);
            break;
          }
        }
      }
      const auto choices = static_cast<unsigned>(n - floor + 1);
      n -= ex->choose_store(choices);  // 0 = the latest
    }
    observe(ex, n, o);
    return n;
  }
  execution* enter(const char* op) const {
    execution* ex = current();
    if (ex == nullptr) return nullptr;
    ex->check_alive(*rec_, op);  // before the point: report at the access
    ex->point();
    ex->check_alive(*rec_, op);  // freed while this thread waited its turn
    return ex;
  }

  atomic_record<T>* rec_;
};

}  // namespace weft::detail::model
