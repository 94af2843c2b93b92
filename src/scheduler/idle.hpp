// idle — which workers are searching for work and which are parked.
//
// Design
// ------
// One atomic word counts searching and unparked workers; a mutex-guarded list
// holds the parked ones. The rules:
//
//   * At most half the workers search (steal) at once: more thieves only
//     contend on the same queues (transition_worker_to_searching).
//   * New work wakes at most one parked worker, and only if nobody is
//     searching already: a searcher will find it (worker_to_notify). The woken
//     worker starts out searching.
//   * The last searcher to stop searching, if it found work, wakes another
//     worker to keep looking (transition_worker_from_searching returns true);
//     the last searcher to park re-checks every queue first, so work pushed
//     while it was deciding to park is not stranded (the scheduler's
//     notify_if_work_pending).
//
// Why SeqCst on the state word: the pusher does "push work, then read the
// state" and the parker does "update the state, then read the queues". That is
// the store-load (Dekker) pattern; acquire/release cannot order a store before
// a later load, so both sides use SeqCst RMWs on this one word.
#pragma once

#include <weft/detail/sync_shim.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace weft::detail {

class idle {
 public:
  explicit idle(std::size_t num_workers)
      : num_workers_(static_cast<std::uint32_t>(num_workers)),
        state_(static_cast<std::uint32_t>(num_workers) << unparked_shift) {
    sleepers_.reserve(num_workers);
  }

  /// May this worker start searching? Counts it in if so.
  [[nodiscard]] bool transition_worker_to_searching() noexcept {
    // ORDERING: seq_cst: see the file comment (the Dekker pattern).
    const std::uint32_t s = state_.load(std::memory_order_seq_cst);
    if (2 * searching(s) >= num_workers_) return false;
    state_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }

  /// A searching worker found work (or gave up). True if it was the last
  /// searcher: the caller should wake another worker to search.
  [[nodiscard]] bool transition_worker_from_searching() noexcept {
    // ORDERING: seq_cst: see the file comment.
    const std::uint32_t prev = state_.fetch_sub(1, std::memory_order_seq_cst);
    return searching(prev) == 1;
  }

  /// The worker parks. True if it was the last searcher: the caller must then
  /// check every queue for work that arrived meanwhile.
  [[nodiscard]] bool transition_worker_to_parked(std::size_t worker, bool is_searching) {
    sync::lock_guard<sync::mutex> lock(mu_);
    const std::uint32_t dec = unparked_one + (is_searching ? 1u : 0u);
    // ORDERING: seq_cst: see the file comment.
    const std::uint32_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
    sleepers_.push_back(worker);
    return is_searching && searching(prev) == 1;
  }

  /// A worker to wake for new work, or nullopt if none should be (a worker is
  /// searching, or none is parked). The chosen worker is counted as unparked
  /// and searching.
  [[nodiscard]] std::optional<std::size_t> worker_to_notify() {
    if (!notify_should_wakeup()) return std::nullopt;
    sync::lock_guard<sync::mutex> lock(mu_);
    if (!notify_should_wakeup() || sleepers_.empty()) return std::nullopt;
    // ORDERING: seq_cst: see the file comment.
    state_.fetch_add(unparked_one + 1, std::memory_order_seq_cst);
    const std::size_t w = sleepers_.back();
    sleepers_.pop_back();
    return w;
  }

  /// After waking up: true if another thread unparked this worker through
  /// worker_to_notify (it is then counted as searching), false if it is still
  /// registered as parked (a timeout or spurious wake-up).
  [[nodiscard]] bool was_notified(std::size_t worker) {
    sync::lock_guard<sync::mutex> lock(mu_);
    return std::find(sleepers_.begin(), sleepers_.end(), worker) == sleepers_.end();
  }

  /// The worker leaves the parked set on its own (timers fired, shutdown).
  /// Returns true if it was still registered (it is now counted as unparked,
  /// not searching); false if a notifier took it (counted as searching).
  bool unpark_worker_by_id(std::size_t worker) {
    sync::lock_guard<sync::mutex> lock(mu_);
    auto it = std::find(sleepers_.begin(), sleepers_.end(), worker);
    if (it == sleepers_.end()) return false;
    sleepers_.erase(it);
    // ORDERING: seq_cst: see the file comment.
    state_.fetch_add(unparked_one, std::memory_order_seq_cst);
    return true;
  }

  [[nodiscard]] std::size_t num_searching() const noexcept {
    return searching(state_.load(std::memory_order_seq_cst));
  }

 private:
  static constexpr unsigned unparked_shift = 16;
  static constexpr std::uint32_t unparked_one = 1u << unparked_shift;
  static std::uint32_t searching(std::uint32_t s) noexcept { return s & 0xffff; }
  static std::uint32_t unparked(std::uint32_t s) noexcept { return s >> unparked_shift; }

  bool notify_should_wakeup() const noexcept {
    // ORDERING: a seq_cst fence, then a plain load. The caller has just pushed
    // work (a release store on a queue); the fence orders that store before
    // this load, pairing with the seq_cst RMW a parking worker makes on
    // state_ before it re-checks the queues (the Dekker pattern in the file
    // comment). A fence keeps the line shared between cores; a fetch_add(0)
    // would bounce it between them on every push (measured: a third of the
    // workers' time in a spawn-heavy benchmark).
    const std::uint32_t s = sync::load_after_full_barrier(state_);
    return searching(s) == 0 && unparked(s) < num_workers_;
  }

  const std::uint32_t num_workers_;
  // Low 16 bits: searching workers; high 16 bits: unparked workers.
  mutable sync::atomic<std::uint32_t> state_;
  sync::mutex mu_;
  std::vector<std::size_t> sleepers_;  // guarded by mu_
};

}  // namespace weft::detail
