// Sets or clears one environment variable for a test's scope, restoring it
// afterwards. Set it while no other thread reads the environment (no
// runtime is being built).
#pragma once

#include <cstdlib>
#include <string>

namespace weft_test {

class scoped_env {
 public:
  /// `value` null: the variable is cleared.
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
      had_ = true;
    }
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~scoped_env() {
    if (had_) {
      ::setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace weft_test
