// embedded/demo/size_primitives.cpp — the primitives on top of the core
// (timer, event, channel; select is header-only glue with no out-of-line
// code), explicitly instantiated for Cortex-M and measured without the core's
// code (waker_list's walk is in size_core.cpp; here it is only referenced
// where the compiler chose not to inline it).
#include <weft/embedded/channel.hpp>
#include <weft/embedded/event.hpp>
#include <weft/embedded/platform_cortex_m.hpp>
#include <weft/embedded/timer.hpp>

namespace weft::embedded {
template class timer<cortex_m>;
template class irq_event<cortex_m>;
template class irq_channel<cortex_m, char, 4>;
}  // namespace weft::embedded
