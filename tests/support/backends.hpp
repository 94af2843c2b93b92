// Run an I/O test on both runtime flavours and both I/O backends: derive the
// fixture from weft_test::on_each_backend and instantiate it with
//   INSTANTIATE_TEST_SUITE_P(Backends, Fixture, weft_test::each_backend(),
//                            weft_test::backend_name);
// and, for socket tests, on the simulation's in-memory network under several
// seeds (each seed its own instance, so a failure names it):
//   INSTANTIATE_TEST_SUITE_P(Simulated, Fixture, weft_test::each_simulated_seed(),
//                            weft_test::backend_name);
#pragma once

#include <weft/runtime.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>

namespace weft_test {

/// Flavour, backend, and the seed of a simulation (0 on the others).
using backend_params = std::tuple<weft::runtime_flavor, weft::io_backend_choice, std::uint64_t>;

class on_each_backend : public ::testing::TestWithParam<backend_params> {
 protected:
  [[nodiscard]] bool simulated() const {
    return std::get<0>(GetParam()) == weft::runtime_flavor::simulation;
  }
  weft::runtime rt = build();

 private:
  weft::runtime build() const {
    weft::runtime_builder b;
    b.flavor(std::get<0>(GetParam()))
        .io_backend(std::get<1>(GetParam()))
        .rng_seed(std::get<2>(GetParam()));
    if (simulated()) {
      // Windows as large as a kernel's socket buffers (these tests write a
      // 64 KiB message before the peer reads), the default faults otherwise.
      weft::simulated_network n;
      n.min_window = 128 << 10;
      n.max_window = 256 << 10;
      b.simulated_network(n);
    }
    return b.build();
  }
};

/// io_uring only, on both flavours (what epoll has no counterpart of):
/// instantiate with weft_test::each_flavor() (support/flavors.hpp).
class on_uring_each_flavor : public ::testing::TestWithParam<weft::runtime_flavor> {
 protected:
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(GetParam())
                         .io_backend(weft::io_backend_choice::io_uring)
                         .build();
};

inline auto each_backend() {
  return ::testing::Combine(::testing::Values(weft::runtime_flavor::multi_thread,
                                              weft::runtime_flavor::current_thread),
                            ::testing::Values(weft::io_backend_choice::io_uring,
                                              weft::io_backend_choice::epoll),
                            ::testing::Values(std::uint64_t{0x9e3779b97f4a7c15ull}));
}

/// The simulation flavour (its in-memory network, default faults) under
/// seeds 1…8.
inline auto each_simulated_seed() {
  return ::testing::Combine(::testing::Values(weft::runtime_flavor::simulation),
                            ::testing::Values(weft::io_backend_choice::automatic),
                            ::testing::Range(std::uint64_t{1}, std::uint64_t{9}));
}

inline std::string backend_name(const ::testing::TestParamInfo<backend_params>& info) {
  if (std::get<0>(info.param) == weft::runtime_flavor::simulation) {
    return "simulation_seed" + std::to_string(std::get<2>(info.param));
  }
  std::string s = std::get<0>(info.param) == weft::runtime_flavor::multi_thread ? "multi_thread"
                                                                                : "current_thread";
  s += std::get<1>(info.param) == weft::io_backend_choice::epoll ? "_epoll" : "_io_uring";
  return s;
}

}  // namespace weft_test
