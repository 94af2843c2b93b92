//! Channel and lock benchmarks: the shapes of tokio's own `rt_multi_threaded`
//! (ping_pong), `sync_mpsc`, `sync_mpsc_oneshot`, `sync_mutex` and
//! `sync_semaphore` benches, on the runtime and worker count of the other
//! modes. Twin of `bench/peer/weft_sync_bench.cpp`; keep the two in step.
//!
//! Output: one line per benchmark, name<TAB>median_ns<TAB>min_ns.

use std::sync::Arc;

use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot, Mutex, Semaphore};

use crate::{measure, Countdown};

const NUM_PINGS: usize = 1_000;
const PRODUCERS: usize = 5;
const SENDS_PER_PRODUCER: usize = 1_000;
const UNCONTENDED_SENDS: usize = 5_000;
const REQUESTS: usize = 1_000;
const LOCK_TASKS: usize = 5;
const LOCKS_PER_TASK: usize = 1_000;
const SEMAPHORE_TASKS: usize = 6;
const SEMAPHORE_PERMITS: usize = 5;
const ACQUIRES_PER_TASK: usize = 1_000;

/// NUM_PINGS pairs of tasks; in each, one sends on a oneshot, the other
/// answers on a second oneshot. The last pair to finish signals the
/// measuring thread.
fn ping_pong(rt: &Runtime, reps: usize) {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let countdown: &'static Countdown = Countdown::leak(tx);
    measure("ping_pong", reps, || {
        countdown.reset(NUM_PINGS);
        rt.spawn(async move {
            for _ in 0..NUM_PINGS {
                tokio::spawn(async move {
                    let (tx1, rx1) = oneshot::channel::<()>();
                    let (tx2, rx2) = oneshot::channel::<()>();
                    tokio::spawn(async move {
                        rx1.await.unwrap();
                        tx2.send(()).unwrap();
                    });
                    tx1.send(()).unwrap();
                    rx2.await.unwrap();
                    countdown.arrive();
                });
            }
        });
        rx.recv().unwrap();
    });
}

/// PRODUCERS tasks each send SENDS_PER_PRODUCER values; the block_on task
/// receives them all. `capacity` None: unbounded.
fn mpsc_contention(rt: &Runtime, reps: usize, name: &str, capacity: Option<usize>) {
    measure(name, reps, || {
        rt.block_on(async {
            match capacity {
                Some(cap) => {
                    let (tx, mut rx) = mpsc::channel::<usize>(cap);
                    for _ in 0..PRODUCERS {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            for i in 0..SENDS_PER_PRODUCER {
                                tx.send(i).await.unwrap();
                            }
                        });
                    }
                    for _ in 0..PRODUCERS * SENDS_PER_PRODUCER {
                        rx.recv().await.unwrap();
                    }
                }
                None => {
                    let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
                    for _ in 0..PRODUCERS {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            for i in 0..SENDS_PER_PRODUCER {
                                tx.send(i).unwrap();
                            }
                        });
                    }
                    for _ in 0..PRODUCERS * SENDS_PER_PRODUCER {
                        rx.recv().await.unwrap();
                    }
                }
            }
        })
    });
}

/// One task sends UNCONTENDED_SENDS values, then receives them.
fn mpsc_uncontended(rt: &Runtime, reps: usize, name: &str, bounded: bool) {
    measure(name, reps, || {
        rt.block_on(async {
            if bounded {
                let (tx, mut rx) = mpsc::channel::<usize>(1_000_000);
                for i in 0..UNCONTENDED_SENDS {
                    tx.send(i).await.unwrap();
                }
                for _ in 0..UNCONTENDED_SENDS {
                    rx.recv().await.unwrap();
                }
            } else {
                let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
                for i in 0..UNCONTENDED_SENDS {
                    tx.send(i).unwrap();
                }
                for _ in 0..UNCONTENDED_SENDS {
                    rx.recv().await.unwrap();
                }
            }
        })
    });
}

/// A server task answers requests that carry a oneshot sender; the
/// block_on task makes REQUESTS requests one after the other.
fn request_reply(rt: &Runtime, reps: usize) {
    let (tx, mut rx) = mpsc::channel::<oneshot::Sender<()>>(10);
    rt.spawn(async move {
        while let Some(reply) = rx.recv().await {
            reply.send(()).unwrap();
        }
    });
    measure("mpsc_oneshot_request_reply", reps, || {
        let task_tx = tx.clone();
        rt.block_on(async move {
            for _ in 0..REQUESTS {
                let (o_tx, o_rx) = oneshot::channel();
                task_tx.send(o_tx).await.unwrap();
                o_rx.await.unwrap();
            }
        })
    });
}

/// LOCK_TASKS tasks each take the lock LOCKS_PER_TASK times to bump a counter.
fn mutex_contended(rt: &Runtime, reps: usize) {
    let m = Arc::new(Mutex::new(0usize));
    measure("mutex_contended", reps, || {
        rt.block_on(async {
            let handles: Vec<_> = (0..LOCK_TASKS)
                .map(|_| {
                    let m = m.clone();
                    tokio::spawn(async move {
                        for _ in 0..LOCKS_PER_TASK {
                            *m.lock().await += 1;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        })
    });
}

/// SEMAPHORE_TASKS tasks share SEMAPHORE_PERMITS permits, each acquiring and
/// releasing one ACQUIRES_PER_TASK times.
fn semaphore_contended(rt: &Runtime, reps: usize) {
    let s = Arc::new(Semaphore::new(SEMAPHORE_PERMITS));
    measure("semaphore_contended", reps, || {
        rt.block_on(async {
            let handles: Vec<_> = (0..SEMAPHORE_TASKS)
                .map(|_| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        for _ in 0..ACQUIRES_PER_TASK {
                            let permit = s.acquire().await.unwrap();
                            drop(permit);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        })
    });
}

pub fn run(rt: &Runtime, reps: usize) {
    ping_pong(rt, reps);
    mpsc_contention(rt, reps, "mpsc_bounded_100", Some(100));
    mpsc_contention(rt, reps, "mpsc_bounded_1e6", Some(1_000_000));
    mpsc_contention(rt, reps, "mpsc_unbounded", None);
    mpsc_uncontended(rt, reps, "mpsc_uncontended_bounded", true);
    mpsc_uncontended(rt, reps, "mpsc_uncontended_unbounded", false);
    request_reply(rt, reps);
    mutex_contended(rt, reps);
    semaphore_contended(rt, reps);
}
