// WEFT_MAIN with task<void>(): exit code 0.
#include <weft/weft.hpp>

#include <cstdio>

weft::task<> async_main() {
  co_await weft::sleep(std::chrono::milliseconds(1));
  std::puts("void main ran");
  co_return;
}

WEFT_MAIN(async_main)
