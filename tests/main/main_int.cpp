// WEFT_MAIN with task<int>(int, char**): the exit code is async_main's value.
#include <weft/weft.hpp>

weft::task<int> async_main(int argc, char** argv) {
  (void)argv;
  auto h = weft::spawn([](int n) -> weft::task<int> { co_return n + 40; }, argc);
  co_return co_await h;
}

WEFT_MAIN(async_main)
