// The reference spec's example: spawn a task that sleeps one second and
// returns 123, join it, print it.
#include <weft/weft.hpp>

#include <chrono>
#include <iostream>

weft::task<> async_main() {
  weft::join_handle<int> h = weft::spawn([]() -> weft::task<int> {
    co_await weft::sleep(std::chrono::seconds(1));
    co_return 123;
  });
  std::cout << co_await h << '\n';  // prints 123
}

WEFT_MAIN(async_main)
