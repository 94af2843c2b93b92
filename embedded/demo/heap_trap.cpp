// embedded/demo/heap_trap.cpp — a program that allocates from the heap. It
// exists to fail: `make trap` checks that linking it against the demo's
// startup code fails on `operator new` and on `malloc`, proving the target
// build has no heap for weft/embedded (or anyone) to fall back on.
#include <cstdlib>
#include <new>

extern "C" void SysTick_Handler() {}
extern "C" void uart_tx_handler() {}

int* volatile escaped_new;  // volatile: the compiler may not elide the allocations
void* volatile escaped_malloc;

extern "C" int app_main() {
  escaped_new = new int(42);
  escaped_malloc = std::malloc(16);
  return *escaped_new;
}
