#!/usr/bin/env bash
# The GPU verification in one call (docs/gpu.md): runs on the GPU machine
# (no GStreamer, no network) what scripts/gpu/make-kit.sh built here into
# gpu-kit/ (carried with the tree). Builds nothing; sets up links and the
# environment (seconds), then runs each step under its own time limit,
# keeps going after a failing step, and ends with one table.
#
#   scripts/gpu/run-gpu-suite.sh quick [STEP...]   all steps, or those named
#   scripts/gpu/run-gpu-suite.sh --exec CMD...     one command in the kit's
#       environment, e.g. --exec gst-inspect-1.0 nvh264dec (the links it
#       makes stay until the next run or make-kit.sh)
#
# Steps, in this order (seconds: at most, within the whole budget):
#   kit          (90) the machine, GPU, driver, torch, the kit's sources and
#                libraries, the data too large to carry (made there: the
#                seeded weights, the golden cases), GStreamer and the
#                elements, our plugin, cudaupload and cudaconvert (NVRTC)
#                round trips
#   kernels      (75) the CUDA kernel suite against the CPU twins and the
#                golden cases (cuda-kernels; frames up to 1080p)
#   cuda-memory  (100) cudaupload and nvh264dec frames read in place against
#                the CPU, a foreign context, LPIPS and MUSIQ on CUDA against
#                the CPU (cuda-memory, without its 200 start/stop cycles)
#   cuda-pairs   (45) benchmark: MSE + InvSSIM pairs/s, NV12 1080p/2160p,
#                batch 1/16/64, device and host memory, device-copy GB/s
#   networks     (150) benchmark: LPIPS and MUSIQ beside the lpips package
#                and pyiqa (bench_networks.py --quick), target checks
#   e2e          (40) one row: nvh264dec ! CUDA memory ! s2smetrics, 1080p
#   memcheck     (60) compute-sanitizer memcheck over the kernel suite at
#                small sizes
#   racecheck    (40) the same with racecheck, if the budget has room
#
# Results: PASS, FAIL, SKIPPED (no GPU, a missing piece there, or no time
# left). Logs: $OUT (the device tool's folder) or /tmp/s2s-gpu-logs:
# summary.txt, run.log (every step's output), networks.json, e2e.md.
# Exit status 1 if a step failed.
#
# S2S_GPU_BUILD=DIR runs the steps against a meson build here instead of
# the kit, with this machine's GStreamer (the no-GPU check, test
# gpu-run-no-gpu).
#
# Environment: S2S_GPU_BUDGET (seconds for all steps, default 400),
# S2S_KIT_LIBS=bundle (every bundled library, not the image's copies),
# S2S_QUICK_MAX_PIXELS (kernels: largest frame, default 2073600),
# S2S_SANITIZE_MAX_PIXELS (20000), S2S_GPU_STEP_LIMIT (seconds for each
# step instead of the figures above, for a rerun of one step),
# S2S_GPU_IGNORE (cuda-memory cases left out, default test_start_stop_cycles).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd -P)
self=$repo/scripts/gpu/run-gpu-suite.sh
kit=$repo/gpu-kit
logdir=${OUT:-/tmp/s2s-gpu-logs}
work=${S2S_GPU_WORK:-/tmp/s2s-gpu-run}
budget=${S2S_GPU_BUDGET:-400}
step=${step:-main}

all_steps=(kit kernels cuda-memory cuda-pairs networks e2e memcheck racecheck)
declare -A cap=([kit]=90 [kernels]=75 [cuda-memory]=100 [cuda-pairs]=45 [networks]=150 [e2e]=40
                [memcheck]=60 [racecheck]=40)
# A step that would get less than this is SKIPPED ("no time left").
declare -A least=([kit]=10 [kernels]=30 [cuda-memory]=40 [cuda-pairs]=25 [networks]=60 [e2e]=25
                  [memcheck]=30 [racecheck]=30)

