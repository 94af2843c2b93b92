// A scratch directory under /tmp for file-system tests, removed with all its
// contents when the object goes (also when the test failed).
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace weft_test {

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = "/tmp/weft-fs-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::system_error(errno, std::system_category(), "mkdtemp under /tmp");
    }
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    EXPECT_FALSE(ec) << "removing " << path_ << ": " << ec.message();
  }

  /// The path of `name` inside the directory.
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace weft_test
