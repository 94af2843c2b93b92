#!/usr/bin/env bash
# bench/net/sweep_http.sh — HTTP/1.1 keep-alive "Hello, World!" over a sweep
# of connection counts: weft's examples/http_server on io_uring and on epoll
# against tokio's (bench/net/tokio/src/bin/tokio_http.rs). Each server runs on
# 1 thread pinned to CPU 0, the client on CPU 1, loopback only. Two passes:
#   closed loop   wrk -t1 -cC -dD --latency: requests/s, p50, p99, and the
#                 server's CPU (utime + stime) per million requests;
#   fixed rate    h2load --h1 -cC --rps R/C -D D, R = RATE_FRACTION × the
#                 slowest server's closed-loop requests/s at that point: the
#                 server's CPU per million requests when every server does the
#                 same work ('*': it completed under 97 % of what was offered).
# Every point runs every server ROUNDS times, the order reversed each round,
# and reports the median of the rounds.
#
#   bench/net/sweep_http.sh [DURATION]     (seconds per run, default 3)
#
# Environment: POINTS (connection counts, default "1 16 64 256"), ROUNDS
# (default 3), RATE_FRACTION (default 0.5), ONLY (servers by name),
# WEFT_HTTP_SERVER (default <repo>/build/release/examples/http_server),
# WEFT_HTTP_SERVER_BASE (optional: a second weft build, "weft_base").
# Output: markdown tables on stdout; runs.tsv (every run), medians.tsv,
# paired.tsv (per-round ratios' medians), ratios.tsv and http-sweep.png (gnuplot) in <repo>/build/bench-net/http-sweep/.
set -euo pipefail
export LC_ALL=C  # numbers with '.' for awk and sort -g, whatever the caller's locale