say() { echo "[$step] $*"; }
# One key figure for the summary table (several are joined with "; ").
fig() { echo "$*" >>"$work/$step.fig"; say "figure: $*"; }
kit_val() { [ -n "${S2S_GPU_BUILD:-}" ] || sed -n "s/^$1=//p" "$kit/KIT" 2>/dev/null; }

# ---------------------------------------------------------------------------
# The kit's environment (inherited by every step)
# ---------------------------------------------------------------------------

# Libraries we always take from the kit (the plugins and our programs were
# linked against these); for the others the image's copy wins where its
# loader knows the soname.
core_re='^lib(gst|glib-2\.0|gobject-2\.0|gio-2\.0|gmodule-2\.0|gthread-2\.0|orc-|x264|check|subunit)'

find_lib_dir() {  # SONAME [DIR...]: the first folder holding it
  local s=$1 d
  shift
  for d in "$@"; do
    [ -n "$d" ] && [ -e "$d/$s" ] && { echo "$d"; return 0; }
  done
  return 1
}

# Does the loader find SONAME (its cache, or a folder on LD_LIBRARY_PATH as
# containers set it for the driver's libraries)?
have_so() {
  local d
  ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$1 (libc6,x86-64" && return 0
  for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }} /usr/local/nvidia/lib64 /usr/lib/$(uname -m)-linux-gnu; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}

setup_build() {  # S2S_GPU_BUILD: a meson build here, this machine's GStreamer
  build=$(realpath "$S2S_GPU_BUILD") && [ -f "$build/meson-info/intro-tests.json" ] ||
    { echo "S2S_GPU_BUILD=$S2S_GPU_BUILD is not a configured meson build"; return 1; }
  torch_dir=$(python3 -c 'import importlib.util as u; s = u.find_spec("torch"); print(list(s.submodule_search_locations)[0])' 2>/dev/null)
  export S2S_SANITIZER=$(command -v compute-sanitizer 2>/dev/null) S2S_KIT_BASE="" S2S_MISSING_GPU_LIBS=""
  export GST_REGISTRY_1_0="$work/registry.bin" PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1 build
}

