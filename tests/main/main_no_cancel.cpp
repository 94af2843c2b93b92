// A task that outlives the grace period is not cancelled: the process exits
// with async_main's code and the task's destructors never run.
#include <weft/weft.hpp>

#include <cstdio>

struct announce_destruction {
  ~announce_destruction() { std::puts("task destroyed"); }
};

weft::task<int> async_main() {
  weft::spawn([]() -> weft::task<> {
    announce_destruction guard;
    co_await weft::sleep(std::chrono::hours(1));
  }).detach();
  std::puts("main done");
  co_return 3;
}

WEFT_MAIN_WITH(async_main, (weft::main_options{std::chrono::milliseconds(10), 0}))
