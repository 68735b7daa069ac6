#!/usr/bin/env bash
# Fuzzes one target for a bounded time: run_fuzz.sh [TARGET] [SECONDS]
# (TARGET safetensors, the default, or preprocess; SECONDS default 60). The
# meson tests "fuzz-safetensors" and "fuzz-preprocess" run it.
#
#   safetensors  the safetensors reader (models/safetensors.cpp) through
#                tests/fuzz/fuzz_safetensors.cpp, with safetensors.dict
#   preprocess   the pixel kernels (kernels/*.cpp, no CUDA): conversions,
#                the CPU pair engine, resize, MUSIQ patching, through
#                tests/fuzz/fuzz_preprocess.cpp
#
# With clang and its libFuzzer (Debian: clang + libclang-rt-14-dev), the
# sources and the target are built into a libFuzzer binary with ASan +
# UBSan; otherwise (or with FUZZ_MODE=standalone) g++ builds them with ASan +
# UBSan and coverage hooks around tests/fuzz/standalone_driver.cpp, a small
# mutation driver with a fixed seed. Both start from the seed corpus
# tests/fuzz/corpus/TARGET (left untouched: new inputs go to a temporary
# directory).
#
# Exits non-zero on any crash, sanitizer report or broken promise of the
# code under test, after printing the report and saving the input under
# $FUZZ_ARTIFACTS (default ./fuzz-artifacts). The last line is the summary:
#   fuzz-TARGET: N runs, 0 crashes (...)
#
# Environment: FUZZ_MODE=auto|libfuzzer|standalone, CLANGXX, CXX (standalone
# compiler, default g++), FUZZ_RSS_LIMIT_MB (default 2048), FUZZ_SEED
# (standalone, default 1), FUZZ_ARTIFACTS, FUZZ_JOBS (parallel compiles,
# default: the number of CPUs).
set -uo pipefail

