# bench/net/common.sh — sourced by compare_echo.sh and sweep_echo.sh: installs
# what is missing, builds loadgen, the C++ peers and the tokio peers, and
# starts and stops servers by PID. Expects REPO, HERE, BUILD, RESULTS,
# SERVER_CPU and a log() function; sets TOKIO.

# --- 1. toolchain from Debian's archive -------------------------------------
# scripts/install-deps.sh installs the build and test set plus these.
"$REPO/scripts/install-deps.sh" cargo rustc librust-tokio-dev libboost1.81-dev util-linux >&2

# --- 2. build ----------------------------------------------------------------
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.txt "$RESULTS"/*.log "$RESULTS"/*.err
log "building loadgen and the C++ peers (Release)"
cmake -S "$HERE" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$RESULTS/cmake.log" 2>&1 &&
  cmake --build "$BUILD" >>"$RESULTS/cmake.log" 2>&1 || { tail -n 30 "$RESULTS/cmake.log" >&2; exit 1; }
log "building the tokio peers (cargo --release --offline)"
export CARGO_HOME="$BUILD/cargo-home" CARGO_TARGET_DIR="$BUILD/tokio-target" RUSTC=/usr/bin/rustc
(cd "$HERE/tokio" && /usr/bin/cargo build --release --offline --quiet) >&2
TOKIO="$CARGO_TARGET_DIR/release"

# --- 3. server lifecycle -----------------------------------------------------
PIDS=()
alive() {  # running and not a zombie
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [[ -n $st && $st != Z ]]
}
stop_server() {  # SIGINT, then SIGTERM, then SIGKILL — by PID only
  local pid=$1 sig i
  for sig in INT TERM KILL; do
    alive "$pid" || break
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    [[ $sig == INT ]] || log "pid $pid needed SIG$sig"
  done
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_server "$pid"; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

listening_on() {  # is something listening on 127.0.0.1/0.0.0.0:PORT? (/proc/net/tcp, state 0A)
  awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, 9) == p { found = 1 } END { exit !found }' /proc/net/tcp
}
# start_server NAME PORT CMD... : starts CMD pinned to SERVER_CPU with stdout
# in $RESULTS/NAME.server.log, waits (10 s at most) for its "listening" line.
# Sets SERVER_PID; returns 1 if the server died or never said it listens.
start_server() {
  local name=$1 port=$2 out="$RESULTS/$1.server.log" i
  shift 2
  # A ring's requests may hold a killed io_uring server's listener for a
  # moment after it exits: let the port come free before reusing it.
  for ((i = 0; i < 50; i++)); do listening_on "$port" || break; sleep 0.1; done
  # Emptied first: the background start opens it later, and a "listening"
  # line left by this server's previous run must not be taken for this one.
  : >"$out"
  taskset -c "$SERVER_CPU" "$@" >"$out" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for ((i = 0; i < 100; i++)); do
    grep -q '^listening' "$out" && return 0
    alive "$SERVER_PID" || break
    sleep 0.1
  done
  log "$name did not come up (see $out)"
  finish_server  # stopped and off PIDS: the exit trap must not signal a reused PID
  return 1
}
finish_server() {
  stop_server "$SERVER_PID"
  local keep=() pid
  for pid in "${PIDS[@]}"; do [[ $pid == "$SERVER_PID" ]] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

