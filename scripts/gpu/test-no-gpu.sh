#!/usr/bin/env bash
# Test gpu-run-no-gpu (tests/meson.build): scripts/gpu/run-gpu-suite.sh quick
# on a machine without a GPU, against the meson build BUILD instead of the
# kit. It must end in its summary table with the kit step PASS and every GPU
# step SKIPPED with a reason, never PASS (a GPU step that did not run) nor
# FAIL, and exit 0. Where there is a GPU it exits 77: the kit's run is the
# real check there.
#
#   scripts/gpu/test-no-gpu.sh BUILD
set -uo pipefail
build=${1:?usage: test-no-gpu.sh BUILD}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: this machine has a GPU (the check is for machines without one)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OUT=$tmp/out S2S_GPU_WORK=$tmp/work S2S_GPU_BUILD=$build bash "$(dirname "$0")/run-gpu-suite.sh" quick
rc=$?
echo "run-gpu-suite.sh exit status: $rc"
[ -s "$tmp/out/summary.txt" ] || { echo "FAIL: no summary.txt"; exit 1; }
python3 - "$tmp/out/summary.txt" "$rc" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
rows = {}
for line in lines:
    m = re.match(r"^(\S+)\s+(PASS|FAIL|SKIPPED)\s+(\d+)\s+(.*)$", line)
    if m:
        rows[m.group(1)] = (m.group(2), m.group(4))
want = ["kit", "kernels", "cuda-memory", "cuda-pairs", "networks", "e2e", "memcheck", "racecheck"]
bad = []
if sys.argv[2] != "0":
    bad.append(f"exit status {sys.argv[2]}, expected 0")
for step in want:
    if step not in rows:
        bad.append(f"{step}: no row in the summary")
        continue
    result, figures = rows[step]
    expected = "PASS" if step == "kit" else "SKIPPED"
    if result != expected:
        bad.append(f"{step}: {result}, expected {expected} ({figures})")
    elif expected == "SKIPPED" and (not figures.strip() or "no time left" in figures):
        bad.append(f"{step}: SKIPPED without its own reason ({figures!r})")
# The kernel test's CPU part runs everywhere: its checks must show, all passed.
kern = rows.get("kernels", ("", ""))[1]
if "no CUDA device" not in kern or not re.search(r"Checks: \d+, Failures: 0", kern):
    bad.append(f"kernels: expected 'no CUDA device' and the CPU part's passing checks, got {kern!r}")
for b in bad:
    print("FAIL:", b)
print(f"{len(bad)} problems" if bad else f"all {len(want)} rows as expected, exit status 0")
sys.exit(1 if bad else 0)
PY