setup_kit() {
  if [ -n "${S2S_GPU_BUILD:-}" ]; then setup_build; return $?; fi
  [ -f "$kit/KIT" ] || { echo "no gpu-kit/KIT: make the kit with scripts/gpu/make-kit.sh (on the Debian 12" \
    "machine) and carry gpu-kit"; return 1; }
  base=$(kit_val base)
  [ -n "$base" ] || { echo "gpu-kit/KIT names no base"; return 1; }
  # The build's paths name $base/src and $base/src/build-gpukit: links to
  # the repository and to gpu-kit/build.
  if [ -L "$repo/build-gpukit" ]; then
    rm -f "$repo/build-gpukit"
  elif [ -e "$repo/build-gpukit" ]; then
    echo "$repo/build-gpukit exists and is not the kit's link"
    return 1
  fi
  if [ -f "$base/.s2s-kit-links" ]; then
    rm -rf "$base"
  elif [ -e "$base" ] || [ -L "$base" ]; then
    echo "$base exists and is not the kit's links (make-kit's build? make-kit parks it when done)"
    return 1
  fi
  mkdir -p "$base" "$work" || return 1
  ln -s "$repo" "$base/src" && ln -s "$kit/build" "$repo/build-gpukit" && touch "$base/.s2s-kit-links" || return 1

  # The loader's folder: links to the kit's libraries that are used.
  local ldcache lib s
  ldcache=$(ldconfig -p 2>/dev/null || true)
  mkdir -p "$base/ld"
  : >"$base/image-libs"
  for lib in "$kit"/gst/lib/*; do
    s=$(basename "$lib")
    if [ "${S2S_KIT_LIBS:-auto}" != bundle ] && ! [[ $s =~ $core_re ]] &&
       [[ $ldcache == *$'\t'"$s (libc6,x86-64"* ]]; then
      echo "$s" >>"$base/image-libs"
      continue
    fi
    ln -s "$lib" "$base/ld/$s"
  done

  # LibTorch: the torch package of this machine's python3 (the kit's module
  # was linked against the same version's libraries, elsewhere).
  torch_dir=$(python3 -c 'import importlib.util as u; s = u.find_spec("torch"); print(list(s.submodule_search_locations)[0])' 2>/dev/null)
  local lds=("$base/ld")
  [ -n "$torch_dir" ] && lds+=("$torch_dir/lib")
  # CUDA's runtime and NVRTC: the loader's, else the toolkit's, else the
  # pip packages beside torch.
  local site cands=() c
  site=${torch_dir%/torch}
  for c in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda $(ls -d /usr/local/cuda-* 2>/dev/null | sort -rV); do
    [ -n "$c" ] && cands+=("$c/lib64" "$c/targets/x86_64-linux/lib")
  done
  [ -n "$torch_dir" ] && cands+=("$site/nvidia/cu13/lib" "$site/nvidia/cuda_runtime/lib" "$site/nvidia/cuda_nvrtc/lib")
  missing_gpu_libs=""
  for s in $(kit_val from_gpu); do
    [[ $s =~ ^(lib(c|m|dl|pthread|rt|resolv|util|stdc\+\+|gcc_s)\.so|ld-linux|libcuda\.so) ]] && continue
    have_so "$s" && continue
    if c=$(find_lib_dir "$s" "${lds[@]}" "${cands[@]}"); then
      [[ " ${lds[*]} " == *" $c "* ]] || lds+=("$c")
    else
      missing_gpu_libs+="${missing_gpu_libs:+ }$s"
    fi
  done
  export LD_LIBRARY_PATH="$(IFS=:; echo "${lds[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # gst-cuda (1.22) dlopens libnvrtc for cudaconvert's kernels.
  if [ -z "${GST_CUDA_NVRTC_LIBNAME:-}" ]; then
    c=$(for d in "${lds[@]}" "${cands[@]}"; do ls "$d"/libnvrtc.so* 2>/dev/null; done | grep -v builtins | head -n1)
    [ -n "$c" ] && export GST_CUDA_NVRTC_LIBNAME=$c
  fi
  sanitizer=$(command -v compute-sanitizer 2>/dev/null)
  for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
           /opt/nvidia/compute-sanitizer/compute-sanitizer; do
    [ -n "$sanitizer" ] || { [ -x "$c" ] && sanitizer=$c; }
  done
  export S2S_SANITIZER=$sanitizer S2S_KIT_BASE=$base S2S_MISSING_GPU_LIBS=$missing_gpu_libs
  export PATH="$kit/gst/bin:$PATH"
  export GST_PLUGIN_SYSTEM_PATH_1_0="$kit/gst/plugins"
  export GST_PLUGIN_SCANNER_1_0="$kit/gst/libexec/gst-plugin-scanner"
  export GST_REGISTRY_1_0="$work/registry.bin"
  # The kit's GLib must not load the image's GIO modules (built for its own).
  mkdir -p "$work/gio-modules" && export GIO_MODULE_DIR="$work/gio-modules"
  export PYTHONPATH="$kit/site${PYTHONPATH:+:$PYTHONPATH}"
  export PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1
  build=$base/src/build-gpukit
  export build
  return 0
}

# Data too large to carry (make-kit's REGEN: the seeded weights, the golden
# cases): made where the build expects it (removed again at the end).
regen() {
  local out cmd rc=0 t
  while IFS=$'\t' read -r out cmd; do
    [ -n "$out" ] || continue
    [ -s "$build/$out" ] && continue
    t=$(date +%s)
    (cd "$build" && eval "$cmd") || { say "FAILED: $cmd"; rc=1; }
    say "made $out in $(($(date +%s) - t)) s"
  done <"$kit/REGEN"
  return "$rc"
}

mtest() { python3 "$repo/scripts/gpu/mtest.py" "$@"; }

check_lines() {  # Check's per-suite summaries in a log, on one line
  grep -E "^[0-9]+%: Checks: [0-9]+" "$1" | sed 's/, Errors: 0$//' | paste -sd';' - | sed 's/;/; /g'
}

# ---------------------------------------------------------------------------
# Steps: exit 0 PASS, 77 SKIPPED, anything else FAIL
# ---------------------------------------------------------------------------

step_kit() {
  local rc=0 out have need gst_ver e missing=() notfound
  if [ -n "${S2S_GPU_BUILD:-}" ]; then echo "--- no kit: the build $build and this machine's GStreamer"
  else echo "--- kit"; cat "$kit/KIT"; fi
  say "machine: $(uname -srm); $(getconf GNU_LIBC_VERSION 2>/dev/null); $(nproc) CPUs; $(python3 --version 2>&1)"
  need=$(kit_val glibc_min); have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
  if [ -n "$need" ] && [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
    fig "glibc $have is older than the kit's $need"; rc=1
  fi
  # The sources the kit was built from (docs and Markdown left out).
  out=""
  [ -n "${S2S_GPU_BUILD:-}" ] ||
    out=$(cd "$repo" && sha256sum -c --quiet "$kit/SOURCES.sha256" 2>/dev/null | sed 's/: .*//')
  if [ -n "$out" ]; then
    fig "kit built from other sources: $(echo "$out" | wc -l) files differ ($(echo "$out" | head -n3 | paste -sd' ' -)...): rebuild it"
    rc=1
  fi
  echo "--- GPU"
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi -L
    fig "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n1)"
  else
    fig "GPU: none (no nvidia-smi or no device)"
  fi
  echo "--- torch"
  out=$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")' 2>&1 | tail -n1)
  echo "$out"
  read -r tv tc tavail _ <<<"$out"
  if [ -z "${S2S_GPU_BUILD:-}" ] && [ "${tv%%+*}" != "$(kit_val torch | sed 's/+.*//')" ]; then
    fig "torch ${tv:-missing} here, the kit's LibTorch module is $(kit_val torch): FAIL"; rc=1
  else
    fig "torch $tv (CUDA $tc, device: $tavail); LibTorch from ${torch_dir:-?}/lib"
  fi
  [ -z "$S2S_MISSING_GPU_LIBS" ] || { fig "libraries nowhere here: $S2S_MISSING_GPU_LIBS"; rc=1; }
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  [ -z "$S2S_KIT_BASE" ] || echo "image's copies used for: $(paste -sd' ' "$S2S_KIT_BASE/image-libs")"
  echo "GST_CUDA_NVRTC_LIBNAME=${GST_CUDA_NVRTC_LIBNAME:-unset} compute-sanitizer=${S2S_SANITIZER:-none}"
  notfound=$(for f in "$kit"/gst/bin/* "$kit"/gst/libexec/* "$kit"/gst/plugins/*.so "$build"/gst/*.so \
               "$build"/models/*.so "$build"/tests/*/check_* "$build"/tests/*/test_* "$build"/tests/bench/bench_*; do
               [ -f "$f" ] && ldd "$f" 2>/dev/null | sed -n "s|^\s*\(\S*\) => not found|\1 (for $(basename "$f"))|p"
             done | sort -u)
  [ -z "$notfound" ] || { fig "libraries not found: $(echo "$notfound" | paste -sd, -)"; rc=1; }
  echo "--- data too large to carry (REGEN)"
  [ -n "${S2S_GPU_BUILD:-}" ] || regen || { fig "making the weights FAILED"; rc=1; }
  echo "--- GStreamer"
  gst_ver=$(gst-launch-1.0 --version 2>&1 | sed -n 's/^GStreamer \([0-9.]*\).*/\1/p')
  [ -n "$gst_ver" ] || { gst-launch-1.0 --version; fig "gst-launch-1.0 does not run"; return 1; }
  for e in fakesink videotestsrc x264enc h264parse qtdemux mp4mux cudaupload cudadownload cudaconvert nvh264dec; do
    if gst-inspect-1.0 --exists "$e" 2>/dev/null; then printf '  %-14s yes\n' "$e"
    else printf '  %-14s MISSING\n' "$e"; missing+=("$e"); fi
  done
  out=""
  # Not --exists: it also asks for GStreamer's own version (1.22), ours is 0.1.
  for e in s2smetrics musiqscore; do
    GST_PLUGIN_PATH="$build/gst" gst-inspect-1.0 "$e" >/dev/null 2>&1 || out+=" $e"
  done
  if [ -n "$out" ]; then fig "our plugin does not load:$out"; GST_PLUGIN_PATH="$build/gst" gst-inspect-1.0 s2s; rc=1
  else say "our plugin loads: s2smetrics, musiqscore"; fi
  local nvcuvid="libnvcuvid: $(have_so libnvcuvid.so.1 && echo yes || echo 'no (the driver has no NVDEC library)')"
  local smoke=""
  if gst-inspect-1.0 --exists cudaupload 2>/dev/null; then
    if gst-launch-1.0 -q videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=320,height=240 \
         ! cudaupload ! cudadownload ! fakesink >/dev/null 2>&1; then smoke="cudaupload/download ok"
    else smoke="cudaupload/download FAILED"; fi
    if gst-launch-1.0 -q videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=320,height=240 \
         ! cudaupload ! cudaconvert ! 'video/x-raw(memory:CUDAMemory),format=I420' ! cudadownload ! fakesink \
         >"$work/cudaconvert.log" 2>&1; then smoke+=", cudaconvert ok"
    else smoke+=", cudaconvert FAILED (NVRTC? $(grep -io 'nvrtc[^\n]*' "$work/cudaconvert.log" | head -n1 | cut -c1-80))"; fi
  fi
  fig "GStreamer $gst_ver ($([ -n "${S2S_GPU_BUILD:-}" ] && echo "this machine's" || echo kit)); missing: ${missing[*]:-none}; $nvcuvid${smoke:+; $smoke}"
  return "$rc"
}

# Runs a meson test's or benchmark's command as meson would (mtest.py);
# its output into $work/$step.out as well.
run_test() {
  mtest run "$build" "$@" 2>&1 | tee "$work/$step.out"
  return "${PIPESTATUS[0]}"
}

no_device() {  # the reason a program printed for its SKIP
  sed -n 's/^SKIP: //p; s/^not run: //p' "$work/$step.out" | head -n1 | cut -c1-120
}

step_kernels() {
  local rc
  S2S_CUDA_TEST_MAX_PIXELS=${S2S_QUICK_MAX_PIXELS:-2073600} CK_VERBOSITY=normal run_test cuda-kernels
  rc=$?
  case $rc in
    77) fig "$(no_device); CPU part: $(check_lines "$work/$step.out")" ;;
    *) fig "$(sed -n 's/^device [0-9]*: //p' "$work/$step.out" | head -n1): $(check_lines "$work/$step.out")"
       fig "$(grep -c 'left out' "$work/$step.out") frames left out (S2S_CUDA_TEST_MAX_PIXELS=${S2S_QUICK_MAX_PIXELS:-2073600})" ;;
  esac
  return "$rc"
}

