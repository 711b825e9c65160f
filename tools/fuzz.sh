#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets of tests/fuzz with clang (ASan, UBSan)
# in a build dir of their own and runs each over its seed corpus
# (tests/fuzz/corpus/<target>) for SECONDS; fails on a crash, a leak, a hang
# (an input over 10 s) or an input needing more than 2 GiB. New inputs a run
# finds stay in the build dir; the committed corpus is not changed.
# Usage: fuzz.sh [SECONDS per target, default $XDPBAN_FUZZ_SECONDS or 45] [TARGET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XDPBAN_FUZZ_BUILD_DIR:-$top/build-fuzz}
secs=${1:-${XDPBAN_FUZZ_SECONDS:-45}}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_config fuzz_filter fuzz_blocklist fuzz_control)
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DXDPBAN_FUZZ=ON -DXDPBAN_TESTS=OFF -DXDPBAN_BENCH=OFF >/dev/null
ninja -C "$build" "${targets[@]}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
for t in "${targets[@]}"; do
  found="$build/tests/fuzz/found-$t"
  mkdir -p "$found"
  echo "fuzz.sh: $t for $secs s"
  if ! "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$build/tests/fuzz/$t-" "$found" "$top/tests/fuzz/corpus/$t" \
    >"$build/tests/fuzz/$t.log" 2>&1; then
    tail -60 "$build/tests/fuzz/$t.log"
    echo "fuzz.sh: $t FAILED; the input is in $build/tests/fuzz/$t-* (log $build/tests/fuzz/$t.log)"
    rc=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "$build/tests/fuzz/$t.log" | tr '\n' ' '
    echo
  fi
done
exit $rc
