# bench/peer/build_peers.sh — sourced by compare.sh and sweep.sh: builds
# tokio_rt_bench (Debian's cargo, offline, release) and weft_rt_bench (CMake
# Release) and sets TOKIO_BIN, WEFT_BIN and weft_ok (0 when weft did not
# build; the log is $RESULTS/weft_build.log).
# Expects: REPO, HERE (bench/peer), BUILD, RESULTS and a log function.

# --- 1. toolchain from Debian's archive -------------------------------------
# scripts/install-deps.sh installs the build and test set plus these.
"$REPO/scripts/install-deps.sh" cargo rustc librust-tokio-dev librust-libc-dev >&2

# Debian's cargo and rustc, whatever else is on PATH (e.g. a rustup toolchain).
CARGO_BIN=/usr/bin/cargo
export RUSTC=/usr/bin/rustc

# --- 2. tokio_rt_bench (offline, Release) -----------------------------------
log "building tokio_rt_bench"
export CARGO_HOME="$BUILD/cargo-home"          # keep ~/.cargo out of it
export CARGO_TARGET_DIR="$BUILD/tokio-target"
(cd "$HERE/tokio" && "$CARGO_BIN" build --release --offline --quiet) >&2
TOKIO_BIN="$CARGO_TARGET_DIR/release/tokio_rt_bench"

# --- 3. weft_rt_bench (CMake Release) ---------------------------------------
# The repo's own build; bench/CMakeLists.txt adds bench/peer.
log "building weft_rt_bench"
WEFT_LOG="$RESULTS/weft_build.log"
WEFT_BIN=""
if { cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF &&
     cmake --build "$BUILD" --target weft_rt_bench; } >"$WEFT_LOG" 2>&1; then
  WEFT_BIN="$BUILD/bench/peer/weft_rt_bench"
fi
weft_ok=1
if [[ -z $WEFT_BIN || ! -x $WEFT_BIN ]]; then
  weft_ok=0
  log "weft_rt_bench did not build; see $WEFT_LOG (weft column: pending)"
  tail -n 15 "$WEFT_LOG" >&2 || true
fi
