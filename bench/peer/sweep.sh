#!/usr/bin/env bash
# bench/peer/sweep.sh — the scheduler size sweep: weft and tokio, one run,
# alternating, at every size; prints a markdown table, writes CSV files and
# draws the plot.
#
#   bench/peer/sweep.sh [WORKERS] [ROUNDS]      (defaults: 2 workers, 3 rounds)
#   SIZES="100 1000" YIELD_SIZES="100" bench/peer/sweep.sh   a smaller sweep
#
# Benchmarks (bench/peer/weft_sweep_bench.cpp and tokio/src/sweep.rs):
#   spawn_local   one task spawns N no-op tasks            ns per task
#   spawn_remote  the main thread spawns N no-op tasks     ns per task
#   chain         N links, each spawning the next          ns per task
#   yield_many    N tasks × 1,000 yields                   ns per yield
#   queued_rss    peak RSS with 1,000,000 spawned-but-not-yet-run tasks (weft
#                 in both spawn forms: a task object, and a callable)
# Every point is a fresh process per runtime; in each round the order of the
# two runtimes alternates (tokio first in odd rounds, per point). A point's
# value is the median over rounds of each process's median run.
#
# Output (in build/bench/results/): sweep_raw.csv (every process),
# sweep.csv (bench,size,weft_ns,tokio_ns,ratio), queued_rss.csv, and the plot
# docs/img/sweep.png (gnuplot from Debian; skipped with a note if missing).
set -euo pipefail

WORKERS=${1:-2}
ROUNDS=${2:-3}
SIZES=${SIZES:-100 1000 10000 100000 1000000}
YIELD_SIZES=${YIELD_SIZES:-100 1000 5000 10000}
QUEUED=${QUEUED:-1000000}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build/bench"
RESULTS="$BUILD/results"
PLOT="$REPO/docs/img/sweep.png"
mkdir -p "$RESULTS"

log() { printf '[sweep] %s\n' "$*" >&2; }

# shellcheck source=build_peers.sh
source "$HERE/build_peers.sh"
if ((!weft_ok)); then
  log "weft did not build; nothing to compare"
  exit 3
fi
"$REPO/scripts/install-deps.sh" gnuplot >&2 || log "gnuplot not installed; the plot is skipped"

# Runs per process: enough that the small sizes take a measurable time.
reps_for() {
  local bench=$1 n=$2
  if [[ $bench == yield_many ]]; then
    if ((n <= 100)); then echo 30; elif ((n <= 1000)); then echo 10; else echo 5; fi
  elif ((n <= 100)); then echo 1000
  elif ((n <= 1000)); then echo 300
  elif ((n <= 10000)); then echo 50
  elif ((n <= 100000)); then echo 10
  else echo 5; fi
}

RAW="$RESULTS/sweep_raw.csv"
echo "bench,size,runtime,round,median_ns,fastest_ns" >"$RAW"
QRAW="$RESULTS/queued_rss_raw.csv"
echo "form,size,runtime,round,peak_rss_kib,before_kib" >"$QRAW"

point() {  # point RUNTIME BENCH SIZE ROUND
  local impl=$1 bench=$2 n=$3 round=$4 bin line
  if [[ $impl == tokio ]]; then bin=$TOKIO_BIN; else bin=$WEFT_BIN; fi
  if ! line=$(timeout --kill-after=10 300 "$bin" sweep "$bench" "$n" "$WORKERS" "$(reps_for "$bench" "$n")"); then
    log "$impl $bench $n failed or timed out"
    return 0
  fi
  # line: bench size median fastest
  awk -v impl="$impl" -v round="$round" -F'\t' '{ print $1 "," $2 "," impl "," round "," $3 "," $4 }' \
    <<<"$line" >>"$RAW"
}

for ((round = 1; round <= ROUNDS; round++)); do
  for bench in spawn_local spawn_remote chain yield_many; do
    sizes=$SIZES
    [[ $bench == yield_many ]] && sizes=$YIELD_SIZES
    for n in $sizes; do
      if ((round % 2)); then order="tokio weft"; else order="weft tokio"; fi
      log "round $round: $bench $n ($order)"
      for impl in $order; do point "$impl" "$bench" "$n" "$round"; done
    done
  done
  for n in $QUEUED; do
    if ((round % 2)); then order="tokio weft"; else order="weft tokio"; fi
    for impl in $order; do
      if [[ $impl == tokio ]]; then runs="tokio:async"; else runs="weft:call weft:lambda"; fi
      for r in $runs; do
        bin=$WEFT_BIN
        [[ $impl == tokio ]] && bin=$TOKIO_BIN
        log "round $round: queued_rss $n $r"
        if line=$(timeout --kill-after=10 120 "$bin" queued_rss "$n" "$WORKERS" "${r#*:}"); then
          awk -v impl="$impl" -v form="${r#*:}" -v round="$round" -F'\t' \
            '{ print form "," $2 "," impl "," round "," $3 "," $4 }' <<<"$line" >>"$QRAW"
        fi
      done
    done
  done
done