step_cuda-memory() {
  local rc
  GST_CHECKS_IGNORE=${S2S_GPU_IGNORE-test_start_stop_cycles} run_test cuda-memory
  rc=$?
  if [ "$rc" = 77 ]; then fig "$(no_device)"; return 77; fi
  # Check's lines for failed cases: file:line:F|E:tcase:test:...
  local failed
  failed=$(awk -F: '$3 ~ /^[FE]$/ { printf "%s%s FAILED", sep, $5; sep = ", " }' "$work/$step.out")
  [ -z "$failed" ] || fig "$failed"
  grep -h 'case not run\|not run:' "$work/$step.out" | sort -u | head -n3 | while read -r l; do fig "$l"; done
  fig "$(check_lines "$work/$step.out")"
  return "$rc"
}

step_cuda-pairs() {
  local rc
  run_test --benchmark cuda-pairs
  rc=$?
  if [ "$rc" = 77 ]; then fig "$(no_device)"; return 77; fi
  fig "$(sed -n 's/^device [0-9]*: //p' "$work/$step.out" | head -n1)"
  fig "pairs/s, device memory: $(awk '$1 == "cuda" && $2 == "device" { printf "%s%s b%s %s", sep, $3, $4, $5; sep = ", " }' "$work/$step.out")"
  fig "host b16: $(awk '$2 == "host" || $3 == "host" { n = ($1 == "cuda") ? "cuda" : $1 " " $2; s = ($1 == "cuda") ? $3 : $4; p = ($1 == "cuda") ? $5 : $6; printf "%s%s %s %s", sep, n, s, p; sep = ", " }' "$work/$step.out")"
  return "$rc"
}

