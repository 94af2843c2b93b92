#!/usr/bin/env bash
# Fuzz weft's targets (tests/fuzz) with libFuzzer for a while each.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]   (default: 60 s; address http_parser op_soup)
#
# Builds the targets with clang++ -fsanitize=fuzzer,address,undefined (weft
# itself with -fsanitize=fuzzer-no-link,address,undefined) into build/fuzz/,
# then runs each for the given time on its corpus, tests/fuzz/corpus/<target>/.
# The corpus is only read: new inputs go into build/fuzz/new/<target>/, crashes
# into build/fuzz/crashes/<target>/, each run's log into build/fuzz/<target>.log.
# Not part of CI (CI runs the corpora as the CTest tests fuzz_corpus_<target>).
#
# To keep what a run found, minimise it into the corpus (only inputs that add
# coverage are copied; -use_counters=0 keeps the corpus to a few dozen files):
#   build/fuzz/tests/fuzz/weft_fuzz_<target> -merge=1 -use_counters=0 \
#       tests/fuzz/corpus/<target> build/fuzz/new/<target>
# A crash input that shows a bug goes into the corpus too (a name saying what
# it reproduces), with the fix, so the bug stays fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh libfuzzer-14-dev

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(address http_parser op_soup); fi

# -fno-sanitize=function: clang 14 cannot emit UBSan's function-type check
# together with the fuzzer's coverage in coroutines ("Cannot represent a
# difference across sections"); every other UBSan check stays.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-omit-frame-pointer"
flags+=" -fno-sanitize-recover=undefined"
# Debug (-O0): built with -O2 and these sanitizers, clang 14 placed a task's
# coroutine frame away from the address its promise's operator new returned,
# and weft's task cells refuse that (cell_check_frame aborts at the first
# block_on).
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DWEFT_LIBFUZZER=ON -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCHMARKS=OFF \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
cmake --build build/fuzz --target "${targets[@]/#/weft_fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/new/$t" "build/fuzz/crashes/$t"
  echo "=== $t: ${seconds} s ==="
  # The scratch directory comes first: libFuzzer writes new inputs there.
  if ! "build/fuzz/tests/fuzz/weft_fuzz_$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="build/fuzz/crashes/$t/" \
      "build/fuzz/new/$t" "tests/fuzz/corpus/$t" >"build/fuzz/$t.log" 2>&1; then
    echo "$t: FAILED, see build/fuzz/$t.log and build/fuzz/crashes/$t/"
    status=1
  fi
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
    "build/fuzz/$t.log" || tail -5 "build/fuzz/$t.log"
done
exit $status
