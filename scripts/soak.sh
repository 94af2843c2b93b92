#!/usr/bin/env bash
# Soak: run examples/echo_server and examples/http_server (release build) on
# loopback under mixed load for MINUTES, sampling their RSS and descriptor
# counts, then stop them with SIGINT and check they exit cleanly.
#
#   scripts/soak.sh [MINUTES]          (default 10; SOAK_SECONDS=N overrides it)
#
# Environment: SOAK_SAMPLE_S (sampling period, default 5), SOAK_THREADS (each
# server's worker threads, default 2), SOAK_WRK_CONNS (wrk connections,
# default 16), SOAK_SCALE (threads per short-connection load, x2; default 1),
# SOAK_PRESET (the CMake preset the servers are built and run from, default
# release; asan or tsan run the same soak on sanitized servers, whose reports
# fail the run through their exit status; the RSS bound is not applied to
# them);
# WEFT_IO_BACKEND (auto, io_uring, epoll) reaches the servers as usual: the
# summary names the backend they ran on.
#
# Load (bench/soak/soak_client, plus wrk on the HTTP server):
#   echo: short connections (connect, one exchange of 1 B..64 KiB, close; one
#         in four half-closed after sending),
#         32 long-lived connections (10..60 s each), 2 slow readers (4 MiB sent,
#         read 4 KiB per 2 ms through an 8 KiB receive buffer), resets
#         (SO_LINGER 0 before sending, mid-request, mid-response);
#   http: short connections with 1..4 pipelined requests (GET of a small, a
#         cached 300 KB and an uncached 2.5 MB file, HEAD, a 404), a slow
#         reader, aborted requests (half a head then FIN / RST / close, half a
#         body, RST mid-response), one in four short connections half-closed
#         after its requests, an idle keep-alive connection that the
#         server must close after its 30 s idle timeout; wrk on /index.html.
# Every echoed byte and every body byte is compared with what is due.
#
# Writes build/soak/<UTC timestamp>/: rss.csv (every SOAK_SAMPLE_S seconds:
# RSS, open descriptors and threads of both servers), rss.png (gnuplot),
# client.out, wrk.out, the servers' output, summary.txt.
#
# Fails (exit 1) on: a wrong byte or any other client error, wrk socket
# errors or non-2xx answers, a server that died, descriptors not back to
# their baseline within 30 s of the clients leaving, RSS growth in the last
# half of the run above the bound (the least-squares trend of the second
# half's samples over its span more than max(8 MiB, 10% of the first half's
# peak); release builds only), a server that does not
# exit with status 0 (its documented SIGINT status) within 10 s of SIGINT, or
# connections it did not close on the way out (SIGINT is sent with 8 idle
# connections open to each server and one whose answer is not being read, so
# the server's write is blocked).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-10}
duration=${SOAK_SECONDS:-$((minutes * 60))}
sample_s=${SOAK_SAMPLE_S:-5}
threads=${SOAK_THREADS:-2}
preset=${SOAK_PRESET:-release}
bin=build/$preset
wrk_conns=${SOAK_WRK_CONNS:-16}
scale=${SOAK_SCALE:-1}
exit_deadline_s=10
drain_deadline_s=30
growth_floor_kb=$((8 * 1024))

scripts/install-deps.sh gnuplot-nox
# The client (plain POSIX, independent of weft) always comes from the release
# build; the servers from the preset's.
cmake --preset release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
if [ "$preset" = release ]; then
  nice -n 10 cmake --build build/release --target echo_server http_server soak_client >/dev/null
else
  nice -n 10 cmake --build build/release --target soak_client >/dev/null
  cmake --preset "$preset" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
  nice -n 10 cmake --build "$bin" --target echo_server http_server >/dev/null
fi
client=build/release/bench/soak/soak_client
out=build/soak/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/www"
printf '<!doctype html><title>soak</title><p>weft soak</p>\n' > "$out/www/index.html"
head -c 300000 /dev/urandom > "$out/www/medium.bin"   # kept in the server's cache
head -c 2500000 /dev/urandom > "$out/www/large.bin"   # above its 1 MiB cache limit

