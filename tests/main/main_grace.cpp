// A task still running when async_main returns gets the grace period: it
// finishes (and prints) before the process exits normally.
#include <weft/weft.hpp>

#include <cstdio>

weft::task<int> async_main() {
  weft::spawn([]() -> weft::task<> {
    co_await weft::sleep(std::chrono::milliseconds(20));
    std::puts("cleanup task finished");
  }).detach();
  co_return 5;
}

// A generous grace so a loaded CI machine still finishes the 20 ms task.
WEFT_MAIN_WITH(async_main, (weft::main_options{std::chrono::seconds(30), 0}))
