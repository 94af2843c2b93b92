// WEFT_MAIN with task<int>: returns the number given as argv[1], so the test
// can try exit codes inside and outside 0..255.
#include <weft/weft.hpp>

#include <cstdlib>

weft::task<int> async_main(int argc, char** argv) {
  co_return argc > 1 ? static_cast<int>(std::strtol(argv[1], nullptr, 10)) : 0;
}

WEFT_MAIN(async_main)