step_networks() {
  local rc
  run_test --benchmark networks --append=--quick --append=--json "--append=$logdir/networks.json"
  rc=$?
  if [ "$rc" = 77 ]; then fig "$(no_device)"; return 77; fi
  grep -h '^- \(LPIPS\|MUSIQ\) target' "$work/$step.out" | sed 's/^- //' | while read -r l; do fig "$l"; done
  [ "$rc" = 0 ] || fig "bench_networks exit $rc"
  return "$rc"
}

step_e2e() {
  local rc why
  if ! gst-inspect-1.0 --exists nvh264dec 2>/dev/null; then
    why=$(have_so libnvcuvid.so.1 && echo "nvcodec registered no nvh264dec" ||
          echo "no libnvcuvid.so.1 (NVDEC) in the driver")
    fig "no nvh264dec: $why"
    return 77
  fi
  python3 "$repo/tests/bench/e2e_bench.py" --build "$build" --cache "$work/e2e" --sizes 1080p \
    --rows b-nvdec-cuda --quick --markdown 2>&1 | tee "$work/$step.out"
  rc=${PIPESTATUS[0]}
  cp "$work/$step.out" "$logdir/e2e.md" 2>/dev/null
  fig "$(grep '^| 1080p | b-nvdec-cuda' "$work/$step.out" | awk -F' [|] ' '{ print $2 ": " $5 " frames/s (" $6 " over a-cpu)" }' | head -n1)"
  return "$rc"
}

