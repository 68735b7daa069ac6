#!/usr/bin/env bash
# Makes the GPU kit (docs/gpu.md): everything the one-call GPU run
# (scripts/gpu/run-gpu-suite.sh quick) needs, built HERE, on the Debian 12
# machine, after scripts/setup.sh, into the git-ignored folder gpu-kit/:
#
#   gpu-kit/build/   the parts of a meson build (-Dcuda=enabled
#                    -Dcuda-arch=90 -Dtorch=enabled -Dtests=enabled
#                    -Dbenchmarks=enabled) that the run uses: the CUDA
#                    kernel test, the GStreamer CUDA-memory test, the plugin,
#                    the LibTorch module (against this machine's torch, which
#                    must be the pinned version: the GPU machine's), the
#                    benchmarks, the golden cases, meson-info/ (the tests'
#                    commands and environments)
#   gpu-kit/gst/     GStreamer 1.22 as the run loads it: gst-launch-1.0,
#                    gst-inspect-1.0, gst-plugin-scanner, the plugins named
#                    below, and the shared-library closure (readelf NEEDED)
#                    of all that and of our programs, minus glibc, libstdc++,
#                    libgcc_s, CUDA and LibTorch, which the GPU machine has
#   gpu-kit/site/    the pinned reference packages the GPU machine lacks
#                    (lpips, pyiqa), unpacked, without their tests and docs
#   gpu-kit/KIT      what was built, where, from which commit; REGEN: the
#                    commands for data files too large to carry (the seeded
#                    network weights), run there; SOURCES.sha256: the tree it
#                    was built from, checked there
#
# The build lives at a fixed path, $S2S_KIT_BASE (default /tmp/s2s-gpukit):
# src/ (a copy of the working tree) and src/build-gpukit/, laid out as
# setup.sh's build/ so that ccache (CCACHE_BASEDIR=$S2S_KIT_BASE) reuses the
# objects of other builds. Paths inside the build (the tests' commands, the
# plugin's module path) name it, so the run recreates that path there with
# two links: src -> the repository, the repository's build-gpukit ->
# gpu-kit/build. Between runs the build is kept, parked at
# $S2S_KIT_BASE.parked, so the next kit rebuilds only what changed.
#
#   scripts/gpu/make-kit.sh            # prints the kit's size at the end
#
# Environment: S2S_KIT_BASE, S2S_KIT_JOBS (default nproc), S2S_KIT_MAX_FILE
# (data files larger than this many bytes are regenerated there, default
# 4 MiB).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd -P)
kit=$repo/gpu-kit
base=${S2S_KIT_BASE:-/tmp/s2s-gpukit}
park=$base.parked
jobs=${S2S_KIT_JOBS:-$(nproc)}
max_file=${S2S_KIT_MAX_FILE:-4194304}
limit=$((64 * 1048576))   # what the device tool carries: tree + kit
triplet=x86_64-linux-gnu
t0=$(date +%s)

die() { echo "make-kit: $*" >&2; exit 1; }
say() { echo "make-kit: $*"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# The tests and benchmarks the run executes (scripts/gpu/run-gpu-suite.sh).
kit_tests=(cuda-kernels cuda-memory)
kit_benchmarks=(cuda-pairs networks)
# GStreamer plugins (libgstNAME.so) they load: coreelements (fakesink,
# filesrc, queue, tee, ...), videotestsrc, videoconvertscale, app, nvcodec
# (cudaupload, cudadownload, nvh264dec), videoparsersbad (h264parse),
# isomp4 (qtdemux, mp4mux), x264 (x264enc: the cuda-memory test and the e2e
# clip encode with it; the H100/H200 have no NVENC), typefindfunctions.
plugins=(coreelements videotestsrc videoconvertscale app nvcodec videoparsersbad isomp4 x264 typefindfunctions)
# Libraries the GPU machine has and must provide itself (its own glibc and
# C++ runtime are newer; CUDA and LibTorch come from its toolkit and torch).
base_re='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s|libcuda|libcudart|libnvrtc|libnvcuvid|libtorch|libtorch_cpu|libtorch_cuda|libc10|libc10_cuda)\.so'

# --- preconditions -----------------------------------------------------------
for tool in meson ninja nvcc python3 pkg-config readelf ldconfig git strip; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh; nvcc: the CUDA toolkit on PATH)"
done
git rev-parse --git-dir >/dev/null 2>&1 || die "not a git checkout: the kit is made from one"
torch_pin=$(sed -n 's/^torch==\([0-9.]*\).*/\1/p' scripts/requirements.txt)
torch_have=$(python3 -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null) ||
  die "the torch Python package is not installed (scripts/setup.sh)"