DURATION=${1:-3}
ROUNDS=${ROUNDS:-3}
RATE_FRACTION=${RATE_FRACTION:-0.5}
POINTS=${POINTS:-"1 16 64 256"}
[[ $DURATION =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "DURATION, ROUNDS: whole numbers" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build/bench-net"
RESULTS="$BUILD/http-sweep"
WEFT_HTTP_SERVER=${WEFT_HTTP_SERVER:-$REPO/build/release/examples/http_server}
SERVER_CPU=0 CLIENT_CPU=1
log() { printf '[sweep_http] %s\n' "$*" >&2; }

# shellcheck source=common.sh
source "$HERE/common.sh"
"$REPO/scripts/install-deps.sh" wrk nghttp2-client gnuplot >&2
if [[ ! -x $WEFT_HTTP_SERVER ]]; then
  log "building weft's HTTP server (release preset)"
  (cd "$REPO" && cmake --preset release >/dev/null && cmake --build --preset release --target http_server >/dev/null)
fi
ROOT="$BUILD/http-root"
mkdir -p "$ROOT"
printf 'Hello, World!' >"$ROOT/index.html"

SERVERS=(
  "weft:19200:$WEFT_HTTP_SERVER --port 19200 --root $ROOT --threads 1"
  "weft_epoll:19201:env WEFT_IO_BACKEND=epoll $WEFT_HTTP_SERVER --port 19201 --root $ROOT --threads 1"
  "tokio:19202:$TOKIO/tokio_http 19202 1"
)
# WEFT_HTTP_SERVER_BASE: another build of weft's HTTP server (say, before a
# change), run on io_uring as "weft_base" in the same rounds.
if [[ -n ${WEFT_HTTP_SERVER_BASE:-} ]]; then
  SERVERS+=("weft_base:19203:$WEFT_HTTP_SERVER_BASE --port 19203 --root $ROOT --threads 1")
fi
if [[ -n ${ONLY:-} ]]; then
  keep=()
  for e in "${SERVERS[@]}"; do [[ " $ONLY " == *" ${e%%:*} "* ]] && keep+=("$e"); done
  SERVERS=("${keep[@]}")
fi

cpu_seconds() { sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($12 + $13) / hz }'; }
to_us() {  # wrk's "123.45us" / "1.23ms" / "1.02s" → microseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /ms$/) n *= 1000; else if (v ~ /us$/) n *= 1; else if (v ~ /s$/) n *= 1e6; printf "%.1f\n", n }'
}

# run_one NAME PORT CMD CONNS KIND [RATE]: one run, one TSV line on stdout:
# conns kind name requests/s p50_us p99_us cpu_s_per_mreq offered round
run_one() {
  local name=$1 port=$2 cmd=$3 conns=$4 kind=$5 rate=${6:-0} out cpu0 cpu1 reqs rps p50 p99 per
  out="$RESULTS/$name.$conns.$kind.$round.txt"
  # shellcheck disable=SC2086  # the command line is split on purpose
  start_server "$name" "$port" $cmd || { printf '%s\t%s\t%s\tfailed\n' "$conns" "$kind" "$name"; return 0; }
  # Warm-up: the file cache, the ring's buffers, the allocator.
  timeout 20 taskset -c "$CLIENT_CPU" wrk -t1 "-c$conns" -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
  cpu0=$(cpu_seconds "$SERVER_PID")
  if [[ $kind == closed ]]; then
    timeout --kill-after=5 $((DURATION + 30)) taskset -c "$CLIENT_CPU" \
      wrk -t1 "-c$conns" "-d${DURATION}s" --latency "http://127.0.0.1:$port/" >"$out" 2>&1 || echo failed >>"$out"
  else
    local per_conn=$(((rate + conns - 1) / conns))
    timeout --kill-after=5 $((DURATION + 30)) taskset -c "$CLIENT_CPU" \
      h2load --h1 -t1 "-c$conns" "--rps=$per_conn" "-D$DURATION" "http://127.0.0.1:$port/" >"$out" 2>&1 || echo failed >>"$out"
  fi
  cpu1=$(cpu_seconds "$SERVER_PID")
  finish_server
  if grep -q '^failed' "$out"; then
    printf '%s\t%s\t%s\tfailed\n' "$conns" "$kind" "$name"
    return 0
  fi
  if [[ $kind == closed ]]; then
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
    if grep -q 'Non-2xx' "$out"; then echo "$name: non-2xx answers" >&2; printf '%s\t%s\t%s\tfailed\n' "$conns" "$kind" "$name"; return 0; fi
  else
    # "requests: N total, N started, N done, N succeeded, ..."
    reqs=$(awk '/^requests:/ { print $8 }' "$out")
    rps=$(awk -v n="$reqs" -v d="$DURATION" 'BEGIN { printf "%.0f", n / d }')
    p50=0 p99=0
  fi
  per=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$reqs" 'BEGIN { printf "%.3f", (n > 0 ? (b - a) / n * 1e6 : 0) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$kind" "$name" "$rps" "$p50" "$p99" "$per" "$rate" "$round"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

: >"$RESULTS/runs.tsv"
for kind in closed rate; do
  for conns in $POINTS; do
    rate=0
    if [[ $kind == rate ]]; then
      rate=$(awk -F'\t' -v c="$conns" -v f="$RATE_FRACTION" '$1 == c && $2 == "closed" && $4 != "failed" { if (!n++ || $4 < m) m = $4 } END { if (n) printf "%d", m * f }' "$RESULTS/runs.tsv")
      # No closed-loop result at this point: no rate to offer; skip it rather than invent one.
      [[ -n $rate ]] || { log "no closed-loop result at $conns connections: fixed-rate pass skipped"; continue; }
    fi
    for ((round = 1; round <= ROUNDS; round++)); do
      order=("${SERVERS[@]}")
      if ((round % 2 == 0)); then
        order=()
        for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[i]}"); done
      fi
      for e in "${order[@]}"; do
        name=${e%%:*} rest=${e#*:} port=${rest%%:*} cmd=${rest#*:}
        log "$kind, $conns connections, round $round: $name"
        run_one "$name" "$port" "$cmd" "$conns" "$kind" "$rate" >>"$RESULTS/runs.tsv"
      done
    done
  done
done

# Medians per (conns, kind, server).
: >"$RESULTS/medians.tsv"
for kind in closed rate; do
  for conns in $POINTS; do
    for e in "${SERVERS[@]}"; do
      name=${e%%:*}
      sel() { awk -F'\t' -v c="$conns" -v k="$kind" -v s="$name" -v col="$1" '$1 == c && $2 == k && $3 == s && $4 != "failed" { print $col }' "$RESULTS/runs.tsv"; }
      [[ -n $(sel 4) ]] || continue
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$kind" "$name" "$(sel 4 | median)" "$(sel 5 | median)" \
        "$(sel 6 | median)" "$(sel 7 | median)" "$(sel 8 | median)" >>"$RESULTS/medians.tsv"
    done
  done
done

# Paired ratios: within each round every server ran back to back, so server/tokio
# per round, then the median over rounds, cancels the machine's slow drifts (a
# neighbour's load moves every server of a round together) better than the
# ratio of two medians. Columns: conns kind server rps p99 cpu (each a ratio).
awk -F'\t' '
  function med(list,   n, a, i, j, t) { n = split(list, a, " "); if (!n) return 0
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  $4 != "failed" { k = $1 SUBSEP $2 SUBSEP $9; rps[k, $3] = $4; p99[k, $3] = $6; cpu[k, $3] = $7; seen[k] = 1; names[$3] = 1
    if (!(($1, $2) in pk)) { pk[$1, $2] = 1; order[++n] = $1 SUBSEP $2 } }
  END { for (i = 1; i <= n; i++) { split(order[i], ck, SUBSEP)
      for (s in names) { if (s == "tokio") continue; lr = lp = lc = ""
        for (k in seen) { split(k, kk, SUBSEP); if (kk[1] != ck[1] || kk[2] != ck[2]) continue
          if (!((k, s) in rps) || !((k, "tokio") in rps)) continue
          if (rps[k, "tokio"] > 0) lr = lr " " rps[k, s] / rps[k, "tokio"]
          if (p99[k, "tokio"] > 0) lp = lp " " p99[k, s] / p99[k, "tokio"]
          if (cpu[k, "tokio"] > 0) lc = lc " " cpu[k, s] / cpu[k, "tokio"] }
        if (lr != "") printf "%s\t%s\t%s\t%.3f\t%.3f\t%.3f\n", ck[1], ck[2], s, med(lr), med(lp), med(lc) } } }' \
  "$RESULTS/runs.tsv" | sort -t$'\t' -k2,2 -k1,1n -k3,3 >"$RESULTS/paired.tsv"

read -r load1 load5 _ </proc/loadavg
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(uname -sr); load average $load1 (1 min), $load5 (5 min)"
echo "Each server 1 thread on CPU $SERVER_CPU, client on CPU $CLIENT_CPU; ${DURATION} s per run after a 1 s warm-up; values are medians of $ROUNDS rounds; ratios are medians of the per-round ratios (paired)."
echo
awk -F'\t' '
  FNR == NR { j = $1 SUBSEP $2 SUBSEP $3; pr[j] = sprintf("%.2f", $4); pp[j] = sprintf("%.2f", $5); pc[j] = sprintf("%.2f", $6); next }
  { k = $1 SUBSEP $2 SUBSEP $3; have[k] = 1; rps[k] = $4; p50[k] = $5; p99[k] = $6; cpu[k] = $7; off[k] = $8
    if (!($1 in seen)) { seen[$1] = 1; pts[++np] = $1 } }
  function g(c, k, s, a) { return ((c SUBSEP k SUBSEP s) in have) ? a[c SUBSEP k SUBSEP s] : "" }
  function q(c, k, s, a) { return ((c SUBSEP k SUBSEP s) in a) ? a[c SUBSEP k SUBSEP s] : "—" }
  function n0(v) { return v == "" ? "—" : sprintf("%.0f", v) }
  function late(c, s) { k = c SUBSEP "rate" SUBSEP s; return (k in have && rps[k] < 0.97 * off[k]) ? "*" : "" }
  END {
    print "| connections | weft req/s | weft epoll | tokio | weft/tokio | epoll/tokio | weft p50 µs | weft p99 µs | tokio p99 µs | weft/tokio p99 |"
    print "|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= np; i++) { c = pts[i]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c, n0(g(c, "closed", "weft", rps)), n0(g(c, "closed", "weft_epoll", rps)),
        n0(g(c, "closed", "tokio", rps)), q(c, "closed", "weft", pr), q(c, "closed", "weft_epoll", pr), g(c, "closed", "weft", p50),
        g(c, "closed", "weft", p99), g(c, "closed", "tokio", p99), q(c, "closed", "weft", pp) }
    print ""
    print "| connections | offered req/s | weft CPU s/Mreq | weft epoll | tokio | weft/tokio CPU | epoll/tokio CPU | weft CPU s/Mreq closed loop | tokio closed loop |"
    print "|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= np; i++) { c = pts[i]
      printf "| %s | %s | %s%s | %s%s | %s%s | %s | %s | %s | %s |\n", c, g(c, "rate", "tokio", off), g(c, "rate", "weft", cpu), late(c, "weft"),
        g(c, "rate", "weft_epoll", cpu), late(c, "weft_epoll"), g(c, "rate", "tokio", cpu), late(c, "tokio"),
        q(c, "rate", "weft", pc), q(c, "rate", "weft_epoll", pc), g(c, "closed", "weft", cpu), g(c, "closed", "tokio", cpu) }
  }' "$RESULTS/paired.tsv" "$RESULTS/medians.tsv"

# Every server against tokio, paired (weft_base too, when it ran).
echo
echo "| connections | server | req/s ÷ tokio | p99 ÷ tokio | CPU per request ÷ tokio, closed loop | CPU per request ÷ tokio, fixed rate |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '{ k = $1 SUBSEP $3; if (!(k in seen)) { seen[k] = 1; keys[++n] = k }
    if ($2 == "closed") { r[k] = $4; p[k] = $5; cc[k] = $6 } else cr[k] = $6 }
  END { for (i = 1; i <= n; i++) { split(keys[i], a, SUBSEP)
    printf "| %s | %s | %.2f | %.2f | %.2f | %s |\n", a[1], a[2], r[keys[i]], p[keys[i]], cc[keys[i]],
      (keys[i] in cr) ? sprintf("%.2f", cr[keys[i]]) : "—" } }' <(sort -t$'\t' -k1,1n -k3,3 "$RESULTS/paired.tsv")

# Plot: weft/tokio by connections (paired throughput ratio, and CPU per request at the fixed rate).
awk -F'\t' '{ k = $1 SUBSEP $2 SUBSEP $3; v[k] = ($2 == "closed" ? $4 : $6); if (!($1 in s)) { s[$1] = 1; p[++n] = $1 } }
  END { for (i = 1; i <= n; i++) { c = p[i]
    printf "%s\t%s\t%s\t%s\t%s\n", c, v[c SUBSEP "closed" SUBSEP "weft"] + 0, v[c SUBSEP "rate" SUBSEP "weft"] + 0,
      v[c SUBSEP "closed" SUBSEP "weft_epoll"] + 0, v[c SUBSEP "rate" SUBSEP "weft_epoll"] + 0 } }' \
  "$RESULTS/paired.tsv" | sort -n >"$RESULTS/ratios.tsv"
if command -v gnuplot >/dev/null; then
  gnuplot <<EOF || log "gnuplot failed; no plot"
set terminal pngcairo size 900,500 noenhanced
set output "$RESULTS/http-sweep.png"
set logscale x 2
set xlabel "connections (wrk closed loop; h2load at a fixed rate)"
set ylabel "weft / tokio"
set key outside
set grid
plot "$RESULTS/ratios.tsv" using 1:2 with linespoints title "requests/s, io_uring", \
     "" using 1:3 with linespoints title "CPU per request, io_uring", \
     "" using 1:4 with linespoints title "requests/s, epoll", \
     "" using 1:5 with linespoints title "CPU per request, epoll", \
     1.05 with lines dashtype 2 title "target: requests/s >= 1.05", \
     0.85 with lines dashtype 3 title "target: CPU <= 0.85"
EOF
fi
