#!/usr/bin/env bash
# bench/net/compare_echo.sh — TCP echo and HTTP hello-world comparison of
# weft's example servers against tokio, Boost.Asio (io_uring and epoll) and a
# hand-written liburing loop. Loopback only; every server runs on 1 thread
# pinned to CPU 0, the load generator (loadgen / wrk) is pinned to CPU 1.
#
#   bench/net/compare_echo.sh [DURATION]      (seconds per measured run, default 5)
#
# Environment: WEFT_ECHO_SERVER, WEFT_HTTP_SERVER (default
# <repo>/build/release/examples/{echo_server,http_server}; a missing binary
# gives a "pending" column), WARMUP (seconds, default 1), RATE_FRACTION
# (fixed-rate runs offer this share of the slowest server's closed-loop
# throughput, default 0.5).
#
# Installs what is missing from Debian's archive, builds the C++ parts with
# CMake (Release) in <repo>/build/bench-net and the tokio peers with Debian's
# cargo fully offline against /usr/share/cargo/registry. Raw outputs land in
# <repo>/build/bench-net/results/. Exit status: 0 all ran, 1 some run failed
# (e.g. a wrong echo), 3 everything ran but a weft binary is missing.
set -euo pipefail

DURATION=${1:-5}
WARMUP=${WARMUP:-1}
RATE_FRACTION=${RATE_FRACTION:-0.5}
[[ $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] || { echo "DURATION and WARMUP: whole seconds" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build/bench-net"
RESULTS="$BUILD/results"
WEFT_ECHO_SERVER=${WEFT_ECHO_SERVER:-$REPO/build/release/examples/echo_server}
WEFT_HTTP_SERVER=${WEFT_HTTP_SERVER:-$REPO/build/release/examples/http_server}
SERVER_CPU=0 CLIENT_CPU=1

log() { printf '[compare_echo] %s\n' "$*" >&2; }

# --- 1–3. toolchain, build, server lifecycle: common.sh ----------------------
# shellcheck source=common.sh
source "$HERE/common.sh"

# --- 4. TCP echo --------------------------------------------------------------
# name:port:binary (a weft binary that is missing makes its column "pending")
SERVERS=(
  "weft:19000:$WEFT_ECHO_SERVER"
  "tokio:19001:$TOKIO/tokio_echo"
  "asio_uring:19002:$BUILD/asio_echo_uring"
  "asio_epoll:19003:$BUILD/asio_echo_epoll"
  "uring:19004:$BUILD/uring_echo"
)
# name:conns:inflight:size
CONFIGS=("a:64:1:64" "b:16:16:64" "c:8:4:4096")
failed=0
weft_pending=0

field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" 2>/dev/null | head -n1; }

# run_loadgen SERVER CONFIG KIND [--rate R]: one loadgen run against the
# running server, output in $RESULTS/SERVER.CONFIG.KIND.txt.
run_loadgen() {
  local server=$1 cfg=$2 kind=$3 c k s out
  shift 3
  IFS=: read -r _ c k s <<<"$cfg"
  out="$RESULTS/$server.${cfg%%:*}.$kind.txt"
  log "$server ${cfg%%:*} ($c conns x $k in flight, $s B) $kind $*"
  if ! timeout --kill-after=5 $((DURATION + WARMUP + 30)) taskset -c "$CLIENT_CPU" "$BUILD/loadgen" \
      --port "$port" --conns "$c" --inflight "$k" --size "$s" --duration "$DURATION" --warmup "$WARMUP" \
      --server-pid "$SERVER_PID" "$@" >"$out" 2>"${out%.txt}.err"; then
    log "$server ${cfg%%:*} $kind FAILED: $(tail -n 3 "${out%.txt}.err" | tr '\n' ' ')"
    echo failed >>"$out"
    failed=1
  fi
}

# for_each_server KIND: start each server, run every configuration, stop it.
for_each_server() {
  local kind=$1 entry name port bin cfg rate
  for entry in "${SERVERS[@]}"; do
    IFS=: read -r name port bin <<<"$entry"
    if [[ ! -x $bin ]]; then
      [[ $name == weft ]] && weft_pending=1
      log "$name: $bin not built (pending)"
      continue
    fi
    start_server "$name" "$port" "$bin" "$port" 1 || { failed=1; continue; }
    for cfg in "${CONFIGS[@]}"; do
      if [[ $kind == closed ]]; then
        run_loadgen "$name" "$cfg" closed
      else
        rate=$(cat "$RESULTS/rate.${cfg%%:*}")
        run_loadgen "$name" "$cfg" rate --rate "$rate"
      fi
    done
    finish_server
  done
}

for_each_server closed
# Fixed offered rate per configuration: RATE_FRACTION of the slowest server's
# closed-loop throughput, the same for all servers.
for cfg in "${CONFIGS[@]}"; do
  c=${cfg%%:*}
  for f in "$RESULTS"/*."$c".closed.txt; do field "$f" throughput_msgs_per_s; done |
    awk -v f="$RATE_FRACTION" 'NF && $1 > 0 { if (!n++ || $1 < min) min = $1 } END { printf "%d\n", (n ? min * f : 1000) }' \
      >"$RESULTS/rate.$c"
done
for_each_server rate

# --- 5. HTTP (wrk) -----------------------------------------------------------
ROOT="$BUILD/http-root"
mkdir -p "$ROOT"
printf 'Hello, World!' >"$ROOT/index.html"
http_check() {  # one GET /, must come back 200 with the hello body
  local reply
  reply=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3 && cat <&3' _ "$1" 2>/dev/null || true)
  [[ $reply == "HTTP/1.1 200"*"Hello, World!"* ]]
}
cpu_seconds() { sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($12 + $13) / hz }'; }
http_pending=0
run_wrk() {  # run_wrk NAME PORT CMD...
  local name=$1 port=$2 out="$RESULTS/$1.http.txt" cpu0 cpu1
  shift 2
  if [[ ! -x $1 ]]; then
    [[ $name == weft ]] && http_pending=1
    log "$name http: $1 not built (pending)"
    return 0
  fi
  start_server "$name.http" "$port" "$@" || { failed=1; return 0; }
  if ! http_check "$port"; then
    log "$name http: GET / did not return 200 with \"Hello, World!\""
    echo failed >"$out"
    failed=1
  else
    log "$name http: wrk -t1 -c64 -d${DURATION}s"
    cpu0=$(cpu_seconds "$SERVER_PID")
    timeout --kill-after=5 $((DURATION + 30)) taskset -c "$CLIENT_CPU" \
      wrk -t1 -c64 "-d${DURATION}s" --latency "http://127.0.0.1:$port/" >"$out" 2>&1 || { failed=1; echo failed >>"$out"; }
    cpu1=$(cpu_seconds "$SERVER_PID")
    echo "server_cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }')" >>"$out"
  fi
  finish_server
}
run_wrk tokio 19010 "$TOKIO/tokio_http" 19010 1
run_wrk weft 19011 "$WEFT_HTTP_SERVER" --port 19011 --root "$ROOT" --threads 1

# --- 6. tables -----------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
read -r load1 load5 _ </proc/loadavg
echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, $(uname -sr); load average $load1 (1 min), $load5 (5 min)"
echo "Servers: 1 thread on CPU $SERVER_CPU; loadgen/wrk on CPU $CLIENT_CPU; loopback. Closed loop: ${WARMUP} s warmup + ${DURATION} s measured."
echo "CPU s/Mmsg: server utime+stime per million echoed messages at a fixed offered rate (${RATE_FRACTION} x the slowest server's closed-loop throughput, shown per configuration); * = that server fell behind the offered rate."
echo
{
  for cfg in "${CONFIGS[@]}"; do
    c=${cfg%%:*}
    for entry in "${SERVERS[@]}"; do
      name=${entry%%:*}
      for kind in closed rate; do
        f="$RESULTS/$name.$c.$kind.txt"
        [[ -f $f ]] || continue
        if grep -q '^failed' "$f"; then
          printf '%s\t%s\t%s\tfailed\n' "$c" "$name" "$kind"
        else
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$name" "$kind" "$(field "$f" throughput_msgs_per_s)" \
            "$(field "$f" p50_us)" "$(field "$f" p99_us)" "$(field "$f" server_cpu_s_per_mmsg)" \
            "$(field "$f" offered_rate)" "$(field "$f" late_unsent)"
        fi
      done
    done
  done
} >"$RESULTS/echo.tsv"

awk -F'\t' -v weft_pending="$weft_pending" '
  { k = $1 SUBSEP $2 SUBSEP $3; failed[k] = ($4 == "failed"); tput[k] = $4; p50[k] = $5; p99[k] = $6; cpu[k] = $7
    offered[k] = $8 }
  function val(c, s, kind, what,   k) {
    k = c SUBSEP s SUBSEP kind
    if (!(k in tput) || failed[k]) return ""
    if (what == "tput") return tput[k]
    if (what == "p50") return p50[k]
    if (what == "p99") return p99[k]
    return cpu[k]
  }
  function cell(c, s, kind, what,   k, v, mark) {
    k = c SUBSEP s SUBSEP kind
    if (!(k in tput)) return (s == "weft" && weft_pending) ? "pending" : "n/a"
    if (failed[k]) return "failed"
    v = val(c, s, kind, what)
    mark = (kind == "rate" && tput[k] < 0.97 * offered[k]) ? "*" : ""
    if (what == "tput") return sprintf("%.0f", v) mark
    if (what == "cpu") return sprintf("%.2f", v) mark
    return sprintf("%.1f", v) mark
  }
  function ratio(c, peer, kind, what,   w, p) {
    w = val(c, "weft", kind, what); p = val(c, peer, kind, what)
    if (w == "" || p == "" || p + 0 == 0) return (weft_pending ? "pending" : "—")
    return sprintf("%.2f", w / p)
  }
  function row(c, label, kind, what,   s, line) {
    line = "| " desc[c] " | " label
    for (s = 1; s <= 5; s++) line = line " | " cell(c, names[s], kind, what)
    print line " | " ratio(c, "tokio", kind, what) " | " ratio(c, "uring", kind, what) " |"
  }
  END {
    split("weft tokio asio_uring asio_epoll uring", names, " ")
    split("a b c", cs, " ")
    desc["a"] = "(a) 64 B, 64 conns x 1"; desc["b"] = "(b) 64 B, 16 conns x 16"; desc["c"] = "(c) 4 KiB, 8 conns x 4"
    print "| configuration | metric | weft | tokio | asio io_uring | asio epoll | liburing loop | weft/tokio | weft/liburing |"
    print "|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= 3; i++) {
      c = cs[i]
      rate = ""
      for (s = 1; s <= 5; s++) { k = c SUBSEP names[s] SUBSEP "rate"; if (offered[k] != "") rate = offered[k] }
      row(c, "throughput msgs/s", "closed", "tput")
      row(c, "p50 µs", "closed", "p50")
      row(c, "p99 µs", "closed", "p99")
      row(c, "CPU s/Mmsg @ " rate " msgs/s", "rate", "cpu")
      row(c, "p99 µs @ " rate " msgs/s", "rate", "p99")
    }
  }' "$RESULTS/echo.tsv"

# wrk: "Requests/sec: N", latency distribution lines "50% 365.00us".
wrk_us() { awk -v p="$2" '$1 == p { v = $2; u = 1; if (v ~ /us$/) u = 1; else if (v ~ /ms$/) u = 1e3; else if (v ~ /s$/) u = 1e6
  sub(/[a-z]+$/, "", v); printf "%.0f", v * u }' "$1"; }
http_cell() {  # http_cell NAME WHAT
  local f="$RESULTS/$1.http.txt" rps
  if [[ ! -f $f ]]; then
    [[ $1 == weft && $http_pending == 1 ]] && echo pending || echo n/a
    return
  fi
  grep -q '^failed' "$f" && { echo failed; return; }
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
  case $2 in
    rps) printf '%.0f' "$rps" ;;
    p50) wrk_us "$f" 50% ;;
    p99) wrk_us "$f" 99% ;;
    cpu) awk -v r="$rps" -v d="$DURATION" -F= '/^server_cpu_s=/ { if (r > 0) printf "%.2f", $2 / (r * d) * 1e6 }' "$f" ;;
  esac
}
echo
echo "HTTP/1.1 keep-alive hello world (13-byte body): wrk -t1 -c64 -d${DURATION}s --latency, CPU s/Mreq = server CPU per million requests at saturation"
echo
echo "| metric | weft | tokio | weft/tokio |"
echo "|---|---|---|---|"
for what in rps p50 p99 cpu; do
  case $what in rps) label="requests/s" ;; p50) label="p50 µs" ;; p99) label="p99 µs" ;; cpu) label="CPU s/Mreq" ;; esac
  w=$(http_cell weft $what) t=$(http_cell tokio $what)
  r=$(awk -v w="$w" -v t="$t" 'BEGIN { if (w ~ /^[0-9.]+$/ && t ~ /^[0-9.]+$/ && t > 0) printf "%.2f", w / t; else print (w == "pending" ? "pending" : "—") }')
  echo "| $label | $w | $t | $r |"
done
for name in tokio weft; do
  e=$(grep -E 'Non-2xx|Socket errors' "$RESULTS/$name.http.txt" 2>/dev/null || true)
  [[ -z $e ]] || echo "$name wrk: $e"
done

if ((failed)); then
  echo
  echo "Some runs failed; raw outputs: $RESULTS"
  exit 1
fi
if ((weft_pending || http_pending)); then
  echo
  echo "weft: pending (not built: $WEFT_ECHO_SERVER / $WEFT_HTTP_SERVER)"
  exit 3
fi
