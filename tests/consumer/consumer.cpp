#include <weft/weft.hpp>

weft::task<int> async_main() {
  auto h = weft::spawn([]() -> weft::task<int> { co_return 42; });
  co_return co_await h == 42 ? 0 : 1;
}

WEFT_MAIN(async_main)
