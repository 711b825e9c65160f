#!/usr/bin/env bash
# test.sh - builds xdpban with ASan/UBSan and runs every test (unit, BPF
# PROG_TEST_RUN tables, compatibility suite, netns integration, a short run of
# each fuzz target: tools/fuzz.sh). The one test
# command of the README and of CI (.ci/run). Needs root for the BPF tests; under
# CI=true a skipped BPF test is a failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XDPBAN_BUILD_DIR:-$top/build}
"$top/tools/setup.sh"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXDPBAN_SANITIZE=ON >/dev/null
ninja -C "$build"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The whole suite (no ctest arguments) also runs each libFuzzer target
# (tests/fuzz) briefly: a crash, hang or leak fails the run. They go first so
# that ctest's summary closes the output; XDPBAN_FUZZ_SECONDS=0 skips them.
fuzz_rc=0
if [ $# -eq 0 ] && [ "${XDPBAN_FUZZ_SECONDS:-45}" != 0 ]; then
  "$top/tools/fuzz.sh" "${XDPBAN_FUZZ_SECONDS:-45}" || fuzz_rc=$?
fi
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"
if [ "$fuzz_rc" != 0 ]; then
  echo "test.sh: fuzzing found a crash (tools/fuzz.sh output above)" >&2
  exit "$fuzz_rc"
fi
