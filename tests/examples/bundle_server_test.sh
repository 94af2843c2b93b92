#!/usr/bin/env bash
# examples/bundle_server: 20 clients each exchange a line; SIGINT makes the
# server cancel every connection task through its task_result_bundle; every
# client must see an orderly close (FIN: recv() == 0, not ECONNRESET), the
# server must print "closed 20 connections" and "shutting down", and exit 0.
#   bundle_server_test.sh SERVER CLIENT
set -euo pipefail
source "$(dirname "$0")/server_harness.sh"
n=20

client_out="$harness_dir/client"
mkfifo "$client_out"
stop_client() {
  if [ -n "${CLIENT_PID:-}" ] && kill -0 "$CLIENT_PID" 2>/dev/null; then kill -KILL "$CLIENT_PID"; fi
  cleanup
}
trap stop_client EXIT

start_server "$1" 0 2

"$2" "$SERVER_PORT" "$n" > "$client_out" 2>&1 &
CLIENT_PID=$!
exec 5< "$client_out"
IFS= read -r -t 60 line <&5 || fail "the client printed nothing within 60 s"
[ "$line" = "exchanged $n" ] || fail "client: $line"

# Every connection is open and idle in the server (waiting in a read).
stop_server
[ "$SERVER_STATUS" -eq 0 ] || fail "exit status $SERVER_STATUS after SIGINT"
IFS= read -r -t 10 summary <&3 || true
IFS= read -r -t 10 last <&3 || true
[ "$summary" = "closed $n connections" ] || fail "expected 'closed $n connections', got '$summary'"
[ "$last" = "shutting down" ] || fail "expected 'shutting down', got '$last'"

client_status=0
wait "$CLIENT_PID" || client_status=$?
client_report=$(cat <&5)
echo "$client_report"
[ "$client_status" -eq 0 ] || fail "client exit status $client_status: $client_report"
case "$client_report" in
  *"orderly $n of $n"*) ;;
  *) fail "not every connection was closed orderly: $client_report" ;;
esac
echo "PASS"
