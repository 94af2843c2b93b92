// WEFT_MAIN with task<long long>: 2^32 + 3 would be 3 once cast to int, and
// 3 was never asked for.
#include <weft/weft.hpp>

weft::task<long long> async_main() { co_return (1LL << 32) + 3; }

WEFT_MAIN(async_main)
