#!/usr/bin/env bash
# Builds and runs every test, then prints each Check suite's summary and a
# final "N passed, N failed" line. Extra arguments go to `meson test`
# (e.g. a test name). Exit status: non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

[ -f "$build/build.ninja" ] || meson setup "$build" || exit 1
ninja -C "$build" || exit 1
meson test -C "$build" --print-errorlogs --num-processes 1 "$@"
rc=$?
python3 scripts/test_summary.py "$build/meson-logs/testlog.json" || rc=1
exit $rc