target=safetensors
case "${1:-}" in
  '' | *[!0-9]*) [ $# -gt 0 ] && { target=$1; shift; } ;;
esac
seconds=${1:-60}
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [safetensors|preprocess] [SECONDS]" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${FUZZ_MODE:-auto}
rss_mb=${FUZZ_RSS_LIMIT_MB:-2048}
artifacts=${FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
seeds=$here/corpus/$target
flags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
libfuzzer_cov=()  # changes to libFuzzer's default instrumentation
standalone_flags=()  # extra flags of the standalone (g++) build
case "$target" in
  safetensors)
    # code under test, then the target (the fuzz entry point)
    sources=("$root/models/safetensors.cpp")
    flags+=(-I"$root/models")
    dict=$here/safetensors.dict
    max_len=65536
    ;;
  preprocess)
    sources=()
    for f in "$root"/kernels/*.cpp; do
      case "$f" in *cuda*) continue ;; esac
      sources+=("$f")
    done
    # -ffp-contract=off as kernels/meson.build: the per-pixel math the
    # target compares with must round exactly as the kernels do.
    flags+=(-I"$root/kernels" -ffp-contract=off -pthread)
    dict=""
    max_len=4096
    # No comparison tracing: it hooks every loop compare of the pixel loops
    # (3x slower), and the input has no magic values to find.
    libfuzzer_cov=(-fno-sanitize-coverage=trace-cmp)
    # g++ only (kernels/simd.h): no target_clones. Their ifunc resolvers run
    # while the dynamic loader relocates the binary, before ASan maps its
    # shadow, and the coverage hook the standalone build puts into them
    # crashes there. The attribute becomes an unknown one, ignored; clang
    # builds never use the clones either.
    standalone_flags=(-Dtarget_clones=s2s_fuzz_no_target_clones -Wno-attributes)
    # The target traps (SIGILL) on a broken promise: ASan reports it too,
    # so that the standalone driver keeps the input.
    export ASAN_OPTIONS=$ASAN_OPTIONS:handle_sigill=1
    ;;
  *) echo "usage: $0 [safetensors|preprocess] [SECONDS]" >&2; exit 2 ;;
esac
entry=$here/fuzz_$target.cpp

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts" "$work/obj"

say() { echo "fuzz-$target: $*"; }
die() { say "ERROR: $*"; exit 2; }

[ -d "$seeds" ] || die "no seed corpus at $seeds"
[ -f "$entry" ] || die "no fuzz target $entry"
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=all)
dict_args=()
[ -n "$dict" ] && dict_args=(-dict="$dict")

# compile_all CXX FLAGS... -- FILES...: one object per file in $work/obj,
# $jobs compiles at a time; sets objs=(...). Returns non-zero on a failure.
compile_all() {
  local cxx=$1 cflags=() files=() f n=0 pids=() status=0 pid
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do cflags+=("$1"); shift; done
  shift
  files=("$@")
  objs=()
  for f in "${files[@]}"; do
    local o=$work/obj/$n-$(basename "$f" .cpp).o
    n=$((n + 1))
    objs+=("$o")
    "$cxx" "${cflags[@]}" -c "$f" -o "$o" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || status=1
      pids=("${pids[@]:1}")
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

# clang++ that links -fsanitize=fuzzer, if any.
find_libfuzzer() {
  local cxx
  for cxx in ${CLANGXX:-} clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
    command -v "$cxx" >/dev/null 2>&1 || continue
    printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t *, size_t) { return 0; }\n' \
      >"$work/probe.cpp"
    if "$cxx" -fsanitize=fuzzer,address,undefined "$work/probe.cpp" -o "$work/probe" >/dev/null 2>&1; then
      echo "$cxx"
      return 0
    fi
  done
  return 1
}

# On failure: the report, then the crashing inputs, kept and dumped.
report_crash() {
  local log=$1 status=$2
  say "FAILED (exit status $status); the end of the log:"
  tail -n 80 "$log"
  mkdir -p "$artifacts"
  local f found=0
  for f in "$work"/artifacts/*; do
    [ -f "$f" ] || continue
    found=1
    cp "$f" "$artifacts/"
    say "input kept as $artifacts/$(basename "$f") ($(wc -c <"$f") bytes); hex:"
    od -A d -t x1z -v "$f" | head -n 40
  done
  [ "$found" = 1 ] || say "no crashing input was saved"
}

cxx=""
if [ "$mode" != standalone ]; then
  cxx=$(find_libfuzzer) || cxx=""
  if [ -z "$cxx" ]; then
    [ "$mode" = libfuzzer ] && die "FUZZ_MODE=libfuzzer but no clang++ links -fsanitize=fuzzer (Debian: apt-get install clang libclang-rt-14-dev)"
    say "no clang++ with libFuzzer (Debian: clang, libclang-rt-14-dev); using the standalone driver"
  fi
fi

log=$work/log
if [ -n "$cxx" ]; then
  engine="libFuzzer + ASan + UBSan, $("$cxx" --version | head -n 1)"
  say "building with $cxx (libFuzzer, ASan, UBSan)"
  compile_all "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined "${libfuzzer_cov[@]}" \
    -fno-sanitize-recover=all -- "${sources[@]}" "$entry" &&
    "$cxx" "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all "${objs[@]}" \
      -o "$work/fuzz" || die "build failed"
  say "fuzzing for $seconds s from $(ls "$seeds" | wc -l) seed files"
  "$work/fuzz" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" -timeout=10 \
    -max_len="$max_len" "${dict_args[@]}" -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$seeds" >"$log" 2>&1
  status=$?
  # libFuzzer's own progress lines are many; keep the start and the end.
  grep -E '^INFO: (Seed|Loaded|A corpus)|INITED' "$log" | head -n 5
  grep -E '^#[0-9]+[[:space:]]+(pulse|DONE)' "$log" | tail -n 3
  grep -E '^(stat::|Done )' "$log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, ft \2, corpus \3 inputs/p' | tail -n 1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
  extra="${cov:+, $cov}${rss:+, peak RSS $rss MB}"
else
  gxx=${CXX:-g++}
  command -v "$gxx" >/dev/null 2>&1 || die "no C++ compiler ($gxx)"
  cov_flags=(-fsanitize-coverage=trace-pc)
  printf 'int f(int x) { return x ? 1 : 2; }\n' >"$work/probe.cpp"
  "$gxx" -c "${cov_flags[@]}" "$work/probe.cpp" -o "$work/probe.o" >/dev/null 2>&1 || cov_flags=()
  printf 'int main() { return 0; }\n' >"$work/probe.cpp"
  if "$gxx" "${sanitize[@]}" "$work/probe.cpp" -o "$work/probe" >/dev/null 2>&1; then
    engine="standalone driver + ASan + UBSan, $("$gxx" --version | head -n 1)"
  else
    say "WARNING: $gxx cannot build with -fsanitize=address,undefined; fuzzing without sanitizers"
    sanitize=()
    engine="standalone driver, no sanitizers, $("$gxx" --version | head -n 1)"
  fi
  say "building with $gxx (standalone driver${sanitize:+, ASan, UBSan}${cov_flags:+, coverage feedback})"
  compile_all "$gxx" "${flags[@]}" "${standalone_flags[@]}" "${sanitize[@]}" "${cov_flags[@]}" \
    -- "${sources[@]}" "$entry" &&
    "$gxx" "${flags[@]}" "${sanitize[@]}" -c "$here/standalone_driver.cpp" -o "$work/driver.o" &&
    "$gxx" "${flags[@]}" "${sanitize[@]}" "${objs[@]}" "$work/driver.o" -o "$work/fuzz" || die "build failed"
  say "fuzzing for $seconds s from $(ls "$seeds" | wc -l) seed files"
  # UBSan aborts, so that the driver's SIGABRT handler saves the input.
  export UBSAN_OPTIONS=$UBSAN_OPTIONS:abort_on_error=1
  # The driver has no RSS limit of its own: bound its address space.
  # (ASan reserves terabytes of virtual memory, so only without it.)
  (
    [ ${#sanitize[@]} -eq 0 ] && ulimit -v $((rss_mb * 1024))
    exec "$work/fuzz" -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -max_len="$max_len" "${dict_args[@]}" \
      -artifact_prefix="$work/artifacts/" "$seeds"
  ) >"$log" 2>&1
  status=$?
  grep -E '^standalone: [0-9#]' "$log" | tail -n 4
  runs=$(sed -n -e 's/^standalone: \([0-9]*\) runs .*/\1/p' -e 's/^standalone: crash at run #\([0-9]*\);.*/\1/p' "$log" | tail -n 1)
  extra=$(sed -n 's/^standalone: .* s; \(.*\)$/, \1/p' "$log" | tail -n 1)
fi

if [ "$status" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|broken promise' "$log"; then
  report_crash "$log" "$status"
  say "${runs:-?} runs, 1 crash ($engine)"
  exit 1
fi
[ -n "${runs:-}" ] || { tail -n 40 "$log"; die "could not read the number of runs from the log"; }
say "$runs runs, 0 crashes ($engine, $seconds s${extra})"
exit 0
