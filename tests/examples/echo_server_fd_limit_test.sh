#!/usr/bin/env bash
# examples/echo_server at its descriptor limit: connections past the limit
# wait in the listen queue (accept fails with EMFILE and the server backs off)
# and are served once descriptors are freed; SIGINT still stops it with status
# 0 while it is at the limit.
set -euo pipefail
source "$(dirname "$0")/server_harness.sh"
# UBSan's vptr check (asan build) probes memory through a pipe(2) the first
# time it meets a type at a call site; at the descriptor limit the pipe
# fails and it reports "invalid vptr ... memory cannot be printed" for a
# valid object, fatally (-fno-sanitize-recover), and no suppression can match
# (the type is unknown). In that build the SIGINT goes in just below the
# limit; the debug, tsan and clang builds send it at the limit.
sanitize=${2:-sanitize=}
# 24 descriptors: about 10 for the runtime, the rest for connections.
start_server bash -c 'ulimit -n 24 && exec "$0" 0 1' "$1"

conns=()
exec {fd}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
conns+=("$fd")
# The first connection, accepted well below the limit, echoes. (It echoes
# before the others connect: the server accepts eagerly — one multishot
# accept on io_uring takes every queued connection until EMFILE — and under
# the asan build the first echo must meet its types below the limit, see
# above.)
printf 'first' >&"${conns[0]}"
IFS= read -r -n 5 -t 10 a <&"${conns[0]}" || fail "no echo on the first connection"
[ "$a" = first ] || fail "the first connection echoed '$a'"
for i in $(seq 29); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
  conns+=("$fd")
done
# The last one is still queued: its bytes wait in the kernel until the server
# can accept it, which it can once the first 20 are closed.
printf 'last!' >&"${conns[29]}"
for i in $(seq 0 19); do exec {conns[$i]}>&-; done
IFS= read -r -n 5 -t 10 z <&"${conns[29]}" || fail "the connection queued past the limit was not served after descriptors were freed"
[ "$z" = 'last!' ] || fail "the last connection echoed '$z'"

# At the limit again (asan build: just below it), then SIGINT.
more=20
[ "$sanitize" = sanitize=address ] && more=1
for i in $(seq "$more"); do exec {fd}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"; done
stop_server
[ "$SERVER_STATUS" -eq 0 ] || fail "exit status $SERVER_STATUS after SIGINT at the descriptor limit: $(cat <&3)"
echo "PASS"
