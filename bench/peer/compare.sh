#!/usr/bin/env bash
# bench/peer/compare.sh — build and run weft's and tokio's twin runtime
# benchmarks with the same number of worker threads, and print one markdown
# table comparing them against weft's targets.
#
#   bench/peer/compare.sh [WORKERS] [REPS] [ROUNDS]
#                         (defaults: 2 workers, 20 reps, 3 rounds)
#   MODES="sync" bench/peer/compare.sh   runs only some modes (default: all of
#                         rt sync sleep idle idle_sleep); rows of the others
#                         print n/a
#
# Installs what is missing from Debian's archive (cargo, rustc,
# librust-tokio-dev, ...), builds tokio_rt_bench with Debian's cargo fully
# offline against /usr/share/cargo/registry, builds weft_rt_bench with CMake
# (Release, Ninja) in <repo>/build/bench, and runs both. Raw results land in
# <repo>/build/bench/results/. If weft does not build, the tokio column is
# still produced, the weft column says "pending", and the script exits 3.
set -euo pipefail

WORKERS=${1:-2}
REPS=${2:-20}
ROUNDS=${3:-${ROUNDS:-3}}
MODES=${MODES:-rt sync sleep idle idle_sleep}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build/bench"
RESULTS="$BUILD/results"
mkdir -p "$RESULTS"

log() { printf '[compare] %s\n' "$*" >&2; }

# --- 1–3. toolchain from Debian, tokio_rt_bench, weft_rt_bench ----------------
# shellcheck source=build_peers.sh
source "$HERE/build_peers.sh"