[ "${torch_have%%+*}" = "$torch_pin" ] ||
  die "torch $torch_have here, but the GPU machine runs torch $torch_pin: LibTorch must match (scripts/setup.sh)"
python3 -c 'import lpips, numpy, skimage, cv2, importlib.util as u; assert u.find_spec("pyiqa")' 2>/dev/null ||
  die "lpips, pyiqa, numpy, scikit-image or cv2 missing here (scripts/setup.sh)"
pluginsdir=$(pkg-config --variable=pluginsdir gstreamer-1.0)
scannerdir=$(pkg-config --variable=pluginscannerdir gstreamer-1.0)
for p in "${plugins[@]}"; do
  [ -f "$pluginsdir/libgst$p.so" ] || die "GStreamer plugin $p not installed ($pluginsdir/libgst$p.so; scripts/setup.sh)"
done
[ -x "$scannerdir/gst-plugin-scanner" ] || die "no gst-plugin-scanner in $scannerdir"

# --- 1. the sources, at the fixed path -----------------------------------------
if [ -e "$base" ] || [ -L "$base" ]; then
  if [ -f "$base/.s2s-kit-links" ]; then
    rm -rf "$base"           # the run's links (run-gpu-suite.sh made them here)
    [ -L "$repo/build-gpukit" ] && rm -f "$repo/build-gpukit"
  elif [ -d "$park" ]; then
    die "both $base and $park exist: another make-kit running? Remove one."
  else
    say "reusing the build in $base (a make-kit that did not finish)"
  fi
fi
[ -d "$base" ] || { [ -d "$park" ] && mv "$park" "$base"; } || true
mkdir -p "$base/src"
# Exactly what the device tool sends: tracked files and untracked ones that
# git does not ignore. tar keeps the modification times, so ninja rebuilds
# only what changed since the last kit.
git ls-files -z --cached --others --exclude-standard | sort -z >"$base/files.list"
tar --null -T "$base/files.list" -cf - 2>/dev/null | tar -xf - -C "$base/src" ||
  die "copying the working tree to $base/src failed"
(cd "$base/src" && find . -path ./build-gpukit -prune -o -type f -printf '%P\0' | sort -z) >"$base/have.list"
comm -z -23 "$base/have.list" "$base/files.list" | (cd "$base/src" && xargs -0 -r rm -f)
say "sources: $(tr -cd '\0' <"$base/files.list" | wc -c) files in $base/src"

# --- 2. configure and build ----------------------------------------------------
opts=(-Dcuda=enabled -Dcuda-arch=90 -Dtorch=enabled -Dtests=enabled -Dbenchmarks=enabled)
bdir=$base/src/build-gpukit
if [ -f "$bdir/build.ninja" ]; then
  meson setup --reconfigure "$bdir" "$base/src" "${opts[@]}" >"$base/setup.log" 2>&1 ||
    { cat "$base/setup.log"; die "meson setup failed"; }
else
  rm -rf "$bdir"
  meson setup "$bdir" "$base/src" "${opts[@]}" >"$base/setup.log" 2>&1 ||
    { cat "$base/setup.log"; die "meson setup failed"; }
fi
sed -n '/^  gst-s2s$/,/^$/p' "$base/setup.log"
mtest() { python3 scripts/gpu/mtest.py "$@"; }
for t in "${kit_tests[@]}"; do
  [ -n "$(mtest list "$bdir" "$t")" ] || die "the build has no test $t (see $base/setup.log)"
done
for t in "${kit_benchmarks[@]}"; do
  [ -n "$(mtest list "$bdir" --benchmark "$t")" ] || die "the build has no benchmark $t (see $base/setup.log)"
done
mapfile -t targets < <({ mtest targets "$bdir" "${kit_tests[@]}"
                         mtest targets "$bdir" --benchmark "${kit_benchmarks[@]}"
                         echo gst/libgsts2s.so; echo models/libs2s-torch.so; } | awk '!seen[$0]++')
say "building ${#targets[@]} targets with $jobs jobs"
CCACHE_BASEDIR=$base ninja -C "$bdir" -j "$jobs" "${targets[@]}" || die "the build failed"

