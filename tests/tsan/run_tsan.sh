#!/usr/bin/env bash
# Builds tests/tsan/tsan_cpu_engine.cpp with the CPU kernels (kernels/*.cpp,
# no CUDA) under ThreadSanitizer and runs it (meson test "tsan-cpu-engine").
# Outside meson because the whole program, kernels included, must be
# instrumented, and the plugin's build is not. Exits 77 (skip) where the
# compiler cannot build with -fsanitize=thread, 66 on a TSan report.
#
# Environment: CXX (default g++), TSAN_JOBS (parallel compiles).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cxx=${CXX:-g++}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# -ffp-contract=off as kernels/meson.build, so the sums round as in the plugin.
flags=(-std=c++17 -O1 -g -fsanitize=thread -fno-omit-frame-pointer -ffp-contract=off -pthread -I"$root/kernels")
if ! echo 'int main(){}' | "$cxx" -x c++ -fsanitize=thread - -o "$work/probe" 2>/dev/null || ! "$work/probe"; then
  echo "tsan-cpu-engine: skipped, $cxx cannot build or run -fsanitize=thread programs"
  exit 77
fi

objs=()
pids=()
for f in "$root"/kernels/*.cpp "$here/tsan_cpu_engine.cpp"; do
  case "$f" in *cuda*) continue ;; esac
  o="$work/$(basename "$f" .cpp).o"
  objs+=("$o")
  "$cxx" "${flags[@]}" -c "$f" -o "$o" &
  pids+=($!)
  if [ ${#pids[@]} -ge "${TSAN_JOBS:-$(nproc)}" ]; then wait "${pids[0]}" || exit 1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || exit 1; done
"$cxx" "${flags[@]}" "${objs[@]}" -o "$work/tsan_cpu_engine" || exit 1

# halt_on_error: the first report fails the test, with both stacks printed.
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1} "$work/tsan_cpu_engine"
