// Run a test on both runtime flavours: derive the fixture from
// weft_test::on_each_flavor and instantiate it with
//   INSTANTIATE_TEST_SUITE_P(Flavors, Fixture, weft_test::each_flavor(),
//                            weft_test::flavor_name);
#pragma once

#include <weft/runtime.hpp>

#include <gtest/gtest.h>

#include <string>

namespace weft_test {

class on_each_flavor : public ::testing::TestWithParam<weft::runtime_flavor> {
 protected:
  weft::runtime rt = weft::runtime_builder{}.flavor(GetParam()).build();
};

inline auto each_flavor() {
  return ::testing::Values(weft::runtime_flavor::multi_thread,
                           weft::runtime_flavor::current_thread);
}

inline std::string flavor_name(const ::testing::TestParamInfo<weft::runtime_flavor>& info) {
  return info.param == weft::runtime_flavor::multi_thread ? "multi_thread" : "current_thread";
}

}  // namespace weft_test
