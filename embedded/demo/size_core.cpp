// embedded/demo/size_core.cpp — the executor core alone, explicitly
// instantiated for Cortex-M so `arm-none-eabi-size` measures it apart from any
// application: executor, waker_list/waker_entry, frame_pool. Target: < 2 KiB
// of .text at -Os (checked by embedded/ci.sh, reported in docs/embedded.md).
#include <weft/embedded/executor.hpp>
#include <weft/embedded/frame_pool.hpp>
#include <weft/embedded/platform_cortex_m.hpp>
#include <weft/embedded/waker_list.hpp>

namespace weft::embedded {
template class executor<cortex_m, 8>;
template class waker_list<cortex_m>;
template class waker_entry<cortex_m>;
template class frame_pool<cortex_m, 64, 4>;
}  // namespace weft::embedded
