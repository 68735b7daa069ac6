#!/usr/bin/env bash
# valgrind memcheck over a representative subset of the element tests on the
# CPU path (reliability row 18, invariant I5):
#   run_valgrind.sh BUILD_DIR              the check_* binaries of a build
#   run_valgrind.sh BINARY...              given binaries (meson passes its own)
#
# Each binary runs once under
#   valgrind --tool=memcheck --error-exitcode=1 --leak-check=full
#            --errors-for-leak-kinds=definite --track-origins=no
# with CK_FORK=no (the tests run in the process valgrind watches) and
# GST_CHECKS naming the tests of the subset:
#   s2smetrics_flow    state cycles, batching (hold, batch-size equivalence,
#                      change while streaming), EOS drain (partial batch, no
#                      buffers, right after caps), caps change with a pending
#                      batch, flush, downstream errors mid-batch
#   s2smetrics_values  odd sizes and padded strides, one small golden case
#                      per format (padded: packed vs padded strides, batch
#                      16 and 1, both SSIM windows)
#   s2smetrics_lpips   LPIPS on three 320x240 frames scored at 64x64 (batch
#                      1 and 16), missing and corrupt model
#   musiqscore         missing and corrupt model (the model read, its
#                      failure and clean-up); with VALGRIND_MUSIQ_FRAME=1
#                      also one 224x224 frame scored (interval). MUSIQ
#                      scores at 224 and 384 whatever the frame size, and
#                      one frame costs about 4 CPU minutes under memcheck,
#                      so it is left out of the default run.
# The golden, LPIPS and MUSIQ case lists are cut down to those cases in
# temporary copies of the data directories. Suppressions (s2s.supp, next to
# this script) cover third-party noise only, each with its reason: the
# dynamic loader and one LibTorch false positive.
#
# LibTorch makes every start slow under valgrind (it maps about 2.8 GB of
# libraries and runs their initialisers), so binaries run VALGRIND_JOBS at a
# time (default: the number of CPUs, at most 4).
#
# Environment: the element tests' own (GST_PLUGIN_PATH_1_0, S2S_PLUGIN_DIR,
# S2S_GOLDEN_DIR, S2S_LPIPS_DIR, S2S_LPIPS_WEIGHTS, S2S_MUSIQ_DIR,
# S2S_MUSIQ_WEIGHTS; derived from BUILD_DIR when given), VALGRIND (the
# valgrind program), VALGRIND_JOBS, VALGRIND_LOGS (keep the logs there),
# VALGRIND_MUSIQ_FRAME=1 (also score a MUSIQ frame).
#
# Exit: 0 when clean, 1 on a valgrind error, a definite leak or a failed
# test, 77 (skipped) without valgrind. The last line is the summary:
#   valgrind-cpu: N tests, 0 errors, 0 definite leaks (...)
set -uo pipefail

say() { echo "valgrind-cpu: $*"; }
here=$(cd "$(dirname "$0")" && pwd)
supp=$here/s2s.supp
vg=${VALGRIND:-valgrind}
if ! command -v "$vg" >/dev/null 2>&1; then
  say "SKIPPED: valgrind not found (Debian: apt-get install valgrind; scripts/setup.sh installs it)"
  exit 77
