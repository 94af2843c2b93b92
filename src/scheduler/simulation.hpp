// simulation — runtime_flavor::simulation: the multi-thread scheduler's own
// code, with N virtual workers taking turns on the one thread that calls
// block_on, in an order chosen by a seeded generator, on virtual time.
//
// Design
// ------
// A virtual worker is a real `worker` (worker.hpp) whose driver never waits
// (sim_park_driver: unpark sets a token). The simulation repeatedly picks,
// with its seeded generator, one actor among those that can act, and lets it
// take one transition of the worker loop (worker_loop.cpp):
//
//   RUNNING     --step(): ran a task, fired timers, stole, flushed yielders
//                 (stays RUNNING) / found nothing--> WANTS_PARK
//   WANTS_PARK  --park_enter()--> PARKED, or RUNNING if work appeared
//   PARKED      (an actor only once its driver holds an unpark token or one
//                of its timers is due)
//               --park_after_wake()--> RUNNING, or PARKED (spurious)
//
// A queued blocking job (spawn_blocking) is an actor too: it runs on this
// thread as a blocking-pool thread would (not a worker: its wakes go through
// the inject queue). So every order in which the threads of a real runtime
// could take these transitions is one the seed can pick, including the
// narrow ones: a push between a worker's last look at the queues and its
// park (WANTS_PARK), a steal between two steps of the victim.
//
// Preemption at named points: in builds with test points (-DWEFT_TEST_POINTS),
// a step that reaches one of the points listed in simulation.cpp (places
// where weft's code holds no lock and another thread's progress matters: a
// completing task about to wake its joiner, a barrier between two wake
// rounds, a joiner that just registered) may be paused there while other
// actors take up to four transitions; then it goes on. That is how a window
// inside one step — the ones the threaded tests force with test points —
// opens under the simulation, again chosen by the seed. Never inside a
// cancellation walk (it tells the canceller apart by thread id, and every
// virtual worker is this one thread). Not detectable: a pause inside a call
// the program makes while holding a std::mutex of its own lets a woken task
// take that mutex on this same thread — a deadlock without a report; hold
// weft's own locks across such calls in simulated code.
//
// Virtual time: the runtime's clock is paused; when no actor can act, the
// simulation moves it to the earliest timer of any worker. Shutdown's drain
// runs for the shutdown timeout in virtual time (or 1,000,000 transitions),
// then destroys what is left in spawn order. One thread drives a simulation
// at a time (driver_mu_): a shutdown from another thread — the reaper of a
// runtime destroyed in its own task — waits for block_on to return. When no actor can
// act and no timer is set, yet block_on's task has not completed, every task
// waits on something that nothing will do: the run fails with
// errc::simulation_stalled (a deadlock, or a lost wake-up), and the message
// names the seed, the step and each worker's state. A run past
// step_limit steps (WEFT_SIM_STEP_LIMIT, if set to a positive number, when
// the runtime is built) fails with errc::simulation_step_limit.
//
// Same seed, same run: every choice comes from the seed (the workers' steal
// victims from runtime_builder::rng_seed too), nothing reads the real clock,
// and the simulation is driven by one thread. What breaks determinism: a
// wake from a thread of the program's own (a std::thread sending on a
// channel), or a blocking job that blocks on another task (it runs on the
// driving thread: that is a stall). I/O does not: sockets and files are the
// in-memory network and file system of src/io/sim_network and sim_files
// (other I/O is refused: errc::not_supported_in_simulation). Each simulated
// descriptor holds a real one to reserve its number, a socket that never
// connects or /dev/null for a file: that is what the number reaches if it is
// used outside the simulation.
#pragma once

#include <weft/detail/test_point.hpp>

#include "io/io_backend.hpp"
#include "scheduler/park_driver.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::detail {

class runtime_core;
class task_header;
class sim_network;

/// The drivers of a simulation's virtual workers: each parks in a driver of
/// its own; all share one in-memory network (io/sim_network.hpp) as their
/// I/O driver.
driver_factory simulation_drivers(const runtime_config& cfg);

class simulation final : private preemption_hook {
 public:
  static constexpr std::uint64_t default_step_limit = 20'000'000;  // per block_on
  static constexpr std::uint64_t drain_step_limit = 1'000'000;  // shutdown's drain

  simulation(runtime_core& rt, std::uint64_t seed);
  simulation(const simulation&) = delete;
  simulation& operator=(const simulation&) = delete;
  ~simulation() = default;

  /// block_on: act until `root` completes. Throws std::system_error with
  /// errc::simulation_stalled or errc::simulation_step_limit.
  void run_until(task_header* root);
  /// Shutdown's drain: act until no task is owned and no blocking job is
  /// queued, nothing can act, `timeout` of virtual time has passed, or
  /// drain_step_limit transitions were taken.
  void drain(std::chrono::nanoseconds timeout) noexcept;

 private:
  enum class vstate : std::uint8_t { running, wants_park, parked };
  static constexpr std::size_t blocking_actor = static_cast<std::size_t>(-1);
  static constexpr std::size_t network_actor = static_cast<std::size_t>(-2);

  /// Choose and take one transition. False if no actor can act (virtual
  /// time is not moved here).
  bool act_once();
  void act(std::size_t actor);
  /// No actor can act: move virtual time to the earliest timer. False if
  /// there is none.
  bool advance_time();
  /// run_until is about to throw: cancel block_on's task so that nothing
  /// resumes it after its caller's frame is gone.
  void abandon(task_header* root) noexcept;
  void at_point(const char* name) noexcept override;
  void describe_on_crash() noexcept override;
  std::uint64_t next_random() noexcept;
  [[nodiscard]] std::string describe(const char* what) const;

  runtime_core& rt_;
  const std::uint64_t seed_;
  const std::uint64_t step_limit_;  // per block_on
  sim_network& net_;  // owned by the workers' park drivers
  std::uint64_t rng_;
  std::uint64_t steps_ = 0;
  int depth_ = 0;                 // nested preemptions under way
  std::vector<vstate> state_;     // per worker
  std::vector<bool> busy_;        // per worker: paused at a point, mid-step
  std::vector<std::size_t> candidates_;  // scratch
};

}  // namespace weft::detail
