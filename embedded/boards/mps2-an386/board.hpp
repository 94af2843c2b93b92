// embedded/boards/mps2-an386/board.hpp — Arm MPS2 with the AN386 FPGA image
// (Cortex-M4) as QEMU's `mps2-an386` models it: 4 MiB SSRAM at 0 for code,
// 4 MiB SSRAM at 0x20000000 for data (see mps2-an386.ld), UART0 a CMSDK APB
// UART at 0x40004000 with its TX interrupt on IRQ 1.
//
// The demo's UART use: enable transmit and its interrupt, write a byte, take
// the TX interrupt (raised once the byte has gone), acknowledge it.
#pragma once

#include <cstdint>

namespace board {

inline constexpr const char* name = "mps2-an386";
inline constexpr std::uint32_t cpu_hz = 25'000'000;  // the MPS2 FPGA's SYSCLK
inline constexpr unsigned uart_tx_irq = 1;           // UART0 TX

inline volatile std::uint32_t& uart_reg(std::uint32_t offset) noexcept {
  return *reinterpret_cast<volatile std::uint32_t*>(0x40004000u + offset);
}

inline void uart_start() noexcept {
  uart_reg(0x10) = 16;   // BAUDDIV: the smallest legal divisor
  uart_reg(0x08) = 0x5;  // CTRL: TX enable | TX interrupt enable
}
inline void uart_write(char c) noexcept { uart_reg(0x00) = static_cast<std::uint8_t>(c); }  // DATA
inline void uart_ack_tx() noexcept { uart_reg(0x0C) = 1u; }                               // INTCLEAR: TX

}  // namespace board
