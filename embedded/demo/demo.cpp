// embedded/demo/demo.cpp — the weft/embedded demo for QEMU.
//
// Three tasks on one executor, no heap:
//   blinker 'a'  sleeps 2 ticks, three times         (woken by SysTick)
//   blinker 'b'  sleeps 3 ticks, twice               (woken by SysTick)
//   uart_writer  every 3 ticks writes one byte of "ok" to UART0, then waits
//                for the UART's TX interrupt or a 2-tick timeout (select)
//                                                    (woken by SysTick, then UART)
// The UART interrupt outranks SysTick, so the writer's TX interrupt arrives
// *during* SysTick's walk of the sleepers, right after the poll that armed it:
// at tick 3, "uart sent" comes before "b 1", which the same walk polls next.
// (With equal priorities the TX handler would wait for the walk to finish and
// "b 1" would come first.) Every line is printed by a task, with the tick it
// ran at. When all tasks are done, run() returns and the demo exits with 42
// (any other status is a failure: 2 spawn failed, 3 watchdog, 99 fault).
//
// QEMU runs with -icount: virtual time advances with instructions, so the tick
// at which each line appears is the same on every run.
#include <cstdint>

#include <weft/embedded/embedded.hpp>
#include <weft/embedded/platform_cortex_m.hpp>

#include "board.hpp"
#include "console.hpp"

namespace {

using namespace weft::embedded;
using board_support::line;
using P = cortex_m;

constexpr std::uint32_t exit_ok = 42;
constexpr std::uint32_t exit_spawn_failed = 2;
constexpr std::uint32_t exit_watchdog = 3;
constexpr tick_type watchdog_ticks = 100;

constinit executor<P, 4> ex;
constinit timer<P> ticks;
constinit irq_channel<P, char, 2> uart_sent;  // the TX handler → uart_writer
constinit volatile char last_written = 0;

// Frame slots sized from the build-time report (`make frames`); a frame that
// outgrows its slot fails the link.
constinit frame_pool<P, 88, 2> blinker_frames;
constinit frame_pool<P, 144, 1> writer_frames;

task<blinker_frames> blinker(char name, tick_type period, std::uint32_t times) {
  for (std::uint32_t i = 1; i <= times; ++i) {
    co_await sleep(ticks, period);
    line() << "tick " << P::now() << ": " << name << ' ' << i;
  }
}

task<writer_frames> uart_writer(const char* text) {
  for (const char* c = text; *c != '\0'; ++c) {
    co_await sleep(ticks, 3);
    line() << "tick " << P::now() << ": uart write '" << *c << '\'';
    last_written = *c;
    board::uart_write(*c);  // arms the TX interrupt: taken once we suspend
    auto sent = uart_sent.receive();
    auto timeout = ticks.sleep(2);
    if (co_await select(sent, timeout) == 0) {
      const char byte = co_await sent;
      line() << "tick " << P::now() << ": uart sent '" << byte << '\'';
    } else {
      line() << "tick " << P::now() << ": uart timeout";
    }
  }
}

}  // namespace

extern "C" void SysTick_Handler() {
  P::on_systick();
  if (P::now() > watchdog_ticks) {
    line() << "watchdog: tasks still running at tick " << P::now();
    board_support::semihosting_exit(exit_watchdog);
  }
  ticks.on_tick();
}

extern "C" void uart_tx_handler() {
  board::uart_ack_tx();
  const char byte = last_written;
  uart_sent.try_send(byte);
}

extern "C" int app_main() {
  line() << "weft embedded demo on " << board::name;
  const bool spawned = ex.spawn(uart_writer("ok")) && ex.spawn(blinker('a', 2, 3)) && ex.spawn(blinker('b', 3, 2));
  if (!spawned) {
    line() << "spawn failed";
    return exit_spawn_failed;
  }
  board::uart_start();
  P::enable_irq(board::uart_tx_irq, 0x00);      // highest priority
  P::start_systick(board::cpu_hz / 1000, 0xC0);  // 1 kHz, below the UART
  ex.run();
  line() << "tick " << P::now() << ": all tasks done";
  return exit_ok;
}
