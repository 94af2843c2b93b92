#!/usr/bin/env bash
# examples/echo_server with N (default 10,000) connections open at once: the
# client (many_connections_client, plain epoll) checks every echoed byte in
# two rounds; between them every connection is open and idle, and the
# server's resident memory per idle connection is reported:
#   (VmRSS with N idle connections - VmRSS before any) / N.
# Descriptors: server and client each need N plus a few; the test raises its
# limit (the client inherits it) and fails with a message if it cannot.
set -euo pipefail
source "$(dirname "$0")/server_harness.sh"
server=$1 client=$2 n=${3:-10000}
need=$((n + 256))
if [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || fail "cannot raise the descriptor limit to $need (hard limit $(ulimit -Hn)); run as root or raise it"
fi
start_server "$server" 0 1

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
base=$(rss_kib)
coproc CLIENT { exec "$client" "$SERVER_PORT" "$n" 2>&1; }
client_pid=$CLIENT_PID
IFS= read -r -t 240 line <&"${CLIENT[0]}" || fail "the client did not finish its first round within 240 s"
[ "$line" = "idle $n" ] || fail "first round: $line"
idle=$(rss_kib)
echo "server VmRSS: ${base} KiB before, ${idle} KiB with $n idle connections:" \
     "$(( (idle - base) * 1024 / n )) bytes per idle connection"
echo go >&"${CLIENT[1]}"
IFS= read -r -t 240 line <&"${CLIENT[0]}" || fail "the client did not finish its second round within 240 s"
[ "$line" = "echoed $n twice" ] || fail "second round: $line"
wait "$client_pid" || fail "the client exited with status $?"
stop_server
[ "$SERVER_STATUS" -eq 0 ] || fail "exit status $SERVER_STATUS after SIGINT: $(cat <&3)"
echo "PASS"
