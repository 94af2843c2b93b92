#!/usr/bin/env bash
# bench/net/sweep_echo.sh — TCP echo over a sweep of loads: weft's echo server
# on io_uring and on epoll against tokio and the hand-written liburing loop,
# closed loop, each server on 1 thread pinned to CPU 0 and loadgen on CPU 1.
# Every point runs every server ROUNDS times, the order reversed each round
# (weft first, then last), and reports the median of the rounds.
#
#   bench/net/sweep_echo.sh [DURATION]     (seconds per run, default 3)
#
# Environment: POINTS (space-separated conns:inflight:size, default below),
# ONLY (the servers to run, by name, default all),
# ROUNDS (default 3), WARMUP (default 1), RATE_FRACTION (default 0.5),
# REPORT_ONLY=1 (no runs: the tables and plot again from the last raw runs;
# default 0),
# WEFT_ECHO_SERVER (default
# <repo>/build/release/examples/echo_server, built with the release preset if
# missing), WEFT_ECHO_SERVER_BASE (optional: a second weft build, "weft_base"). Two passes: closed loop, then a fixed offered rate per point.
# Output: markdown tables on stdout; raw runs, closed.tsv, rate.tsv and
# sweep.png (gnuplot) in <repo>/build/bench-net/sweep/.
set -euo pipefail

