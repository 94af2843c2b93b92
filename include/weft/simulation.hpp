// weft/simulation.hpp — run a test body under many seeds of the simulation
// flavour, and replay the one that fails.
//
//   auto failure = weft::simulate({.seeds = 1000}, [&](weft::runtime& rt) -> weft::task<> {
//     ... spawn, cancel, send, join: the program under test; throw on a broken invariant ...
//   });
//   EXPECT_FALSE(failure) << failure->what;  // names the seed
//
// Each seed builds a fresh runtime_builder().flavor(runtime_flavor::simulation)
// .worker_threads(workers).rng_seed(seed) runtime and block_on's the body on it.
// A seed fails when block_on throws: the body's own check, a task's
// exception it rethrows, errc::simulation_stalled (every task waits and
// nothing can wake one: a deadlock or a lost wake-up) or
// errc::simulation_step_limit. The same seed replays the same run exactly;
// WEFT_SIM_SEED=S in the environment runs seed S alone (to replay a failure
// under a debugger).
//
// What a simulation runtime is (see runtime_builder::flavor): the
// multi-thread scheduler's code, its virtual workers taking turns on the
// calling thread in the order the seed picks, on virtual time (sleep and
// timeout cost no real time), and an in-memory network for stream sockets
// (TCP, Unix) with seeded latency, short reads and writes, spurious waits
// and, if asked, resets and EMFILE (weft::simulated_network), and an
// in-memory file system for weft::fs with seeded latency and, if asked, short
// reads and writes and EIO (weft::simulated_files); other I/O (pipes, UDP)
// fails with errc::not_supported_in_simulation.
// It is driven only by the thread that built it.
#pragma once

#include <weft/runtime.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

namespace weft {

struct simulation_options {
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 100;  // seeds first_seed … first_seed + seeds - 1
  std::size_t workers = 2;    // virtual workers
  simulated_network network{};  // the in-memory network's latency and faults
  simulated_files files{};      // the in-memory file system's latency and faults
};

struct simulation_failure {
  std::uint64_t seed;
  std::string what;  // the exception's message (a simulation's own names the seed)
};

namespace detail {
/// WEFT_SIM_SEED, if set to a number.
inline std::optional<std::uint64_t> simulation_seed_from_env() {
  const char* v = std::getenv("WEFT_SIM_SEED");
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  const unsigned long long s = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0') return std::nullopt;
  return static_cast<std::uint64_t>(s);
}
}  // namespace detail

/// Run `body(rt)` — a callable returning an awaitable — under each seed; the
/// first seed that fails, or nullopt if every one passed.
template <class Body>
std::optional<simulation_failure> simulate(const simulation_options& options, Body&& body) {
  std::uint64_t first = options.first_seed;
  std::uint64_t count = options.seeds;
  if (auto only = detail::simulation_seed_from_env()) {
    first = *only;
    count = 1;
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t seed = first + i;
    try {
      runtime rt = runtime_builder{}
                       .flavor(runtime_flavor::simulation)
                       .worker_threads(options.workers)
                       .rng_seed(seed)
                       .simulated_network(options.network)
                       .simulated_files(options.files)
                       .build();
      rt.block_on(body(rt));
    } catch (const std::exception& e) {
      return simulation_failure{seed, "seed " + std::to_string(seed) + ": " + e.what()};
    }
  }
  return std::nullopt;
}

}  // namespace weft
