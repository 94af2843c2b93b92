// embedded/common/startup.cpp — reset handler and vector table, shared by the
// boards (each board's board.hpp says where its UART interrupt goes).
//
// What the reset handler does, in order: copy .data from flash (the linker
// script asserts it is empty — weft's statics are all constinit zeroes — but
// the copy keeps the startup honest for application code), zero .bss, call
// app_main, and hand its return value to semihosting_exit. It does not run
// .init_array: the linker script fails the link if there is one, because a
// dynamic initialiser is exactly what this image must not need.
//
// No C library is linked (-nostdlib): the compiler may still emit calls to
// memcpy/memset, so minimal ones are defined here. Any reference to malloc or
// the global operator new is an undefined symbol, i.e. a link error.
#include <cstddef>
#include <cstdint>

#include "board.hpp"
#include "semihosting.hpp"

extern "C" {
extern std::uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern std::uint32_t __stack_top[];

int app_main();  // the application (ISO C++ forbids calling main)

[[gnu::optimize("no-tree-loop-distribute-patterns")]] void* memset(void* dst, int value, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  while (n-- != 0) *d++ = static_cast<unsigned char>(value);
  return dst;
}
[[gnu::optimize("no-tree-loop-distribute-patterns")]] void* memcpy(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  while (n-- != 0) *d++ = *s++;
  return dst;
}

[[noreturn, gnu::optimize("no-tree-loop-distribute-patterns")]] void reset_handler() {
  for (std::uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (std::uint32_t* dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  weft::embedded::board_support::semihosting_exit(static_cast<std::uint32_t>(app_main()));
}

[[noreturn]] void fault_handler() {
  weft::embedded::board_support::semihosting_write("fault\n");
  weft::embedded::board_support::semihosting_exit(99);
}

void SysTick_Handler();
void uart_tx_handler();
}

namespace {

using handler = void (*)();
constexpr std::size_t irq_count = 32;

struct vector_table {
  const void* initial_stack;
  handler core[15];
  handler irq[irq_count];
};

constexpr vector_table make_vectors() {
  vector_table v{__stack_top, {}, {}};
  v.core[0] = reset_handler;  // 1: Reset
  for (std::size_t i = 1; i < 14; ++i) v.core[i] = fault_handler;  // NMI .. PendSV
  v.core[14] = SysTick_Handler;  // 15: SysTick
  for (handler& h : v.irq) h = fault_handler;
  v.irq[board::uart_tx_irq] = uart_tx_handler;
  return v;
}

}  // namespace

[[gnu::section(".vectors"), gnu::used]] constinit const vector_table vectors = make_vectors();
