// WEFT_MAIN whose async_main throws: exit code 1 and a message on stderr.
#include <weft/weft.hpp>

#include <stdexcept>

weft::task<int> async_main() {
  throw std::runtime_error("async_main failed on purpose");
  co_return 0;
}

WEFT_MAIN(async_main)
