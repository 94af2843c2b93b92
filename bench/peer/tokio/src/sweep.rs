//! tokio side of the scheduler size sweep (bench/peer/sweep.sh); the C++ twin
//! is bench/peer/weft_sweep_bench.cpp. Same shapes, same finish line, same
//! output.
//!
//!   tokio_rt_bench sweep BENCH SIZE [WORKERS] [REPS]
//!     BENCH: spawn_local   one task spawns SIZE no-op tasks (tokio::spawn)
//!            spawn_remote  the main thread spawns SIZE no-op tasks (rt.spawn)
//!            yield_many    SIZE tasks (rt.spawn) each yield 1,000 times
//!            chain         SIZE links, each spawning the next from its task
//!     Every task drops its join handle; the last task to finish counts an
//!     atomic down to zero and sends on a std channel the main thread waits
//!     on. Prints BENCH<TAB>SIZE<TAB>median_ns<TAB>fastest_ns.
//!
//!   tokio_rt_bench queued_rss SIZE [WORKERS]
//!     Peak RSS of SIZE spawned-but-not-yet-run no-op tasks (every worker is
//!     held in a spinning task while the main thread spawns them). Prints
//!     queued_rss<TAB>SIZE<TAB>peak_rss_kib<TAB>rss_before_spawning_kib.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{build_runtime, peak_rss_kib, time_runs, Countdown};

const YIELDS_PER_TASK: usize = 1_000;

fn chain_link(done: &'static Countdown, remaining: usize) {
    if remaining == 0 {
        done.arrive();
    } else {
        tokio::spawn(async move {
            chain_link(done, remaining - 1);
        });
    }
}

pub(crate) fn run_sweep(bench: &str, size: usize, workers: usize, reps: usize) -> i32 {
    let rt = build_runtime(workers);
    let (tx, rx) = mpsc::sync_channel(1);
    let done: &'static Countdown = Countdown::leak(tx);
    let timing = match bench {
        "spawn_local" => time_runs(reps, || {
            done.reset(size);
            rt.spawn(async move {
                for _ in 0..size {
                    tokio::spawn(async move {
                        done.arrive();
                    });
                }
            });
            rx.recv().unwrap();
        }),
        "spawn_remote" => time_runs(reps, || {
            done.reset(size);
            for _ in 0..size {
                rt.spawn(async move {
                    done.arrive();
                });
            }
            rx.recv().unwrap();
        }),
        "yield_many" => time_runs(reps, || {
            done.reset(size);
            for _ in 0..size {
                rt.spawn(async move {
                    for _ in 0..YIELDS_PER_TASK {
                        tokio::task::yield_now().await;
                    }
                    done.arrive();
                });
            }
            rx.recv().unwrap();
        }),
        "chain" => time_runs(reps, || {
            done.reset(1);
            rt.spawn(async move {
                chain_link(done, size);
            });
            rx.recv().unwrap();
        }),
        other => {
            eprintln!(
                "unknown sweep benchmark {other:?}; expected spawn_local, spawn_remote, yield_many or chain"
            );
            return 2;
        }
    };
    println!("{}\t{}\t{}\t{}", bench, size, timing.0, timing.1);
    0
}

pub(crate) fn run_queued_rss(size: usize, workers: usize) -> i32 {
    static HOLDING: AtomicUsize = AtomicUsize::new(0);
    static RELEASE: AtomicBool = AtomicBool::new(false);
    let rt = build_runtime(workers);
    let (tx, rx) = mpsc::sync_channel(1);
    let done: &'static Countdown = Countdown::leak(tx);
    // Warm the runtime (threads, thread-locals) before the baseline.
    done.reset(1);
    rt.spawn(async move {
        done.arrive();
    });
    rx.recv().unwrap();
    let before = peak_rss_kib();

    for _ in 0..workers {
        rt.spawn(async {
            HOLDING.fetch_add(1, Ordering::Relaxed);
            while !RELEASE.load(Ordering::Relaxed) {
                std::thread::yield_now();
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while HOLDING.load(Ordering::Relaxed) < workers {
        assert!(Instant::now() < deadline, "workers were not all held in 60 s");
        std::thread::yield_now();
    }
    done.reset(size);
    for _ in 0..size {
        rt.spawn(async move {
            done.arrive();
        });
    }
    let peak = peak_rss_kib();
    RELEASE.store(true, Ordering::Relaxed);
    rx.recv().unwrap();
    println!("queued_rss\t{}\t{}\t{}", size, peak, before);
    0
}
