//! tokio side of weft's side-by-side runtime benchmark.
//!
//! Every benchmark here has a twin in `bench/peer/weft_rt_bench.cpp` with the
//! same shape: same task counts, same way of signalling completion, same
//! timing loop, same output format. Keep the two files in step.
//!
//! Usage: tokio_rt_bench [rt|sync|sleep|idle|idle_sleep] [WORKERS] [REPS]
//!   rt          (default) the scheduler micro-benchmarks; one line each:
//!               name<TAB>median_ns<TAB>min_ns
//!   sync        channels and locks (src/sync_bench.rs), same format
//!   sleep       1,000,000 tasks sleeping 1..=100 ms; prints
//!               sleep_1m<TAB>total_ns<TAB>peak_rss_kib
//!   idle        RSS cost of 100,000 parked tasks waiting on a Notify; prints
//!               idle_task_bytes<TAB>bytes_per_task
//!   idle_sleep  same, but each task waits in a 1 h sleep; prints
//!               idle_task_bytes_sleep<TAB>bytes_per_task
//!   sweep BENCH SIZE [WORKERS] [REPS], queued_rss SIZE [WORKERS]
//!               the scheduler size sweep (src/sweep.rs, sweep.sh)
//! WORKERS defaults to 2, REPS to 20 (after 2 warm-up runs).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

mod sweep;
mod sync_bench;

const SPAWN_COUNT: usize = 10_000;
const YIELD_TASKS: usize = 200;
const YIELDS_PER_TASK: usize = 1_000;
const CHAIN_DEPTH: usize = 1_000;
const SLEEP_TASKS: usize = 1_000_000;
const IDLE_TASKS: usize = 100_000;
const WARMUPS: usize = 2;
/// Seed of the sleep-duration generator; the C++ twin uses the same value.
const SLEEP_SEED: u64 = 0x5eed_0f_3e_f7_2024;

struct Options {
    mode: String,
    workers: usize,
    reps: usize,
}

fn parse_options() -> Options {
    let mut opts = Options { mode: "rt".to_string(), workers: 2, reps: 20 };
    let mut numbers = 0;
    for arg in std::env::args().skip(1) {
        match arg.parse::<usize>() {
            Ok(n) if n > 0 => {
                if numbers == 0 {
                    opts.workers = n;
                } else {
                    opts.reps = n;
                }
                numbers += 1;
            }
            _ => opts.mode = arg,
        }
    }
    opts
}

pub(crate) fn build_runtime(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("failed to build the tokio runtime")
}

/// Runs `body` WARMUPS times untimed, then `reps` times timed; returns the
/// median and the fastest run in nanoseconds.
pub(crate) fn time_runs<F: FnMut()>(reps: usize, mut body: F) -> (u128, u128) {
    for _ in 0..WARMUPS {
        body();
    }
    let mut samples: Vec<u128> = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        body();
        samples.push(started.elapsed().as_nanos());
    }
    samples.sort_unstable();
    let n = samples.len();
    let median = if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 };
    (median, samples[0])
}

/// time_runs, then prints name, median and fastest run.
pub(crate) fn measure<F: FnMut()>(name: &str, reps: usize, body: F) {
    let (median, fastest) = time_runs(reps, body);
    println!("{}\t{}\t{}", name, median, fastest);
}

/// The shared state of a countdown: the task that brings `remaining` to zero
/// sends one message on the channel, which the measuring thread waits for.
/// Leaked so that tasks can borrow it for 'static without a reference count
/// per task (the C++ twin captures a plain reference).
pub(crate) struct Countdown {
    remaining: AtomicUsize,
    done: std::sync::Mutex<mpsc::SyncSender<()>>,
}

impl Countdown {
    pub(crate) fn leak(done: mpsc::SyncSender<()>) -> &'static Countdown {
        Box::leak(Box::new(Countdown { remaining: AtomicUsize::new(0), done: std::sync::Mutex::new(done) }))
    }
    pub(crate) fn reset(&self, n: usize) {
        self.remaining.store(n, Ordering::Relaxed);
    }
    pub(crate) fn arrive(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.lock().unwrap().send(()).unwrap();
        }
    }
}

/// From inside one task, spawn SPAWN_COUNT no-op tasks; the last one to run
/// signals the waiting (non-runtime) thread.
fn spawn_many_local(rt: &Runtime, reps: usize) {
    let (tx, rx) = mpsc::sync_channel(1);
    let countdown: &'static Countdown = Countdown::leak(tx);
    measure("spawn_many_local", reps, || {
        countdown.reset(SPAWN_COUNT);
        rt.spawn(async move {
            for _ in 0..SPAWN_COUNT {
                tokio::spawn(async move {
                    countdown.arrive();
                });
            }
        });
        rx.recv().unwrap();
    });
}

/// Spawn SPAWN_COUNT no-op tasks from the main thread with `rt.spawn`, then
/// block_on a task that awaits every handle.
fn spawn_remote_and_join(rt: &Runtime, handles: &mut Vec<JoinHandle<()>>) {
    for _ in 0..SPAWN_COUNT {
        handles.push(rt.spawn(async {}));
    }
    rt.block_on(async {
        for handle in handles.drain(..) {
            handle.await.unwrap();
        }
    });
}

fn spawn_many_remote_idle(rt: &Runtime, reps: usize) {
    let mut handles = Vec::with_capacity(SPAWN_COUNT);
    measure("spawn_many_remote_idle", reps, || spawn_remote_and_join(rt, &mut handles));
}