# --- 4. run ------------------------------------------------------------------
# Every mode runs in its own process, so RSS readings are clean. The whole set
# runs ROUNDS times, alternating which runtime goes first, so load from other
# work on the machine hits both sides alike; the table takes, per benchmark,
# the median over rounds (and the fastest single run for the timed ones).
# run IMPL MODE SECONDS ROUND
run() {
  local impl=$1 mode=$2 limit=$3 round=$4 bin out
  if [[ $impl == tokio ]]; then bin=$TOKIO_BIN; else bin=$WEFT_BIN; fi
  out="$RESULTS/${impl}_${mode}.r${round}.tsv"
  : >"$out"
  if [[ $impl == weft ]] && ((!weft_ok)); then return 0; fi
  log "round $round: $impl $mode (workers=$WORKERS)"
  if ! timeout --kill-after=10 "$limit" "$bin" "$mode" "$WORKERS" "$REPS" >"$out" 2>"${out%.tsv}.err"; then
    log "$impl $mode failed or timed out after ${limit}s; see ${out%.tsv}.err"
  fi
}
rm -f "$RESULTS"/*.r*.tsv "$RESULTS"/*.r*.err
for ((round = 1; round <= ROUNDS; round++)); do
  if ((round % 2)); then order="tokio weft"; else order="weft tokio"; fi
  for mode in $MODES; do
    case $mode in rt | sync) limit=240 ;; sleep) limit=120 ;; *) limit=60 ;; esac
    for impl in $order; do run "$impl" "$mode" "$limit" "$round"; done
  done
done

# Merge the rounds: column 2 is the median over rounds; column 3 is the
# fastest run for timed benchmarks and the median for sleep_1m's peak RSS.
for impl in tokio weft; do
  cat "$RESULTS/${impl}"_*.r*.tsv | awk -F'\t' '
    function median(list,   a, n, i, j, t) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : sprintf("%.0f", (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    NF >= 2 {
      if (!($1 in c2)) order[++n] = $1
      c2[$1] = c2[$1] " " $2
      if (NF >= 3) {
        c3[$1] = c3[$1] " " $3
        if (!($1 in lo) || $3 + 0 < lo[$1] + 0) lo[$1] = $3
      }
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (!(k in c3)) print k "\t" median(c2[k])
        else if (k == "sleep_1m") print k "\t" median(c2[k]) "\t" median(c3[k])
        else print k "\t" median(c2[k]) "\t" lo[k]
      }
    }' >"$RESULTS/${impl}.tsv"
done

# --- 5. table ----------------------------------------------------------------
sed 's/^/tokio\t/' "$RESULTS/tokio.tsv" >"$RESULTS/all.tsv"
sed 's/^/weft\t/' "$RESULTS/weft.tsv" >>"$RESULTS/all.tsv"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
cache="$BUILD/CMakeCache.txt"
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache" 2>/dev/null | head -n1)
echo "Toolchains: $("${cxx:-c++}" --version 2>/dev/null | head -n1) (CMake Release); $("$RUSTC" --version) (cargo --release); tokio $(ls /usr/share/cargo/registry | sed -n 's/^tokio-\([0-9.]*\)$/\1/p' | head -n1)"
read -r load1 load5 _ </proc/loadavg
echo "Load average while running: $load1 (1 min), $load5 (5 min)$(awk -v l="$load5" -v n="$(nproc)" 'BEGIN { if (l > 0.5 * n) print " — other work was running; medians are noisy" }')"
echo "Workers: $WORKERS; each timing is the median over $ROUNDS rounds (alternating which runtime runs first) of the median of $REPS runs after 2 warm-ups; fastest single run in parentheses. sleep_1m and idle: median over $ROUNDS rounds, one process each."
echo
awk -F'\t' -v weft_ok="$weft_ok" '
  { v1[$1 SUBSEP $2] = $3; v2[$1 SUBSEP $2] = $4; seen[$1 SUBSEP $2] = 1 }
  function dur(ns) {
    if (ns >= 1e9) return sprintf("%.2f s", ns / 1e9)
    if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
    return sprintf("%.1f µs", ns / 1e3)
  }
  function cell(impl, name, kind,   k) {
    k = impl SUBSEP name
    if (!(k in seen)) return (impl == "weft" && !weft_ok) ? "pending" : "n/a"
    if (kind == "time") return dur(v1[k]) " (" dur(v2[k]) ")"
    if (kind == "total") return dur(v1[k])
    if (kind == "rss") return sprintf("%.0f MiB", v2[k] / 1024)
    return v1[k] " B"
  }
  function val(impl, name, kind,   k) {
    k = impl SUBSEP name
    if (!(k in seen)) return ""
    return (kind == "rss") ? v2[k] : v1[k]
  }
  function row(label, name, kind, target,   w, t, ratio, met) {
    w = val("weft", name, kind); t = val("tokio", name, kind)
    ratio = "—"; met = "—"
    if (w != "" && t != "" && t + 0 > 0) {
      ratio = sprintf("%.2f", w / t)
      if (target != "") met = (w / t <= target + 0) ? "yes" : "no"
    } else if (target != "") {
      met = "pending"
    }
    printf "| %s | %s | %s | %s | %s | %s |\n", label, cell("weft", name, kind), cell("tokio", name, kind),
           ratio, (target == "" ? "—" : sprintf("≤ %.1f×", target)), met
  }
  END {
    print "| benchmark | weft | tokio | weft/tokio | target | met? |"
    print "|---|---|---|---|---|---|"
    row("spawn_many_local", "spawn_many_local", "time", 0.8)
    row("spawn_many_remote_idle", "spawn_many_remote_idle", "time", 0.8)
    row("spawn_many_remote_busy", "spawn_many_remote_busy", "time", 0.8)
    row("yield_many", "yield_many", "time", 1.0)
    row("chained_spawn", "chained_spawn", "time", 0.8)
    row("sleep_1m (wall time)", "sleep_1m", "total", 0.8)
    row("sleep_1m (peak RSS)", "sleep_1m", "rss", 0.5)
    row("idle_task_bytes", "idle_task_bytes", "bytes", "")
    row("idle_task_bytes_sleep", "idle_task_bytes_sleep", "bytes", "")
    row("ping_pong (1,000 pairs, 2 oneshots each)", "ping_pong", "time", 1.0)
    row("sync_mpsc: 5 × 1,000 into bounded(100)", "mpsc_bounded_100", "time", 1.0)
    row("sync_mpsc: 5 × 1,000 into bounded(1e6)", "mpsc_bounded_1e6", "time", 1.0)
    row("sync_mpsc: 5 × 1,000 into unbounded", "mpsc_unbounded", "time", 1.0)
    row("sync_mpsc: 5,000 send then receive, bounded", "mpsc_uncontended_bounded", "time", 1.0)
    row("sync_mpsc: 5,000 send then receive, unbounded", "mpsc_uncontended_unbounded", "time", 1.0)
    row("sync_mpsc_oneshot: 1,000 request/reply", "mpsc_oneshot_request_reply", "time", 1.0)
    row("mutex: 5 tasks × 1,000 locks", "mutex_contended", "time", 1.0)
    row("semaphore(5): 6 tasks × 1,000 acquires", "semaphore_contended", "time", 1.0)
  }
' "$RESULTS/all.tsv"

if ((!weft_ok)); then
  echo
  echo "weft: pending (weft_rt_bench did not build; log: build/bench/results/weft_build.log)"
  exit 3
fi