# --- 3. the kit's build folder -------------------------------------------------
rm -rf "$kit.new"
mkdir -p "$kit.new/build/meson-info"
cp "$bdir"/meson-info/intro-{tests,benchmarks,targets,buildoptions,projectinfo}.json "$kit.new/build/meson-info/"
: >"$kit.new/REGEN"
for t in "${targets[@]}"; do
  src=$bdir/$t
  [ -e "$src" ] || die "built target $t is missing"
  if [ -d "$src" ]; then continue; fi
  # Data too large to carry (the seeded weights; the golden cases, a
  # folder of frames): its command, run there (python3 there is another
  # Python: the name only).
  case $t in
    tests/reference/*) size=$(du -sb "$(dirname "$src")" | cut -f1) ;;
    *) size=$(stat -c %s "$src") ;;
  esac
  if [ "$size" -gt "$max_file" ] && ! readelf -h "$src" >/dev/null 2>&1; then
    cmd=$(ninja -C "$bdir" -t commands -s "$t" | tail -n1)
    case $cmd in *"meson --internal"*|"") die "no plain command for the large data file $t: $cmd" ;; esac
    read -r py rest <<<"$cmd"
    case $py in */python3*) cmd="python3 $rest" ;; esac
    # Run from the build folder, which is a link there: the sources by
    # their path, not ../
    cmd=$(sed "s#\(^\| \)\.\./#\1$base/src/#g" <<<"$cmd")
    printf '%s\t%s\n' "$t" "$cmd" >>"$kit.new/REGEN"
    mkdir -p "$kit.new/build/$(dirname "$t")"
    continue
  fi
  mkdir -p "$kit.new/build/$(dirname "$t")"
  cp -p "$src" "$kit.new/build/$t"