fi
[ $# -gt 0 ] || { echo "usage: $0 BUILD_DIR | BINARY..." >&2; exit 2; }

binaries=()
if [ $# -eq 1 ] && [ -d "$1" ]; then
  build=$(cd "$1" && pwd)
  for n in s2smetrics_flow s2smetrics_values s2smetrics_lpips musiqscore; do
    [ -x "$build/tests/check/check_$n" ] && binaries+=("$build/tests/check/check_$n")
  done
  : "${GST_PLUGIN_PATH_1_0:=$build/gst}" "${S2S_PLUGIN_DIR:=$build/gst}"
  : "${S2S_GOLDEN_DIR:=$build/tests/reference}"
  : "${S2S_LPIPS_DIR:=$build/tests/lpips}" "${S2S_LPIPS_WEIGHTS:=$build/tests/lpips/lpips-random-seed1.safetensors}"
  : "${S2S_MUSIQ_DIR:=$build/tests/musiq}" "${S2S_MUSIQ_WEIGHTS:=$build/tests/musiq/musiq-koniq10k-seed1.safetensors}"
else
  binaries=("$@")
fi
[ ${#binaries[@]} -gt 0 ] || { say "ERROR: no test binaries"; exit 2; }
[ -n "${GST_PLUGIN_PATH_1_0:-}" ] || { say "ERROR: GST_PLUGIN_PATH_1_0 is not set"; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/valgrind-cpu.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT

# As tests/check/meson.build: only our plugin, private registries, no scanner
# helper (plugins load in the process valgrind watches).
export GST_PLUGIN_SYSTEM_PATH_1_0= GST_PLUGIN_PATH_1_0 GST_PLUGIN_SCANNER_1_0=
export GST_STATE_IGNORE_ELEMENTS=
export GST_DEBUG=${GST_DEBUG:-GST_REFCOUNTING:1,*:1}
export CK_FORK=no CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-3000}
# GLib: plain malloc for GSlice, so that valgrind sees every block.
export G_SLICE=always-malloc G_DEBUG=gc-friendly
# One LibTorch/OpenMP thread: valgrind runs one thread at a time, and idle
# OpenMP workers spin.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
[ -n "${S2S_PLUGIN_DIR:-}" ] && export S2S_PLUGIN_DIR
[ -n "${S2S_GOLDEN_DIR:-}" ] && export S2S_GOLDEN_DIR

# Cut-down copies of the tests' data directories: $1 the original, $2 its
# case list, $3 an awk program that prints the lines to keep. Every other
# file is linked. Prints the copy's directory.
cut_cases() {
  local dir=$1 list=$2 prog=$3 out=$work/data-$(basename "$1") f
  mkdir -p "$out"
  for f in "$dir"/*; do
    [ "$(basename "$f")" = "$list" ] || ln -s "$f" "$out/"
  done
  awk "$prog" "$dir/$list" >"$out/$list" || return 1
  grep -q '^case ' "$out/$list" || { echo "valgrind-cpu: no case left in $dir/$list" >&2; return 1; }
  echo "$out"
}
# golden (cases.txt: "case NAME FORMAT W H ..."): per format, the first
# case with an odd side, both sides >= 3 and at most 2100 pixels.
golden_prog='BEGIN { on = 1 }
$1 == "case" { on = ($4 * $5 <= 2100 && $4 >= 3 && $5 >= 3 && ($4 % 2 || $5 % 2) && !seen[$3]++) }
on'
# LPIPS ("case NAME FORMAT W H SIZE N"): 320x240 frames scored at 64x64.
lpips_prog='BEGIN { on = 1 } $1 == "case" { on = ($2 == "rgb-size-64") } on'
# MUSIQ ("case NAME FORMAT W H N", "frame I FILE SCORE"): one 224x224 frame.
musiq_prog='BEGIN { on = 1 } $1 == "case" { on = ($2 == "rgb-224"); if (on) $6 = 1 }
$1 == "frame" && $2 >= 1 { next } on'

# name -> GST_CHECKS (test functions) for each binary.
checks_for() {
  case "$1" in
    *s2smetrics_flow*)
      echo "test_state_cycles,test_batch_holds_until_full,test_batch_size_equivalence,\
test_batch_size_change_while_streaming,test_eos_drains_partial_batch,test_eos_without_buffers,\
test_eos_right_after_caps,test_caps_change_drains,test_ready_drains,test_flush_drops_held,\
test_downstream_error_mid_batch,test_refuse_unsupported_caps" ;;
    *s2smetrics_values*) echo "test_padded_strides" ;;
    *s2smetrics_lpips*) echo "test_lpips_matches_reference,test_missing_model_warns,test_corrupt_model_errors" ;;
    *musiqscore*)
      if [ "${VALGRIND_MUSIQ_FRAME:-0}" = 1 ]; then
        echo "test_interval,test_missing_model,test_corrupt_model"
      else
        echo "test_missing_model,test_corrupt_model"
      fi ;;
    *) echo "" ;;
  esac
}

# Runs one binary under valgrind; writes $work/NAME.{log,vg,status}.
run_one() {
  local bin=$1 name checks
  name=$(basename "$bin")
  checks=$(checks_for "$name")
  [ -n "$checks" ] || { echo "no subset for $name" >"$work/$name.log"; echo 2 >"$work/$name.status"; return; }
  (
    case "$name" in
      *s2smetrics_values*)
        d=$(cut_cases "${S2S_GOLDEN_DIR:?}" cases.txt "$golden_prog") || exit 3
        export S2S_GOLDEN_DIR=$d ;;
      *lpips*)
        d=$(cut_cases "${S2S_LPIPS_DIR:?}" lpips-cases.txt "$lpips_prog") || exit 3
        export S2S_LPIPS_DIR=$d S2S_LPIPS_WEIGHTS ;;
      *musiq*)
        d=$(cut_cases "${S2S_MUSIQ_DIR:?}" musiq-koniq10k-seed1.txt "$musiq_prog") || exit 3
        export S2S_MUSIQ_DIR=$d S2S_MUSIQ_WEIGHTS ;;
    esac
    export GST_REGISTRY_1_0=$work/$name.registry  # one per process: they run side by side
    # wall, user and system seconds (the CPU time does not depend on the
    # machine's load)
    TIMEFORMAT='%R %U %S'
    { time GST_CHECKS=$checks "$vg" --tool=memcheck --error-exitcode=1 --leak-check=full \
      --errors-for-leak-kinds=definite --track-origins=no --num-callers=30 \
      --suppressions="$supp" --log-file="$work/$name.vg" "$bin" >"$work/$name.log" 2>&1; } 2>"$work/$name.time"
  )
  echo $? >"$work/$name.status"
}

# (getconf, not nproc: nproc follows the OMP_NUM_THREADS set above)
jobs=${VALGRIND_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
[ "$jobs" -gt 4 ] && jobs=4
[ "$jobs" -ge 1 ] || jobs=1
say "$("$vg" --version), ${#binaries[@]} binaries, $jobs at a time (LibTorch starts slowly under valgrind)"
t0=$(date +%s)
pids=()
for b in "${binaries[@]}"; do
  run_one "$b" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p"; done

tests=0 errors=0 definite=0 failed=0 cpu_total=0
for b in "${binaries[@]}"; do
  name=$(basename "$b")
  status=$(cat "$work/$name.status" 2>/dev/null || echo 2)
  vglog=$work/$name.vg
  # Check's summary: "100%: Checks: N, Failures: F, Errors: E"
  n=$(sed -n 's/.*Checks: \([0-9]*\),.*/\1/p' "$work/$name.log" | tail -n 1)
  e=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$vglog" 2>/dev/null | tail -n 1)
  d=$(sed -n 's/.*definitely lost: [0-9,]* bytes in \([0-9,]*\) blocks.*/\1/p' "$vglog" 2>/dev/null | tail -n 1 | tr -d ,)
  [ -n "$d" ] || d=0  # no leak summary when nothing was allocated
  n=${n:-0} e=${e:-?}
  read -r wall user sys <"$work/$name.time" 2>/dev/null || wall=? user=? sys=?
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", u + s }' 2>/dev/null)
  cpu_total=$(awk -v t="$cpu_total" -v c="${cpu:-0}" 'BEGIN { print t + c }')
  line="$name: ${n} tests, ${e} errors, ${d} blocks definitely lost, ${wall%.*} s (CPU ${cpu:-?} s)"
  bad=0
  if [ "$status" != 0 ] || [ "$e" != 0 ] || [ "$d" != 0 ] || [ "$n" = 0 ] ||
    grep -qE 'Failures: [1-9]|Errors: [1-9]' "$work/$name.log"; then
    bad=1
  fi
  tests=$((tests + n))
  [ "$e" = "?" ] || errors=$((errors + e))
  definite=$((definite + d))
  if [ $bad = 1 ]; then
    failed=$((failed + 1))
    say "FAILED $line (exit status $status)"
    [ "$n" = 0 ] && say "  no test ran: has a test in the subset been renamed? GST_CHECKS=$(checks_for "$name")"
    echo "----- $name: test output (end) -----"
    tail -n 40 "$work/$name.log"
    echo "----- $name: valgrind report (errors and definite leaks) -----"
    # Each record from its first line to the blank line after it.
    awk '/^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|Argument|[0-9,]+ .*bytes in [0-9,]+ blocks are definitely lost)/ {p=1}
         p {print} /^==[0-9]+== $/ {p=0}' "$vglog" 2>/dev/null | head -n 400
    grep -E 'ERROR SUMMARY|definitely lost' "$vglog" 2>/dev/null | tail -n 2
  else
    say "ok $line"
  fi
  if [ -n "${VALGRIND_LOGS:-}" ]; then
    mkdir -p "$VALGRIND_LOGS" && cp "$work/$name.log" "$work/$name.vg" "$VALGRIND_LOGS/" 2>/dev/null
  fi
done

elapsed=$(($(date +%s) - t0))
summary="$tests tests, $errors errors, $definite definite leaks ($elapsed s, CPU $cpu_total s, ${#binaries[@]} binaries, memcheck)"
if [ $failed -gt 0 ]; then
  say "$summary; $failed binaries FAILED"
  exit 1
fi
say "$summary"
exit 0