sanitize() {  # TOOL
  local rc
  if [ -z "$S2S_SANITIZER" ]; then fig "no compute-sanitizer here"; return 77; fi
  local max=${S2S_SANITIZE_MAX_PIXELS:-20000}
  S2S_CUDA_TEST_MAX_PIXELS=$max S2S_CUDA_PREPROCESS_MAX_PIXELS=$max run_test cuda-kernels \
    --wrapper "$S2S_SANITIZER --tool $1 --error-exitcode 99 --print-limit 20"
  rc=$?
  if [ "$rc" = 77 ]; then fig "$(no_device)"; return 77; fi
  fig "$(grep -E '(ERROR|RACECHECK) SUMMARY' "$work/$step.out" | tail -n1 | sed 's/^=* *//') (frames <= $max pixels); $(check_lines "$work/$step.out")"
  return "$rc"
}
step_memcheck() { sanitize memcheck; }
step_racecheck() { sanitize racecheck; }

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

usage() { sed -n '2,/^set -uo/p' "$self" | sed '$d; s/^# \{0,1\}//'; }

if [ "${1:-}" = --step ]; then   # one step, in the environment the caller set up
  step=$2
  "step_$step"
  exit $?
fi
if [ "${1:-}" = --exec ]; then
  shift
  step=exec
  setup_kit >&2 || exit 1
  exec "$@"