/// As spawn_many_remote_idle, while WORKERS tasks keep every worker busy by
/// looping on yield_now until told to stop.
fn spawn_many_remote_busy(rt: &Runtime, workers: usize, reps: usize) {
    let keep_spinning = Arc::new(AtomicBool::new(true));
    let spinners: Vec<JoinHandle<()>> = (0..workers)
        .map(|_| {
            let keep_spinning = keep_spinning.clone();
            rt.spawn(async move {
                while keep_spinning.load(Ordering::Relaxed) {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();

    let mut handles = Vec::with_capacity(SPAWN_COUNT);
    measure("spawn_many_remote_busy", reps, || spawn_remote_and_join(rt, &mut handles));

    keep_spinning.store(false, Ordering::Relaxed);
    rt.block_on(async {
        for spinner in spinners {
            spinner.await.unwrap();
        }
    });
}

/// YIELD_TASKS tasks, each yielding YIELDS_PER_TASK times, then sending one
/// message; the main thread receives YIELD_TASKS messages.
fn yield_many(rt: &Runtime, reps: usize) {
    let (tx, rx) = mpsc::sync_channel::<()>(YIELD_TASKS);
    measure("yield_many", reps, || {
        for _ in 0..YIELD_TASKS {
            let tx = tx.clone();
            rt.spawn(async move {
                for _ in 0..YIELDS_PER_TASK {
                    tokio::task::yield_now().await;
                }
                tx.send(()).unwrap();
            });
        }
        for _ in 0..YIELD_TASKS {
            rx.recv().unwrap();
        }
    });
}

/// Each link spawns the next; the innermost one signals.
fn chain(done: mpsc::SyncSender<()>, remaining: usize) {
    if remaining == 0 {
        done.send(()).unwrap();
    } else {
        tokio::spawn(async move {
            chain(done, remaining - 1);
        });
    }
}

fn chained_spawn(rt: &Runtime, reps: usize) {
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    measure("chained_spawn", reps, || {
        let done = tx.clone();
        rt.spawn(async move {
            chain(done, CHAIN_DEPTH);
        });
        rx.recv().unwrap();
    });
}

/// splitmix64: a tiny, fully specified generator, so the C++ twin draws the
/// exact same sequence of sleep durations.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

pub(crate) fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we hand it.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage.ru_maxrss as i64
    }
}

/// Current resident set size in bytes, from /proc/self/statm.
fn current_rss_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let resident_pages: i64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64;
    resident_pages * page
}

/// One task spawns SLEEP_TASKS tasks, each sleeping 1..=100 ms (uniform, from
/// SplitMix64(SLEEP_SEED)), keeps their handles and awaits them in order.
fn sleep_1m(workers: usize) {
    let rt = build_runtime(workers);
    let started = Instant::now();
    let driver = rt.spawn(async {
        let mut rng = SplitMix64(SLEEP_SEED);
        let mut handles = Vec::with_capacity(SLEEP_TASKS);
        for _ in 0..SLEEP_TASKS {
            let ms = 1 + rng.next() % 100;
            handles.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
    });
    rt.block_on(driver).unwrap();
    let total = started.elapsed().as_nanos();
    println!("sleep_1m\t{}\t{}", total, peak_rss_kib());
}

fn wait_until(counter: &AtomicUsize, target: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while counter.load(Ordering::Acquire) < target {
        assert!(Instant::now() < deadline, "tasks did not all start within 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Resident bytes per parked task: RSS after IDLE_TASKS tasks have started and
/// parked on something that does not fire, minus RSS before spawning them.
fn idle_task_bytes(workers: usize, use_sleep: bool) {
    let rt = build_runtime(workers);
    // Touch the runtime (thread-locals, timer wheel) before the baseline.
    rt.block_on(rt.spawn(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }))
    .unwrap();
    std::thread::sleep(Duration::from_millis(20));

    let notify = Arc::new(Notify::new());
    let started: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let before = current_rss_bytes();
    for _ in 0..IDLE_TASKS {
        if use_sleep {
            rt.spawn(async move {
                started.fetch_add(1, Ordering::Release);
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        } else {
            let notify = notify.clone();
            rt.spawn(async move {
                let released = notify.notified();
                started.fetch_add(1, Ordering::Release);
                released.await;
            });
        }
    }
    wait_until(started, IDLE_TASKS);
    std::thread::sleep(Duration::from_millis(20));
    let after = current_rss_bytes();
    let name = if use_sleep { "idle_task_bytes_sleep" } else { "idle_task_bytes" };
    println!("{}\t{}", name, (after - before) / IDLE_TASKS as i64);
    notify.notify_waiters();
    rt.shutdown_timeout(Duration::from_secs(1));
}

fn main() {
    // The sweep modes take a benchmark name and a size before the numbers.
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize, default: usize| args.get(i).map_or(default, |a| a.parse().expect("a number"));
    if args.len() >= 3 && args[1] == "queued_rss" {
        std::process::exit(sweep::run_queued_rss(num(2, 0), num(3, 2)));
    }
    if args.len() >= 4 && args[1] == "sweep" {
        std::process::exit(sweep::run_sweep(&args[2], num(3, 0), num(4, 2), num(5, 10)));
    }
    let opts = parse_options();
    match opts.mode.as_str() {
        "rt" => {
            let rt = build_runtime(opts.workers);
            spawn_many_local(&rt, opts.reps);
            spawn_many_remote_idle(&rt, opts.reps);
            spawn_many_remote_busy(&rt, opts.workers, opts.reps);
            yield_many(&rt, opts.reps);
            chained_spawn(&rt, opts.reps);
        }
        "sync" => sync_bench::run(&build_runtime(opts.workers), opts.reps),
        "sleep" => sleep_1m(opts.workers),
        "idle" => idle_task_bytes(opts.workers, false),
        "idle_sleep" => idle_task_bytes(opts.workers, true),
        other => {
            eprintln!("unknown mode {other:?}; expected rt, sync, sleep, idle or idle_sleep");
            std::process::exit(2);
        }
    }
}
