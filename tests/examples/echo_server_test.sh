#!/usr/bin/env bash
# examples/echo_server: says it is listening, echoes on several connections at
# once, and stops with status 0 on SIGINT, closing the open connections.
set -euo pipefail
source "$(dirname "$0")/server_harness.sh"
start_server "$1" 0 2

exec 4<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
exec 5<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
for round in 1 2 3; do
  printf 'hello-%s' "$round" >&4
  printf 'world-%s' "$round" >&5
  IFS= read -r -n 7 -t 10 a <&4 || fail "no echo on connection 1"
  IFS= read -r -n 7 -t 10 b <&5 || fail "no echo on connection 2"
  [ "$a" = "hello-$round" ] || fail "connection 1 echoed '$a'"
  [ "$b" = "world-$round" ] || fail "connection 2 echoed '$b'"
done

stop_server
[ "$SERVER_STATUS" -eq 0 ] || fail "exit status $SERVER_STATUS after SIGINT"
IFS= read -r -t 10 last <&3 || true
[ "$last" = "shutting down" ] || fail "expected 'shutting down', got '$last'"
# The still-open connection was closed by the server: end of stream.
if IFS= read -r -n 1 -t 10 c <&4; then fail "connection 1 still open (read '$c')"; fi
echo "PASS"
