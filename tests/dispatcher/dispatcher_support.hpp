// Helpers shared by the dispatcher tests.
#pragma once

#include <weft/channel.hpp>
#include <weft/dispatcher.hpp>
#include <weft/runtime.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <utility>

namespace dispatcher_test {

/// An unbounded mpsc channel as two named members (lambdas cannot capture
/// structured bindings on every supported compiler).
template <class T>
struct chan {
  chan() : chan(weft::mpsc::unbounded_channel<T>()) {}
  weft::mpsc::unbounded_sender<T> tx;
  weft::mpsc::receiver<T> rx;

 private:
  explicit chan(std::pair<weft::mpsc::unbounded_sender<T>, weft::mpsc::receiver<T>> p)
      : tx(std::move(p.first)), rx(std::move(p.second)) {}
};

/// Receive one value, driving `rt` meanwhile (a current-thread runtime runs
/// its tasks, the dispatchers' pumps among them, only inside block_on).
template <class T>
T recv_on(weft::runtime& rt, weft::mpsc::receiver<T>& rx) {
  weft::result<T> r = rt.block_on(rx.recv());
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return std::move(r.value());
}

/// Counts its own destruction (a moved-from one does not count). Passed by
/// value to a coroutine it lives in the frame from creation, so it also
/// counts the destruction of a task that never ran.
class destroy_counter {
 public:
  explicit destroy_counter(std::atomic<int>* n) noexcept : n_(n) {}
  destroy_counter(destroy_counter&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  destroy_counter& operator=(destroy_counter&&) = delete;
  ~destroy_counter() {
    if (n_ != nullptr) n_->fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<int>* n_;
};

/// An observer that sends 1 on `tx`.
inline std::function<void(weft::dispatcher_ref)> observe_into(
    weft::mpsc::unbounded_sender<int> tx) {
  return [tx](weft::dispatcher_ref) { (void)tx.send(1); };
}

}  // namespace dispatcher_test