DURATION=${1:-3}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
RATE_FRACTION=${RATE_FRACTION:-0.5}
POINTS=${POINTS:-"1:1:64 16:1:64 64:1:64 256:1:64 16:16:64 8:4:4096 64:1:4096 8:1:16384"}
[[ $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] ||
  { echo "DURATION, WARMUP, ROUNDS: whole numbers" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build/bench-net"
RESULTS="$BUILD/sweep"
WEFT_ECHO_SERVER=${WEFT_ECHO_SERVER:-$REPO/build/release/examples/echo_server}
SERVER_CPU=0 CLIENT_CPU=1

log() { printf '[sweep_echo] %s\n' "$*" >&2; }

TOKIO="$BUILD/tokio-target/release"  # common.sh builds it there
REPORT_ONLY=${REPORT_ONLY:-0}
[[ $REPORT_ONLY == 0 || $REPORT_ONLY == 1 ]] || { echo "REPORT_ONLY: 0 or 1" >&2; exit 2; }
if ((!REPORT_ONLY)); then
  # shellcheck source=common.sh
  source "$HERE/common.sh"
fi
"$REPO/scripts/install-deps.sh" gnuplot >&2 || log "gnuplot not installed; the plot is skipped"
if ((!REPORT_ONLY)) && [[ ! -x $WEFT_ECHO_SERVER ]]; then
  log "building weft's echo server (release preset)"
  (cd "$REPO" && cmake --preset release >/dev/null && cmake --build --preset release --target echo_server >/dev/null)
fi

# name:port:command (weft_epoll: the same binary with WEFT_IO_BACKEND=epoll;
# weft_rsend: io_uring with every send an SQE, WEFT_URING_SEND=ring, where
# weft tries send(2) first by default)
SERVERS=(
  "weft:19100:$WEFT_ECHO_SERVER"
  "weft_epoll:19101:env WEFT_IO_BACKEND=epoll $WEFT_ECHO_SERVER"
  "weft_rsend:19104:env WEFT_URING_SEND=ring $WEFT_ECHO_SERVER"
  "tokio:19102:$TOKIO/tokio_echo"
  "uring:19103:$BUILD/uring_echo"
)
# WEFT_ECHO_SERVER_BASE: another build of weft's echo server (say, before a
# change), run in the same rounds as "weft_base" — an A/B in one run.
if [[ -n ${WEFT_ECHO_SERVER_BASE:-} ]]; then
  SERVERS+=("weft_base:19105:$WEFT_ECHO_SERVER_BASE")
fi
# ONLY (names, space-separated): run just those servers (default: all).
ONLY=${ONLY:-"weft weft_epoll weft_rsend tokio uring weft_base"}
picked=()
for entry in "${SERVERS[@]}"; do [[ " $ONLY " == *" ${entry%%:*} "* ]] && picked+=("$entry"); done
SERVERS=("${picked[@]}")
field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" 2>/dev/null | head -n1; }
failed=0

# run_pass KIND: every point, every server, ROUNDS rounds; KIND closed, or
# rate (each point at RATE_FRACTION of the slowest server's median closed-loop
# throughput there, the same offered rate for every server).
run_pass() {
  local kind=$1 point c k s round i entry name port cmd out rate rate_args
  : >"$RESULTS/runs.$kind.tsv"
  for point in $POINTS; do
    IFS=: read -r c k s <<<"$point"
    rate_args=()
    if [[ $kind == rate ]]; then
      rate=$(awk -F'\t' -v p="$point" -v f="$RATE_FRACTION" \
        '$1 == p && $3 > 0 { if (!n++ || $3 < min) min = $3 } END { if (n) printf "%d", min * f }' "$RESULTS/closed.tsv")
      if [[ -z $rate ]]; then
        log "$point: no closed-loop result, so no fixed rate to offer (skipped)"
        failed=1
        continue
      fi
      rate_args=(--rate "$rate")
    fi
    for ((round = 1; round <= ROUNDS; round++)); do
      order=("${SERVERS[@]}")
      if ((round % 2 == 0)); then  # reversed: weft last
        order=()
        for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[i]}"); done
      fi
      for entry in "${order[@]}"; do
        IFS=: read -r name port cmd <<<"$entry"
        # shellcheck disable=SC2086  # cmd is words on purpose (env VAR=... binary)
        start_server "$name" "$port" $cmd "$port" 1 || { failed=1; continue; }
        out="$RESULTS/$name.$c-$k-$s.$kind.r$round.txt"
        log "$name $c conns x $k in flight, $s B, $kind ${rate_args[*]}, round $round"
        if timeout --kill-after=5 $((DURATION + WARMUP + 30)) taskset -c "$CLIENT_CPU" "$BUILD/loadgen" \
            --port "$port" --conns "$c" --inflight "$k" --size "$s" --duration "$DURATION" --warmup "$WARMUP" \
            --server-pid "$SERVER_PID" "${rate_args[@]}" >"$out" 2>"${out%.txt}.err"; then
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$point" "$name" "$round" \
            "$(field "$out" throughput_msgs_per_s)" "$(field "$out" server_cpu_s_per_mmsg)" "$(field "$out" p50_us)" \
            "$(field "$out" p99_us)" "$(field "$out" errors)" "$(field "$out" offered_rate)" >>"$RESULTS/runs.$kind.tsv"
        else
          log "$name $point $kind round $round FAILED: $(tail -n 3 "${out%.txt}.err" | tr '\n' ' ')"
          failed=1
        fi
        finish_server
      done
    done
  done
  median "$kind" "$RESULTS/runs.$kind.tsv" >"$RESULTS/$kind.tsv"
}

# median KIND FILE: per point and server, the run of median throughput (closed)
# or of median CPU per message (rate; the lower middle for an even count):
# point, server, msgs/s, CPU s/Mmsg, p99 µs, offered rate — the p99 is the
# median of every round's p99, not that run's (one run's p99 on this VM can
# be 30 times the next one's).
median() {
  local key=4
  [[ $1 == rate ]] && key=5
  LC_ALL=C sort -t$'\t' -k1,1 -k2,2 -k${key},${key}n "$2" | awk -F'\t' '
    function mid(list,   n, a, i, j, t) { n = split(list, a, " ")
      for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return a[int((n + 1) / 2)] }
    { k = $1 "\t" $2; n[k]++; row[k, n[k]] = $4 "\t" $5; tail[k] = $9; p99[k] = p99[k] " " $7
      if (!(k in seen)) { seen[k] = 1; keys[++m] = k } }
    END { for (i = 1; i <= m; i++) { k = keys[i]; print k "\t" row[k, int((n[k] + 1) / 2)] "\t" mid(p99[k]) "\t" tail[k] } }'
}

# paired KIND FILE: per point and server, the median over rounds of the
# round's ratio to tokio (the servers of a round run back to back, so the
# VM's drifts cancel): point, server, msgs/s ratio, CPU ratio, p99 ratio.
paired() {
  awk -F'\t' '
    function mid(list,   n, a, i, j, t) { n = split(list, a, " "); if (!n) return ""
      for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return sprintf("%.2f", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) }
    { v[$1, $2, $3] = $4; c[$1, $2, $3] = $5; p[$1, $2, $3] = $7; rounds[$1, $3] = 1
      if (!(($1, $2) in seen)) { seen[$1, $2] = 1; keys[++m] = $1 SUBSEP $2 } }
    END { for (i = 1; i <= m; i++) { split(keys[i], k, SUBSEP); lv = lc = lp = ""
        for (rk in rounds) { split(rk, r, SUBSEP); if (r[1] != k[1]) continue
          a = k[1] SUBSEP k[2] SUBSEP r[2]; b = k[1] SUBSEP "tokio" SUBSEP r[2]
          if (!(a in v) || !(b in v)) continue
          if (v[b] > 0) lv = lv " " v[a] / v[b]
          if (c[b] > 0) lc = lc " " c[a] / c[b]
          if (p[b] > 0) lp = lp " " p[a] / p[b] }
        printf "%s\t%s\t%s\t%s\t%s\n", k[1], k[2], mid(lv), mid(lc), mid(lp) } }' "$2"
}

if ((REPORT_ONLY)); then  # tables and plot again from the raw runs of the last sweep
  median closed "$RESULTS/runs.closed.tsv" >"$RESULTS/closed.tsv"
  median rate "$RESULTS/runs.rate.tsv" >"$RESULTS/rate.tsv"
else
  run_pass closed
  run_pass rate
fi
paired closed "$RESULTS/runs.closed.tsv" >"$RESULTS/paired.closed.tsv"
paired rate "$RESULTS/runs.rate.tsv" >"$RESULTS/paired.rate.tsv"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
read -r load1 _ </proc/loadavg
echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, $(uname -sr); load average $load1 before the tables"
echo "Each run: ${WARMUP} s warmup + ${DURATION} s measured; per point and server the median of $ROUNDS rounds (server order reversed each round): the run of median throughput (closed loop) or CPU (fixed rate), and the median p99 of all rounds; ratios to tokio are medians of the per-round ratios, ratios to the liburing loop of the medians."
echo
echo "Closed loop (loadgen as fast as the server answers):"
echo
awk -F'\t' -v order="$POINTS" '
  BEGIN { m = split(order, pts, " ") }
  FNR == NR { pv[$1, $2] = $3; next }
  { v[$1, $2] = $3; p[$1, $2] = $5 }
  function r(a, b) { return (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2f", a / b) : "—" }
  function pr(q, s) { return ((q, s) in pv && pv[q, s] != "") ? pv[q, s] : "—" }
  END {
    print "| conns × in flight × size | weft msgs/s | weft ring send | weft epoll | tokio | liburing loop | weft/tokio | weft/liburing | weft ring send/tokio | weft epoll/tokio | weft p99 µs | tokio p99 µs |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= m; i++) { q = pts[i]; split(q, f, ":")
      printf "| %s × %s × %s B | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3],
        v[q, "weft"], v[q, "weft_rsend"], v[q, "weft_epoll"], v[q, "tokio"], v[q, "uring"],
        pr(q, "weft"), r(v[q, "weft"], v[q, "uring"]), pr(q, "weft_rsend"),
        pr(q, "weft_epoll"), p[q, "weft"], p[q, "tokio"] }
  }' "$RESULTS/paired.closed.tsv" "$RESULTS/closed.tsv"
echo
echo "Fixed offered rate (${RATE_FRACTION} × the slowest server's closed-loop throughput at that point): server CPU s per million messages and p99; * = fell behind the offered rate."
echo
awk -F'\t' -v order="$POINTS" '
  BEGIN { m = split(order, pts, " ") }
  FNR == NR { pc[$1, $2] = $4; pp[$1, $2] = $5; next }
  { v[$1, $2] = $3; c[$1, $2] = $4; p[$1, $2] = $5; o[$1] = $6 }
  function pr(a, q, s) { return ((q, s) in a && a[q, s] != "") ? a[q, s] : "—" }
  function r(a, b) { return (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2f", a / b) : "—" }
  function cell(q, s) { return c[q, s] ((c[q, s] != "" && v[q, s] < 0.97 * o[q]) ? "*" : "") }
  END {
    print "| conns × in flight × size | offered msgs/s | weft CPU s/Mmsg | weft ring send | weft epoll | tokio | liburing loop | weft/tokio CPU | weft ring send/tokio CPU | weft/liburing CPU | weft p99 µs | tokio p99 µs | weft/tokio p99 |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= m; i++) { q = pts[i]; split(q, f, ":")
      printf "| %s × %s × %s B | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], o[q],
        cell(q, "weft"), cell(q, "weft_rsend"), cell(q, "weft_epoll"), cell(q, "tokio"), cell(q, "uring"),
        pr(pc, q, "weft"), pr(pc, q, "weft_rsend"), r(c[q, "weft"], c[q, "uring"]),
        p[q, "weft"], p[q, "tokio"], pr(pp, q, "weft") }
  }' "$RESULTS/paired.rate.tsv" "$RESULTS/rate.tsv"

# Plot: throughput ratios per point.
awk -F'\t' -v order="$POINTS" '
  BEGIN { m = split(order, pts, " ") }
  FNR == 1 { file++ }
  file == 1 { v[$1, $2] = $3 }
  file == 2 { c[$1, $2] = $4 }
  END { for (i = 1; i <= m; i++) { q = pts[i]
    if (v[q, "tokio"] > 0 && v[q, "uring"] > 0 && c[q, "tokio"] > 0)
      printf "%d \"%s\" %.3f %.3f %.3f %.3f %.3f\n", i, q, v[q, "weft"] / v[q, "tokio"], v[q, "weft"] / v[q, "uring"],
        v[q, "weft_epoll"] / v[q, "tokio"], c[q, "weft"] / c[q, "tokio"], c[q, "weft_rsend"] / c[q, "tokio"] } }' \
  "$RESULTS/closed.tsv" "$RESULTS/rate.tsv" >"$RESULTS/ratios.dat"
gnuplot <<GP 2>/dev/null || log "gnuplot failed (plot skipped)"
set terminal pngcairo size 1000,480 font "sans,10" noenhanced
set output "$RESULTS/sweep.png"
set title "TCP echo, 1 server thread: weft relative to peers (closed-loop throughput; CPU per message at a fixed rate)"
set ylabel "ratio"
set xlabel "connections : in flight : message bytes"
set xtics rotate by -30
set yrange [0:*]
set grid ytics
set key top left
plot 1 title "parity" lc rgb "#888888" dt 2, \
     "$RESULTS/ratios.dat" using 1:3:xtic(2) with linespoints title "weft (io_uring) / tokio", \
     "" using 1:4 with linespoints title "weft (io_uring) / liburing loop", \
     "" using 1:5 with linespoints title "weft (epoll) / tokio", \
     "" using 1:6 with linespoints title "weft / tokio, CPU per message at the fixed rate (lower is better)", \
     "" using 1:7 with linespoints title "weft ring send / tokio, CPU per message at the fixed rate"
GP
log "raw runs: $RESULTS/runs.{closed,rate}.tsv; plot: $RESULTS/sweep.png"
exit "$failed"
