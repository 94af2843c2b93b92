// embedded/boards/lm3s6965evb/board.hpp — TI Stellaris LM3S6965 (Cortex-M3)
// as QEMU's `lm3s6965evb` models it: 256 KiB flash at 0, 64 KiB SRAM at
// 0x20000000 (see lm3s6965evb.ld), UART0 a PL011 at 0x4000C000 on IRQ 5.
//
// The demo's UART use: enable the transmit interrupt, write a byte, take the
// TX interrupt (QEMU raises it as soon as the byte is written), acknowledge it.
#pragma once

#include <cstdint>

namespace board {

inline constexpr const char* name = "lm3s6965evb";
inline constexpr std::uint32_t cpu_hz = 12'000'000;  // QEMU's default system clock
inline constexpr unsigned uart_tx_irq = 5;           // UART0

inline volatile std::uint32_t& uart_reg(std::uint32_t offset) noexcept {
  return *reinterpret_cast<volatile std::uint32_t*>(0x4000C000u + offset);
}

inline void uart_start() noexcept {
  uart_reg(0x030) = 0x301;   // UARTCR: UARTEN | TXE | RXE
  uart_reg(0x038) = 1u << 5;  // UARTIMSC: TXIM
}
inline void uart_write(char c) noexcept { uart_reg(0x000) = static_cast<std::uint8_t>(c); }  // UARTDR
inline void uart_ack_tx() noexcept { uart_reg(0x044) = 1u << 5; }                           // UARTICR: TXIC

}  // namespace board