done
# Output folders of custom targets hold more than their first output
# (tests/reference: cases.json and the frames it names), where carried.
for t in "${targets[@]}"; do
  case $t in tests/reference/*)
    grep -q "^$t"$'\t' "$kit.new/REGEN" && continue
    (cd "$bdir" && find tests/reference -maxdepth 1 -type f ! -name '*.p' -printf '%p\0') |
      (cd "$bdir" && xargs -0 -r cp -p --parents -t "$kit.new/build") ;;
  esac
done
# The CUDA code must be Hopper's (sm_90) SASS, which needs no JIT there.
if command -v cuobjdump >/dev/null 2>&1; then
  cuobjdump --list-elf "$kit.new/build/tests/kernels_cuda/test_cuda_kernels" | grep -q sm_90 ||
    die "test_cuda_kernels has no sm_90 code"
fi

# --- 4. GStreamer and the library closure --------------------------------------
mkdir -p "$kit.new/gst/bin" "$kit.new/gst/plugins" "$kit.new/gst/lib" "$kit.new/gst/libexec"
cp -pL /usr/bin/gst-launch-1.0 /usr/bin/gst-inspect-1.0 "$kit.new/gst/bin/"
cp -pL "$scannerdir/gst-plugin-scanner" "$kit.new/gst/libexec/"
for p in "${plugins[@]}"; do cp -pL "$pluginsdir/libgst$p.so" "$kit.new/gst/plugins/"; done
ldcache=$(ldconfig -p)
resolve() {  # soname -> path (x86-64)
  awk -v n="$1" '$1 == n && /x86-64/ { print $NF; exit }' <<<"$ldcache"
}
declare -A seen=() from_gpu=()
queue=("$kit.new/gst/bin/"* "$kit.new/gst/libexec/"* "$kit.new/gst/plugins/"*)
while IFS= read -r -d '' f; do
  readelf -h "$f" 2>/dev/null | grep -q 'DYN\|EXEC' && queue+=("$f")
done < <(find "$kit.new/build" -type f -print0)
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}; queue=("${queue[@]:1}")
  while read -r soname; do
    [ -n "$soname" ] && [ -z "${seen[$soname]:-}" ] || continue
    seen[$soname]=1
    if [[ $soname =~ $base_re ]]; then from_gpu[$soname]=1; continue; fi
    r=$(resolve "$soname")
    [ -n "$r" ] || die "$f needs $soname, which ldconfig does not know"
    cp -pL "$r" "$kit.new/gst/lib/$soname"
    queue+=("$kit.new/gst/lib/$soname")
  done < <(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
# Debian's libraries are stripped already; ours lose their symbol tables
# only where the size needs it (sanitizer reports name functions).
say "bundled $(ls "$kit.new/gst/lib" | wc -l) libraries, ${#plugins[@]} plugins; from the GPU machine:" \
  "$(printf '%s\n' "${!from_gpu[@]}" | sort | paste -sd' ' -)"
# The newest glibc symbol version anything in the kit needs.
glibc_max=$(find "$kit.new" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
  xargs -0 -r readelf -V --wide 2>/dev/null | grep -o 'GLIBC_2\.[0-9]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
glibcxx_max=$(find "$kit.new" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
  xargs -0 -r readelf -V --wide 2>/dev/null | grep -o 'GLIBCXX_3\.4\.[0-9]*' | sed 's/GLIBCXX_//' | sort -uV | tail -n1)

# --- 5. the reference packages --------------------------------------------------
pyiqa_pin=$(grep -o 'pyiqa==[0-9.]*' scripts/setup.sh | head -n1)
lpips_pin=$(grep -o '^lpips==[0-9.]*' scripts/requirements.txt | head -n1)
[ -n "$pyiqa_pin" ] && [ -n "$lpips_pin" ] || die "cannot read the lpips/pyiqa pins (scripts/setup.sh, scripts/requirements.txt)"
wheels=${S2S_KIT_WHEELS:-$base/wheels}
mkdir -p "$wheels"
for pin in "$lpips_pin" "$pyiqa_pin"; do
  name=${pin%%==*}; ver=${pin##*==}
  ls "$wheels/$name-$ver-"*.whl >/dev/null 2>&1 ||
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.12 -d "$wheels" "$pin" || die "pip download $pin failed"
done
mkdir -p "$kit.new/site"
python3 - "$kit.new/site" "$wheels/${lpips_pin%%==*}-${lpips_pin##*==}-"*.whl \
    "$wheels/${pyiqa_pin%%==*}-${pyiqa_pin##*==}-"*.whl <<'EOF'
# Unpacked, not installed (no pip needed there). Trimmed to the package
# itself and its metadata (versions are read from it): pyiqa's wheel also
# carries sample images, docs, a build/ copy and training options (7 MiB).
import os, re, sys, zipfile
dest, wheels = sys.argv[1], sys.argv[2:]
drop = re.compile(r"(^|/)(tests?|__pycache__)/")
for w in wheels:
    name = os.path.basename(w).split("-")[0]
    with zipfile.ZipFile(w) as z:
        for n in z.namelist():
            top = n.split("/")[0]
            if (top == name or top.endswith(".dist-info")) and not drop.search(n):
                z.extract(n, dest)
EOF

# --- 6. what, where, from which tree -------------------------------------------------
(cd "$base/src" && tr '\0' '\n' <"$base/files.list" | grep -v '^docs/\|\.md$' | xargs -d '\n' sha256sum) \
  >"$kit.new/SOURCES.sha256"
{
  echo "base=$base"
  echo "commit=$(git rev-parse HEAD)$(git diff --quiet HEAD 2>/dev/null || echo '-dirty')"
  echo "made=$(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname)"
  echo "torch=$torch_have"
  echo "nvcc=$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  echo "cuda_arch=90"
  echo "gstreamer=$(pkg-config --modversion gstreamer-1.0)"
  echo "glibc_min=$glibc_max"
  echo "glibcxx_min=$glibcxx_max"
  echo "from_gpu=$(printf '%s\n' "${!from_gpu[@]}" | sort | paste -sd' ' -)"
  echo "tests=${kit_tests[*]}"
  echo "benchmarks=${kit_benchmarks[*]}"
} >"$kit.new/KIT"
rm -rf "$kit"
mv "$kit.new" "$kit"
# Park the build: the run makes $base its links, here as there.
mv "$base" "$park"

# --- 7. sizes -----------------------------------------------------------------------
kit_bytes=$(find "$kit" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null |
  awk '{ s += $1 } END { print s + 0 }')
echo
echo "kit: $kit ($(mib "$kit_bytes")), made in $(($(date +%s) - t0)) s"
for d in build gst site; do
  printf '  %-6s %s\n' "$d" "$(mib "$(find "$kit/$d" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')")"
done
echo "largest files:"
find "$kit" -type f -printf '%s %P\n' | sort -rn | awk 'NR <= 6' | awk '{ printf "  %7.2f MiB  %s\n", $1 / 1048576, $2 }'
[ -s "$kit/REGEN" ] && { echo "regenerated there (too large to carry):"; cut -f1 "$kit/REGEN" | sed 's/^/  /'; }
echo "the kit needs glibc >= $glibc_max and GLIBCXX >= $glibcxx_max on the GPU machine"
echo "working tree (tracked + untracked, not ignored): $(mib "$tree_bytes")"
echo "total carried: $(mib $((kit_bytes + tree_bytes))) of the device tool's 64 MiB"
[ $((kit_bytes + tree_bytes)) -le "$limit" ] || die "too large to carry"
echo "next: the device tool's run with carry [\"gpu-kit\"] and command scripts/gpu/run-gpu-suite.sh quick"
