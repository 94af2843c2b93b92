// Run an I/O test on both runtime flavours and both I/O backends: derive the
// fixture from weft_test::on_each_backend and instantiate it with
//   INSTANTIATE_TEST_SUITE_P(Backends, Fixture, weft_test::each_backend(),
//                            weft_test::backend_name);
#pragma once

#include <weft/runtime.hpp>

#include <gtest/gtest.h>

#include <string>
#include <tuple>

namespace weft_test {

using backend_params = std::tuple<weft::runtime_flavor, weft::io_backend_choice>;

class on_each_backend : public ::testing::TestWithParam<backend_params> {
 protected:
  weft::runtime rt = weft::runtime_builder{}
                         .flavor(std::get<0>(GetParam()))
                         .io_backend(std::get<1>(GetParam()))
                         .build();
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
                                              weft::io_backend_choice::epoll));
}

inline std::string backend_name(const ::testing::TestParamInfo<backend_params>& info) {
  std::string s = std::get<0>(info.param) == weft::runtime_flavor::multi_thread ? "multi_thread"
                                                                                : "current_thread";
  s += std::get<1>(info.param) == weft::io_backend_choice::epoll ? "_epoll" : "_io_uring";
  return s;
}

}  // namespace weft_test