fi
[ "${1:-}" = quick ] || { usage; [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; exit $?; }
shift
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=("${all_steps[@]}")
for s in "${steps[@]}"; do
  [ -n "${cap[$s]:-}" ] || { echo "unknown step '$s' (steps: ${all_steps[*]})" >&2; exit 2; }
done

t0=$(date +%s)
rm -rf "$work" && mkdir -p "$work" "$logdir" || exit 1
cleanup() {  # gpu-kit as it was: what the run wrote there (the REGEN data) goes
  if [ -f "$work/kit-files.before" ]; then
    find "$kit/build" -type f | sort | comm -13 "$work/kit-files.before" - | xargs -r -d '\n' rm -f
  fi
  [ -n "${base:-}" ] && [ -f "$base/.s2s-kit-links" ] && rm -rf "$base"
  [ -L "$repo/build-gpukit" ] && rm -f "$repo/build-gpukit"
}
trap cleanup EXIT
step=setup
[ -d "$kit/build" ] && find "$kit/build" -type f | sort >"$work/kit-files.before"
if ! setup_kit >"$work/setup.out" 2>&1; then
  cat "$work/setup.out"
  { echo "gst-s2s GPU run: the kit could not be set up"; cat "$work/setup.out"; } >"$logdir/summary.txt"
  exit 1
fi
export work logdir repo kit torch_dir

results=()
any_failed=0
for s in "${all_steps[@]}"; do
  [[ " ${steps[*]} " == *" $s "* ]] || continue
  left=$((budget - ($(date +%s) - t0)))
  c=${S2S_GPU_STEP_LIMIT:-${cap[$s]}}
  limit=$((c < left - 5 ? c : left - 5))
  if [ "$limit" -lt "${least[$s]}" ]; then
    results+=("$s|SKIPPED|0|no time left (S2S_GPU_BUDGET=$budget s)")
    continue
  fi
  echo "===== $s (at most $limit s) =====" | tee -a "$work/run.log"
  t1=$(date +%s)
  step=$s timeout -k 5 "$limit" bash "$self" --step "$s" 2>&1 | tee -a "$work/run.log"
  rc=${PIPESTATUS[0]}
  secs=$(($(date +%s) - t1))
  case $rc in
    0) result=PASS ;;
    77) result=SKIPPED ;;
    124 | 137) result=FAIL; echo "cut off after $limit s" >>"$work/$s.fig" ;;
    *) result=FAIL ;;
  esac
  [ "$result" = FAIL ] && any_failed=1
  figs=$(paste -sd'|' "$work/$s.fig" 2>/dev/null | sed 's/|/; /g')
  results+=("$s|$result|$secs|${figs:-exit $rc}")
done

# The device tool brings files back up to 16 MiB: keep head and tail.
if [ "$(stat -c %s "$work/run.log")" -gt $((15 * 1048576)) ]; then
  { head -c $((4 * 1048576)) "$work/run.log"; printf '\n... (cut) ...\n'; tail -c $((10 * 1048576)) "$work/run.log"; } \
    >"$logdir/run.log"
else
  cp "$work/run.log" "$logdir/run.log"
fi
{
  echo
  echo "gst-s2s GPU run (quick), $(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), kit $(kit_val commit)," \
    "total $(($(date +%s) - t0)) s of $budget; logs in $logdir"
  printf '%-12s %-8s %7s  %s\n' step result seconds "key figures"
  for r in "${results[@]}"; do
    IFS='|' read -r s result secs figs <<<"$r"
    printf '%-12s %-8s %7s  %s\n' "$s" "$result" "$secs" "$figs"
  done
} | tee "$logdir/summary.txt"
exit $any_failed