# --- summary: median over rounds, ns per task (per yield for yield_many) -------
# The median of a space-separated list, for both summaries.
AWK_MEDIAN='
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
'
SUMMARY="$RESULTS/sweep.csv"
awk -F, "$AWK_MEDIAN"'
  NR > 1 {
    k = $1 "," $2
    if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    v[k "," $3] = v[k "," $3] " " $5
  }
  END {
    print "bench,size,weft_ns,tokio_ns,ratio"
    for (i = 1; i <= n; i++) {
      split(order[i], p, ",")
      per = (p[1] == "yield_many") ? p[2] * 1000 : p[2]
      w = median(v[order[i] ",weft"]) / per
      t = median(v[order[i] ",tokio"]) / per
      printf "%s,%s,%.1f,%.1f,%.2f\n", p[1], p[2], w, t, (t > 0 ? w / t : 0)
    }
  }' "$RAW" >"$SUMMARY"

QSUMMARY="$RESULTS/queued_rss.csv"
awk -F, "$AWK_MEDIAN"'
  NR > 1 { if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }; v[$2 "," $1] = v[$2 "," $1] " " $5 }
  END {
    print "size,weft_call_kib,weft_lambda_kib,tokio_kib,call_ratio,lambda_ratio"
    for (i = 1; i <= n; i++) {
      c = median(v[order[i] ",call"]); l = median(v[order[i] ",lambda"]); t = median(v[order[i] ",async"])
      printf "%s,%d,%d,%d,%.2f,%.2f\n", order[i], c, l, t, (t > 0 ? c / t : 0), (t > 0 ? l / t : 0)
    }
  }' "$QRAW" >"$QSUMMARY"

# --- table ------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
read -r load1 load5 _ </proc/loadavg
echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores; load average $load1 / $load5 (1 / 5 min)"
echo "Workers: $WORKERS; $ROUNDS rounds, alternating; each value: median over rounds of a process's median run"
echo
echo "| benchmark | tasks | weft ns | tokio ns | weft/tokio | ≤ 0.8×? | weft vs its 10,000 point |"
echo "|---|---|---|---|---|---|---|"
awk -F, '
  NR > 1 { w[$1 "," $2] = $3; row[++n] = $0 }
  END {
    for (i = 1; i <= n; i++) {
      split(row[i], p, ",")
      growth = "—"
      base = w[p[1] ",10000"]
      if (p[2] + 0 > 10000 && base > 0) growth = sprintf("%.2f×%s", p[3] / base, (p[3] / base <= 1.5) ? "" : " (over 1.5×)")
      unit = (p[1] == "yield_many") ? " (per yield)" : ""
      printf "| %s%s | %\047d | %.1f | %.1f | %.2f | %s | %s |\n", p[1], unit, p[2], p[3], p[4], p[5],
             (p[5] <= 0.8 ? "yes" : "no"), growth
    }
  }' "$SUMMARY"
echo
echo "| queued no-op tasks | weft, rt.spawn(no_op()) | weft, rt.spawn([] () -> task<> {...}) | tokio | weft/tokio | ≤ 0.5×? |"
echo "|---|---|---|---|---|---|"
awk -F, 'NR > 1 { printf "| %\047d | %.1f MiB | %.1f MiB | %.1f MiB | %.2f / %.2f | %s |\n", $1, $2 / 1024, $3 / 1024, $4 / 1024, $5, $6, ($6 <= 0.5 ? "yes" : "no") }' "$QSUMMARY"

# --- plot -------------------------------------------------------------------------
if command -v gnuplot >/dev/null; then
  mkdir -p "$(dirname "$PLOT")"
  for bench in spawn_local spawn_remote chain yield_many; do
    awk -F, -v b="$bench" 'NR > 1 && $1 == b { print $2, $3, $4 }' "$SUMMARY" >"$RESULTS/sweep_$bench.dat"
  done
  gnuplot <<EOF
set terminal pngcairo size 1200,520 font "sans,10" noenhanced
set output "$PLOT"
set multiplot layout 1,2 title "Scheduler size sweep, $WORKERS workers (bench/peer/sweep.sh): weft solid, tokio dashed"
set logscale x
set grid
set key top left
set xlabel "tasks"
set ylabel "ns per task"
set title "spawn and chain"
plot "$RESULTS/sweep_spawn_local.dat" u 1:2 w lp lw 2 lc 1 pt 7 t "weft spawn from a task", \
     "$RESULTS/sweep_spawn_local.dat" u 1:3 w lp lw 2 lc 1 dt 2 pt 6 t "tokio spawn from a task", \
     "$RESULTS/sweep_spawn_remote.dat" u 1:2 w lp lw 2 lc 2 pt 5 t "weft spawn from main", \
     "$RESULTS/sweep_spawn_remote.dat" u 1:3 w lp lw 2 lc 2 dt 2 pt 4 t "tokio spawn from main", \
     "$RESULTS/sweep_chain.dat" u 1:2 w lp lw 2 lc 3 pt 9 t "weft chained spawn", \
     "$RESULTS/sweep_chain.dat" u 1:3 w lp lw 2 lc 3 dt 2 pt 8 t "tokio chained spawn"
set title "yield_many: N tasks × 1,000 yields"
set ylabel "ns per yield"
plot "$RESULTS/sweep_yield_many.dat" u 1:2 w lp lw 2 lc 4 pt 7 t "weft", \
     "$RESULTS/sweep_yield_many.dat" u 1:3 w lp lw 2 lc 4 dt 2 pt 6 t "tokio"
unset multiplot
EOF
  log "plot: $PLOT"
fi
echo
echo "Raw: $RAW; summary: $SUMMARY, $QSUMMARY"
