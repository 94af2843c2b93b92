# Shared by the example-server tests: start a server whose first line of
# output is "listening on HOST:PORT", and stop it by its PID.
#   start_server CMD...   sets SERVER_PID and SERVER_PORT; the server's
#                         further output is readable on fd 3
#   stop_server           SIGINT, then waits; sets SERVER_STATUS
# The wait for the first line is a bounded blocking read on a FIFO, not a
# sleep: the test goes on the moment the server says it is listening.

harness_dir=$(mktemp -d)
cleanup() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID"; fi
  rm -rf "$harness_dir"
}
trap cleanup EXIT

start_server() {
  mkfifo "$harness_dir/out"
  "$@" > "$harness_dir/out" 2>&1 &
  SERVER_PID=$!
  exec 3< "$harness_dir/out"
  local line
  if ! IFS= read -r -t 30 line <&3; then
    echo "FAIL: the server printed nothing within 30 s" >&2
    exit 1
  fi
  case "$line" in
    listening*) ;;
    *) echo "FAIL: expected a 'listening' line, got: $line" >&2; exit 1 ;;
  esac
  SERVER_PORT=${line##*:}
  echo "server pid $SERVER_PID: $line"
}

stop_server() {
  kill -INT "$SERVER_PID"
  SERVER_STATUS=0
  wait "$SERVER_PID" || SERVER_STATUS=$?
}

fail() { echo "FAIL: $*" >&2; exit 1; }
