#!/usr/bin/env bash
# Build weft (release), run the tour (spawn/join, sleep, timeout,
# spawn_blocking, a live spawn-throughput measurement), then start the HTTP
# example on loopback, drive it with wrk for a few seconds, print throughput
# and latency percentiles, and stop it.
#
#   scripts/demo.sh [SECONDS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
seconds=${1:-5}
cmake --preset release >/dev/null
cmake --build --preset release --target tour hello http_server glib_park_hook
./build/release/examples/tour

echo
echo "=== GLib and weft on one thread: examples/glib_park_hook (the park hook) ==="
./build/release/examples/glib_park_hook

echo
echo "=== HTTP: examples/http_server (1 worker) under wrk (1 thread, 64 connections, ${seconds} s) ==="
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
printf 'Hello, World!' > "$work/index.html"
mkfifo "$work/out"
./build/release/examples/http_server --port 0 --root "$work" --threads 1 > "$work/out" 2>&1 &
server_pid=$!
exec 3< "$work/out"
IFS= read -r -t 30 line <&3 || { echo "http_server did not start" >&2; exit 1; }
echo "http_server: $line"
port=${line##*:}
# Server and load generator each get a core where there are two.
if [ "$(nproc)" -ge 2 ]; then
  taskset -cp 0 "$server_pid" >/dev/null
  wrk_cmd=(taskset -c 1 wrk)
else
  wrk_cmd=(wrk)
fi
"${wrk_cmd[@]}" -t1 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$port/" | tee "$work/wrk"
echo
awk '/Requests\/sec/ {printf "throughput: %s requests/s\n", $2}
     /^ +50%/ {printf "latency p50: %s\n", $2}
     /^ +90%/ {printf "latency p90: %s\n", $2}
     /^ +99%/ {printf "latency p99: %s\n", $2}' "$work/wrk"
kill -INT "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
IFS= read -r -t 5 last <&3 || true
echo "http_server stopped on SIGINT (${last:-no message}), exit status $status"
exit "$status"