echo_pid="" http_pid="" sampler_pid="" client_pid="" wrk_pid="" hold_pid=""
cleanup() {
  for p in $sampler_pid $client_pid $wrk_pid $hold_pid $echo_pid $http_pid; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

failures=()
fail() { failures+=("$1"); echo "FAIL: $1" >&2; }

# Start a server and wait for its "listening on 127.0.0.1:PORT" line; sets port.
wait_port() {  # NAME OUTFILE PID
  local line=""
  for _ in $(seq 300); do
    line=$(grep -m1 '^listening on ' "$2" || true)
    [ -n "$line" ] && break
    kill -0 "$3" 2>/dev/null || { echo "$1 exited before listening:" >&2; cat "$2" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$line" ] || { echo "$1 did not start" >&2; exit 1; }
  port=${line##*:}
}
# WEFT_LOG=debug: the servers print their I/O backend.
WEFT_LOG=debug "$bin"/examples/echo_server 0 "$threads" > "$out/echo_server.out" 2>&1 &
echo_pid=$!
WEFT_LOG=debug "$bin"/examples/http_server --port 0 --root "$out/www" --threads "$threads" \
  > "$out/http_server.out" 2>&1 &
http_pid=$!
wait_port echo_server "$out/echo_server.out" "$echo_pid"; echo_port=$port
wait_port http_server "$out/http_server.out" "$http_pid"; http_port=$port

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo NA; }
nthreads() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo NA; }
nfds() { if [ -d "/proc/$1/fd" ]; then ls "/proc/$1/fd" | wc -l; else echo NA; fi; }

t0=$EPOCHREALTIME
echo "$(date -u +%FT%TZ) soak: echo_server pid $echo_pid port $echo_port, http_server pid $http_pid port $http_port, ${duration} s, $threads worker threads each"
echo "t_s,phase,echo_rss_kb,echo_fds,echo_threads,http_rss_kb,http_fds,http_threads" > "$out/rss.csv"
sample() {  # PHASE
  local t
  t=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')
  echo "$t,$1,$(rss_kb $echo_pid),$(nfds $echo_pid),$(nthreads $echo_pid),$(rss_kb $http_pid),$(nfds $http_pid),$(nthreads $http_pid)" >> "$out/rss.csv"
}
sample idle
echo_fd_base=$(nfds $echo_pid) http_fd_base=$(nfds $http_pid)
echo_rss_base=$(rss_kb $echo_pid) http_rss_base=$(rss_kb $http_pid)

# ---- load --------------------------------------------------------------------
( while :; do sleep "$sample_s"; sample load; done ) &
sampler_pid=$!
"$client" --echo-port "$echo_port" --http-port "$http_port" \
  --http-root "$out/www" --duration "$duration" --scale "$scale" \
  > "$out/client.out" 2> "$out/client.err" &
client_pid=$!
wrk -t1 -c"$wrk_conns" -d"${duration}s" --timeout 10s "http://127.0.0.1:$http_port/index.html" \
  > "$out/wrk.out" 2>&1 &
wrk_pid=$!
client_rc=0; wait "$client_pid" || client_rc=$?; client_pid=""
wrk_rc=0; wait "$wrk_pid" || wrk_rc=$?; wrk_pid=""
kill "$sampler_pid"; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
sample load
load_end=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')

for name in echo_server http_server; do
  pid_var=${name%_server}_pid
  kill -0 "${!pid_var}" 2>/dev/null || fail "$name died during the load (see $out/$name.out)"
done

# ---- drain: descriptors back to the baseline ---------------------------------
drained=0
for _ in $(seq $((drain_deadline_s * 10))); do
  if [ "$(nfds $echo_pid)" = "$echo_fd_base" ] && [ "$(nfds $http_pid)" = "$http_fd_base" ]; then
    drained=1; break
  fi
  sleep 0.1
done
sample drained
echo_fd_end=$(nfds $echo_pid) http_fd_end=$(nfds $http_pid)
[ "$drained" = 1 ] || fail "descriptors not back to the baseline ${drain_deadline_s} s after the clients left: echo $echo_fd_base -> $echo_fd_end, http $http_fd_base -> $http_fd_end (ls -l /proc/PID/fd: $out/fds-*.txt)"
[ "$drained" = 1 ] || { ls -l /proc/$echo_pid/fd > "$out/fds-echo.txt" 2>&1 || true; ls -l /proc/$http_pid/fd > "$out/fds-http.txt" 2>&1 || true; }

# ---- SIGINT with connections open --------------------------------------------
"$client" --hold 8 --echo-port "$echo_port" --http-port "$http_port" \
  --io-timeout 15 > "$out/hold.out" 2>&1 &
hold_pid=$!
for _ in $(seq 100); do grep -q '^holding' "$out/hold.out" && break; sleep 0.1; done
grep -q '^holding' "$out/hold.out" || fail "the hold client did not connect: $(cat "$out/hold.out")"
kill -INT "$echo_pid" "$http_pid" 2>/dev/null || true  # one may have died already
stopped_at=$EPOCHREALTIME
for name in echo_server http_server; do
  pid_var=${name%_server}_pid
  pid=${!pid_var}
  for _ in $(seq $((exit_deadline_s * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    fail "$name still running ${exit_deadline_s} s after SIGINT (killed)"
    kill -KILL "$pid"
  fi
  rc=0; wait "$pid" || rc=$?
  declare "${name%_server}_rc=$rc"
  sig=""; [ "$rc" -gt 128 ] && sig=" (signal $((rc - 128)))"
  [ "$rc" = 0 ] || fail "$name exited with status $rc$sig; documented on SIGINT: 0"
done
exit_ms=$(awk -v a="$EPOCHREALTIME" -v b="$stopped_at" 'BEGIN {printf "%d", (a - b) * 1000}')
echo_pid="" http_pid=""
hold_rc=0; wait "$hold_pid" || hold_rc=$?; hold_pid=""
[ "$hold_rc" = 0 ] || fail "connections open at SIGINT not all closed by the servers: $(tail -1 "$out/hold.out")"

# ---- figures -----------------------------------------------------------------
[ "$client_rc" = 0 ] || fail "the load client saw errors (exit $client_rc; see $out/client.err)"
kind() { grep "^SOAK kind=$1 " "$out/client.out" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
total() { grep '^SOAK ' "$out/client.out" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {s += $2} END {printf "%.0f\n", s}'; }
wrk_requests=$(awk '/requests in/ {print $1}' "$out/wrk.out")
wrk_non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk.out"); wrk_non2xx=${wrk_non2xx:-0}
wrk_sockerr=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out/wrk.out"); wrk_sockerr=${wrk_sockerr:-0}
[ "$wrk_rc" = 0 ] && [ -n "$wrk_requests" ] || fail "wrk failed (exit $wrk_rc; see $out/wrk.out)"
[ "$wrk_non2xx" = 0 ] || fail "wrk: $wrk_non2xx non-2xx answers"
[ "$wrk_sockerr" = 0 ] || fail "wrk: $wrk_sockerr socket errors"

# RSS: start (first sample under load), peak, end (last sample under load);
# the peaks of the first and second halves of the load; growth over the second
# half: the least-squares line through its samples, times its span (a trend,
# robust to the swings of single samples, which a peak is not).
rss_stats() {  # COLUMN -> "start peak end p1 p2 growth n2"
  awk -F, -v c="$1" -v mid="$(awk -v e="$load_end" 'BEGIN {print e / 2}')" '
    $2 == "load" && $c != "NA" {
      if (start == "") start = $c
      if ($c > peak) peak = $c
      end = $c
      if ($1 <= mid) { if ($c > p1) p1 = $c; next }
      if ($c > p2) p2 = $c
      n++; st += $1; sy += $c; stt += $1 * $1; sty += $1 * $c
      if (n == 1) t1 = $1
      tn = $1
    }
    END {
      g = 0
      if (n >= 3 && n * stt - st * st > 0) g = (n * sty - st * sy) / (n * stt - st * st) * (tn - t1)
      printf "%s %s %s %d %d %d %d\n", start, peak, end, p1, p2, g, n
    }' "$out/rss.csv"
}
read -r echo_rss_start echo_rss_peak echo_rss_end echo_p1 echo_p2 echo_growth echo_n2 <<< "$(rss_stats 3)"
read -r http_rss_start http_rss_peak http_rss_end http_p1 http_p2 http_growth http_n2 <<< "$(rss_stats 6)"
for name in echo http; do
  p1_var=${name}_p1 p2_var=${name}_p2 g_var=${name}_growth n_var=${name}_n2
  p1=${!p1_var} p2=${!p2_var} g=${!g_var} n2=${!n_var}
  bound=$(( p1 / 10 > growth_floor_kb ? p1 / 10 : growth_floor_kb ))
  declare "${name}_bound=$bound"
  if [ "$preset" = release ] && [ "$n2" -lt 3 ]; then
    fail "${name}_server: too few RSS samples in the second half ($n2) to judge growth: run longer or sample more often"
  elif [ "$preset" = release ] && [ "$g" -gt "$bound" ]; then
    fail "${name}_server RSS grew in the second half: trend +$g KiB over it (bound +$bound KiB; peaks $p1 -> $p2 KiB)"
  fi
done

# ---- plot --------------------------------------------------------------------
gnuplot <<EOF
set terminal pngcairo size 720,380 font ",9" noenhanced
set output "$out/rss.png"
set datafile separator ","
set key below horizontal
set bmargin 5
set title "weft soak: server RSS (${duration} s of mixed load, then drain)"
set xlabel "time (s)"
set ylabel "RSS (MiB)"
set y2label "open descriptors"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid
plot "$out/rss.csv" every ::1 using 1:(\$3/1024) with lines lw 2 title "echo_server RSS", \
     "" every ::1 using 1:(\$6/1024) with lines lw 2 title "http_server RSS", \
     "" every ::1 using 1:4 axes x1y2 with lines dt 2 title "echo_server fds", \
     "" every ::1 using 1:7 axes x1y2 with lines dt 2 title "http_server fds"
EOF

mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
{
  echo "soak: $(date -u +%FT%TZ), ${duration} s of load, $threads worker threads per server, sample every ${sample_s} s"
  echo "I/O backend: $(sed -n 's/^weft: runtime I\/O backend: //p' "$out/echo_server.out" | head -1) (echo_server), $(sed -n 's/^weft: runtime I\/O backend: //p' "$out/http_server.out" | head -1) (http_server)"
  echo "results: $out"
  echo
  printf '%-11s %9s %10s %14s %16s %7s %7s\n' kind conns ops bytes_sent bytes_verified non2xx errors
  for k in echo_short echo_long echo_slow echo_reset http_short http_slow http_abort http_idle; do
    printf '%-11s %9s %10s %14s %16s %7s %7s\n' "$k" "$(kind $k conns)" "$(kind $k ops)" \
      "$(kind $k bytes_sent)" "$(kind $k bytes_verified)" "$(kind $k non2xx)" "$(kind $k errors)"
  done
  echo "(ops: echo = exchanges verified, http = responses verified, abort/reset = connections cut;"
  echo " non2xx: the 404s asked for; any other status is an error)"
  echo "client totals: $(total conns) connections, $(total bytes_verified) bytes verified, $(total errors) errors"
  echo "wrk: ${wrk_requests:-?} requests, $wrk_non2xx non-2xx, $wrk_sockerr socket errors ($(awk '/Requests\/sec/ {print $2}' "$out/wrk.out") req/s)"
  echo "echo_server RSS: start $(mib "$echo_rss_base") idle, $(mib "$echo_rss_start") under load, peak $(mib "$echo_rss_peak"), end $(mib "$echo_rss_end"); second half: trend $echo_growth KiB (bound $echo_bound KiB), peak $(mib "$echo_p2") vs $(mib "$echo_p1") in the first"
  echo "http_server RSS: start $(mib "$http_rss_base") idle, $(mib "$http_rss_start") under load, peak $(mib "$http_rss_peak"), end $(mib "$http_rss_end"); second half: trend $http_growth KiB (bound $http_bound KiB), peak $(mib "$http_p2") vs $(mib "$http_p1") in the first"
  echo "descriptors: echo_server $echo_fd_base at start, $echo_fd_end after the clients left; http_server $http_fd_base at start, $http_fd_end after"
  echo "SIGINT with $(awk '/^holding/ {print $2}' "$out/hold.out") connections open (1 per server with its write blocked): $(tail -1 "$out/hold.out"); echo_server exit ${echo_rc:-?}, http_server exit ${http_rc:-?}, both gone in $exit_ms ms"
  [ "$preset" = release ] || echo "(RSS bound not applied: $preset build; a sanitizer's own bookkeeping, ASan's quarantine of freed memory, grows RSS)"
  if [ ${#failures[@]} -eq 0 ]; then echo "result: PASS"; else printf 'result: FAIL\n'; printf '  - %s\n' "${failures[@]}"; fi
} | tee "$out/summary.txt"
[ ${#failures[@]} -eq 0 ]
