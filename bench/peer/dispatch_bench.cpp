// dispatch_bench — weft's dispatcher against Boost.Asio's strand, same process,
// same thread counts, alternating rounds.
//
//   dispatch_bench [WORKERS] [REPS] [ROUNDS]   (defaults 2, 10, 3)
//
// Rows (each: weft median, Asio median, ratio weft/Asio; < 1 means weft is faster):
//   serial_post     4 plain threads post 250k callbacks each onto one
//                   synchronized dispatcher / one strand; time until the last
//                   ran. Every callback checks it runs alone (a counter).
//   serial_pingpong two synchronized dispatchers / strands bounce a callback
//                   100k times (each hop is a post from the other's callback).
//   parallel_post   4 threads post 250k callbacks each onto an
//                   unsynchronized dispatcher / the io_context itself.
// Asio runs io_context::run on WORKERS threads; weft a multi_thread runtime
// with WORKERS workers.
#include <weft/dispatcher.hpp>
#include <weft/runtime.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <latch>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int posters = 4;
constexpr int posts_per_thread = 250'000;
constexpr int hops = 100'000;

struct done_signal {
  std::atomic<long> remaining{0};
  std::binary_semaphore done{0};
  void reset(long n) { remaining.store(n, std::memory_order_relaxed); }
  void arrive() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) done.release();
  }
};

/// Checks "never two at once" inside serial callbacks.
struct exclusive_check {
  std::atomic<int> inside{0};
  std::atomic<long> violations{0};
  void enter() {
    if (inside.fetch_add(1, std::memory_order_acquire) != 0) violations.fetch_add(1);
  }
  void leave() { inside.fetch_sub(1, std::memory_order_release); }
};

/// The body of a serial_post callback: checks it runs alone, then counts.
struct checked_arrival {
  exclusive_check* ex;
  done_signal* sig;
  void operator()() const {
    ex->enter();
    ex->leave();
    sig->arrive();
  }
};

template <class Post>
long long timed_posts(Post&& post_one, done_signal& sig) {
  sig.reset(static_cast<long>(posters) * posts_per_thread);
  std::latch go(posters + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < posters; ++t) {
    threads.emplace_back([&] {
      go.arrive_and_wait();
      for (int i = 0; i < posts_per_thread; ++i) post_one();
    });
  }
  const auto start = clock_type::now();
  go.arrive_and_wait();
  sig.done.acquire();
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count();
  for (auto& th : threads) th.join();
  return ns;
}

/// Bounces a callback `hops` times between two serial contexts: each hop is
/// posted, by `post_a(fn)` or `post_b(fn)`, from inside the previous one.
template <class PostA, class PostB>
long long timed_pingpong(PostA post_a, PostB post_b) {
  done_signal sig;
  sig.reset(1);
  std::function<void(int)> hop;
  hop = [&](int left) {
    if (left == 0) {
      sig.arrive();
      return;
    }
    auto next = [&hop, left] { hop(left - 1); };
    if (left % 2 == 0) {
      post_a(next);
    } else {
      post_b(next);
    }
  };
  const auto start = clock_type::now();
  hop(hops);
  sig.done.acquire();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count();
}

// ---- weft ---------------------------------------------------------------------

struct weft_side {
  weft::runtime rt;
  explicit weft_side(std::size_t workers)
      : rt(weft::runtime_builder{}.worker_threads(workers).build()) {}

  long long serial_post(exclusive_check& ex) {
    done_signal sig;
    auto d = weft::dispatcher_builder{}.name("serial").create(rt);
    const checked_arrival body{&ex, &sig};
    return timed_posts([&] { (void)d.post_task([body](weft::status) { body(); }); }, sig);
  }

  long long parallel_post() {
    done_signal sig;
    auto d = weft::dispatcher_builder{}.name("parallel").unsynchronized().create(rt);
    return timed_posts([&] { (void)d.post_task([&](weft::status) { sig.arrive(); }); }, sig);
  }

  long long pingpong() {
    auto a = weft::dispatcher_builder{}.name("ping").create(rt);
    auto b = weft::dispatcher_builder{}.name("pong").create(rt);
    return timed_pingpong([&](auto fn) { (void)a.post_task([fn](weft::status) { fn(); }); },
                          [&](auto fn) { (void)b.post_task([fn](weft::status) { fn(); }); });
  }
};

// ---- Asio ---------------------------------------------------------------------

struct asio_side {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;
  std::vector<std::thread> threads;
  explicit asio_side(std::size_t workers)
      : io(static_cast<int>(workers)), guard(boost::asio::make_work_guard(io)) {
    for (std::size_t i = 0; i < workers; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~asio_side() {
    guard.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }

  long long serial_post(exclusive_check& ex) {
    done_signal sig;
    auto strand = boost::asio::make_strand(io);
    const checked_arrival body{&ex, &sig};
    return timed_posts([&] { boost::asio::post(strand, body); }, sig);
  }

  long long parallel_post() {
    done_signal sig;
    return timed_posts([&] { boost::asio::post(io, [&] { sig.arrive(); }); }, sig);
  }

  long long pingpong() {
    auto a = boost::asio::make_strand(io);
    auto b = boost::asio::make_strand(io);
    return timed_pingpong([&](auto fn) { boost::asio::post(a, fn); },
                          [&](auto fn) { boost::asio::post(b, fn); });
  }
};

long long median(std::vector<long long> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t workers = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 10;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;

  std::vector<long long> w_serial, a_serial, w_par, a_par, w_pp, a_pp;
  exclusive_check w_ex, a_ex;
  for (int round = 0; round < rounds; ++round) {
    {
      weft_side w(workers);
      for (int i = 0; i < reps; ++i) {
        w_serial.push_back(w.serial_post(w_ex));
        w_par.push_back(w.parallel_post());
        w_pp.push_back(w.pingpong());
      }
    }
    {
      asio_side a(workers);
      for (int i = 0; i < reps; ++i) {
        a_serial.push_back(a.serial_post(a_ex));
        a_par.push_back(a.parallel_post());
        a_pp.push_back(a.pingpong());
      }
    }
  }
  if (w_ex.violations.load() != 0 || a_ex.violations.load() != 0) {
    std::fprintf(stderr, "serial callbacks overlapped: weft %ld, asio %ld\n",
                 w_ex.violations.load(), a_ex.violations.load());
    return 1;
  }
  std::printf("| benchmark (%zu workers, median of %d) | weft | Boost.Asio | weft/Asio |\n",
              workers, reps * rounds);
  std::printf("|---|---|---|---|\n");
  auto row = [](const char* name, const std::vector<long long>& w,
                const std::vector<long long>& a) {
    const double wm = static_cast<double>(median(w)) / 1e6;
    const double am = static_cast<double>(median(a)) / 1e6;
    std::printf("| %s | %.2f ms | %.2f ms | %.2f |\n", name, wm, am, wm / am);
  };
  row("serial_post: 4 threads x 250k onto one dispatcher / strand", w_serial, a_serial);
  row("serial_pingpong: 100k hops between two dispatchers / strands", w_pp, a_pp);
  row("parallel_post: 4 threads x 250k onto unsynchronized / io_context", w_par, a_par);
  return 0;
}
