#!/usr/bin/env bash
# The GPU suite and benchmarks on a bare GPU machine (docs/gpu.md): no
# GStreamer, no network, the repository copied with .debs/ and .whl/ from
# scripts/gpu/fetch-bundle.sh. Also runs here (no GPU: CUDA tests SKIP).
#
#   scripts/gpu/run-gpu-suite.sh STAGE...
#
# Stages (in the order given; each re-runs `env` quietly, so any subset works
# on a fresh machine):
#   env       unpack .debs into /tmp/s2s-sysroot (once), point pkg-config,
#             the loader and GStreamer at it, install .whl into /tmp/site;
#             print versions, the GPU, missing libraries and elements
#   build     meson setup build-gpu -Dcuda=enabled -Dtorch=enabled
#             -Dtests=enabled -Dbenchmarks=enabled; compile (keeps going)
#   kernels   meson test --suite cuda, then the CUDA kernel test directly
#             (needs only the GStreamer-free targets)
#   test      every meson test (suite gpu included), Check summaries
#   sanitize  compute-sanitizer memcheck + racecheck over the kernel test
#             (smaller frames) and over the gpu suite (slowest cases out)
#   bench     cuda-pairs and cuda-preprocess benchmarks, e2e_bench.py
#             (rows without gst-libav say so), an nvh264dec smoke timing
#   networks  LPIPS and MUSIQ on CUDA beside the lpips package and pyiqa
#             (tests/bench/bench_networks.py; 6-8 min, a call of its own)
#   all       env build kernels test sanitize bench networks (needs more
#             than the device tool's 10 minutes: prefer 3-4 calls)
#
#   scripts/gpu/run-gpu-suite.sh --exec CMD...   runs one command in that
#   environment (e.g. meson test -C build-gpu -v cuda-memory)
#
# A stage that finds no build-gpu configures it first and builds just what
# it needs. Logs: $OUT/<stage>.log (or /tmp/s2s-gpu-logs), a table at the
# end (stage, result, seconds, key figures), also in summary.txt. Keeps going
# after a failed stage; exits 1 if any failed.
#
# Environment: S2S_GPU_JOBS (parallel jobs, default nproc), S2S_GPU_BUDGET
# (seconds for the whole call, default 570: stages that would not fit are
# cut off or skipped so the table still prints), S2S_GPU_BUILD (build-gpu),
# S2S_GPU_MESON_ARGS (extra meson setup arguments), S2S_GPU_BUILD_TARGETS
# (build stage: only these ninja targets), S2S_GPU_TEST_ARGS (extra meson
# test arguments, e.g. "--no-suite fuzz"), S2S_SANITIZE_MAX_PIXELS (250000),
# S2S_MEMCHECK_GPU_IGNORE / S2S_RACECHECK_GPU_IGNORE (gpu suite cases left
# out under the sanitizer; empty: none), S2S_SYSROOT_LIBS=bundle (every
# bundled library, not the image's copies),
# S2S_E2E_SIZES (1080p), S2S_E2E_ROWS (auto), S2S_E2E_ARGS (extra options).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

self=scripts/gpu/run-gpu-suite.sh
all_stages=(env build kernels test sanitize bench networks)
build=${S2S_GPU_BUILD:-build-gpu}
sysroot=${S2S_SYSROOT:-/tmp/s2s-sysroot}
site=${S2S_SITE:-/tmp/site}
state=/tmp/s2s-gpu-state
logdir=${OUT:-/tmp/s2s-gpu-logs}
jobs=${S2S_GPU_JOBS:-$(nproc 2>/dev/null || echo 4)}
budget=${S2S_GPU_BUDGET:-570}
triplet=x86_64-linux-gnu
stage=${stage:-main}
sanitizer=""
cuda_root=""

say() { echo "[$stage] $*"; }
warn() { echo "[$stage] WARNING: $*"; }
# One key figure for the summary table.
fig() { echo "$*" >>"$state/$stage.fig"; say "figure: $*"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

usage() {
  sed -n '2,/^set -uo/p' "$self" | sed '$d; s/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------
# env: the sysroot, the environment, the wheels
# ---------------------------------------------------------------------------

# Packages whose libraries we always take from the bundle (we compile
# against their headers); for all others the image's copy wins when the
# loader already knows every soname of the package.
core_re='^(gstreamer1\.0-|libgst|libglib2\.0|liborc|libcairo|libpixman|libx264|libvorbis|libogg|libsubunit|check$|pkgconf|libpkgconf)'

unpack_deb() {  # DEB DEST
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb -x "$1" "$2"
  else
    python3 - "$1" "$2" <<'EOF'
import io, subprocess, sys, tarfile
deb, dest = sys.argv[1:]
data = open(deb, "rb").read()
if data[:8] != b"!<arch>\n":
    sys.exit(f"{deb}: not a .deb (ar) file")
pos = 8
while pos + 60 <= len(data):
    header = data[pos:pos + 60]
    name = header[:16].decode().strip().rstrip("/")
    size = int(header[48:58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if not name.startswith("data.tar"):
        continue
    if name.endswith(".zst"):
        body = subprocess.run(["zstd", "-dc"], input=body, capture_output=True, check=True).stdout
        mode = "r:"
    else:
        mode = {".xz": "r:xz", ".gz": "r:gz", ".bz2": "r:bz2"}.get(name[name.rfind("."):], "r:")
    with tarfile.open(fileobj=io.BytesIO(body), mode=mode) as t:
        if hasattr(tarfile, "tar_filter"):
            t.extractall(dest, filter="tar")
        else:
            t.extractall(dest)
    break
else:
    sys.exit(f"{deb}: no data.tar member")
EOF
  fi
}

ldcache=""
have_system_lib() {  # SONAME: does the image's loader know it?
  [ -n "$ldcache" ] || ldcache=$(ldconfig -p 2>/dev/null || true)
  if [ -n "$ldcache" ]; then
    [[ $ldcache == *$'\t'"$1 (libc6,x86-64"* ]] && return 0
  fi
  local d
  for d in /lib/$triplet /usr/lib/$triplet /lib64 /usr/lib64 /usr/lib /lib; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}

make_sysroot() {
  local stamp=$1 tmp="$sysroot.new" deb pkg n=0
  say "unpacking $(ls .debs/*.deb | wc -l) packages into $sysroot"
  rm -rf "$tmp" && mkdir -p "$tmp/.libs" "$tmp/.pkg" || return 1
  for deb in .debs/*.deb; do
    pkg=$(basename "$deb"); pkg=${pkg%%_*}
    rm -rf "$tmp/.pkg" && mkdir -p "$tmp/.pkg"
    unpack_deb "$deb" "$tmp/.pkg" || { say "cannot unpack $deb"; return 1; }
    (cd "$tmp/.pkg" && find . \( -type f -o -type l \) -name 'lib*.so*' -path "*/lib/*" | sed 's,^\./,,') \
      >"$tmp/.libs/$pkg"
    cp -a "$tmp/.pkg/." "$tmp/" || return 1
    n=$((n + 1))
  done
  rm -rf "$tmp/.pkg"
  # Merged /usr: everything under usr/, the top-level dirs as links.
  local d
  for d in lib lib64 bin sbin; do
    if [ -d "$tmp/$d" ] && [ ! -L "$tmp/$d" ]; then
      mkdir -p "$tmp/usr/$d" && cp -a "$tmp/$d/." "$tmp/usr/$d/" && rm -rf "${tmp:?}/$d" || return 1
      ln -s "usr/$d" "$tmp/$d"
    fi
  done
  # Absolute symlinks point into the sysroot.
  local l t
  while IFS= read -r -d '' l; do
    t=$(readlink "$l")
    case $t in /*) ln -sfn "$sysroot$t" "$l" ;; esac
  done < <(find "$tmp" -type l -print0)
  # .pc files: the prefix (and any absolute path) inside the sysroot, so
  # meson sees only the sysroot's headers and libraries.
  local pc
  for pc in "$tmp/usr/lib/$triplet/pkgconfig/"*.pc "$tmp"/usr/lib/pkgconfig/*.pc "$tmp"/usr/share/pkgconfig/*.pc; do
    [ -f "$pc" ] || continue
    sed -i -E -e "s#^([A-Za-z_][A-Za-z0-9_.]*)=/#\\1=$sysroot/#" \
      -e "s#(^|[[:space:]=])-([IL])/(usr|lib)#\\1-\\2$sysroot/\\3#g" "$pc"
  done
  # The loader's folder: links to the libraries we take from the bundle.
  # Two levels below usr/ like the real folder, so that libgstreamer's
  # relocation finds gst-plugin-scanner from it (../../lib/<triplet>/...).
  mkdir -p "$tmp/usr/lib/ld"
  : >"$tmp/.image-provided"
  local list sonames s provided rel name
  for list in "$tmp"/.libs/*; do
    pkg=$(basename "$list")
    provided=0
    if [ "${S2S_SYSROOT_LIBS:-auto}" != bundle ] && ! [[ $pkg =~ $core_re ]]; then
      sonames=$(sed -n 's,.*/,,; /^lib.*\.so\.[0-9]*$/p' "$list")
      if [ -n "$sonames" ]; then
        provided=1
        for s in $sonames; do have_system_lib "$s" || { provided=0; break; }; done
      fi
    fi
    if [ "$provided" = 1 ]; then
      echo "$pkg" >>"$tmp/.image-provided"
      continue
    fi
    while read -r rel; do
      case $rel in lib/*) rel=usr/$rel ;; esac
      case $(dirname "$rel") in "usr/lib/$triplet" | usr/lib) ;; *) continue ;; esac
      name=$(basename "$rel")
      case $name in *.so) continue ;; esac   # link-time names only
      ln -sfn "$sysroot/$rel" "$tmp/usr/lib/ld/$name"
    done <"$list"
  done
  # GStreamer's system path: only the plugins the bundle was made for.
  local plugin
  mkdir -p "$tmp/gst-plugins"
  if [ -f .debs/PLUGINS ]; then
    while read -r plugin; do
      [ -n "$plugin" ] || continue
      if [ -f "$tmp/usr/lib/$triplet/gstreamer-1.0/libgst$plugin.so" ]; then
        ln -sfn "$sysroot/usr/lib/$triplet/gstreamer-1.0/libgst$plugin.so" "$tmp/gst-plugins/"
      else
        say "plugin $plugin is not in the bundle"
      fi
    done <.debs/PLUGINS
  else
    ln -sfn "$sysroot/usr/lib/$triplet/gstreamer-1.0/"*.so "$tmp/gst-plugins/"
  fi
  cat >"$tmp/fonts.conf" <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>$sysroot/usr/share/fonts</dir>
  <cachedir>/tmp/s2s-fontconfig-cache</cachedir>
</fontconfig>
EOF
  rm -rf "$sysroot" && mv "$tmp" "$sysroot" && echo "$stamp" >"$sysroot/.stamp" || return 1
  rm -f /tmp/s2s-gst-registry.bin
  say "sysroot ready: $n packages, $(ls "$sysroot/gst-plugins" | wc -l) plugins," \
    "$(ls "$sysroot/usr/lib/ld" | wc -l) libraries from the bundle," \
    "$(wc -l <"$sysroot/.image-provided") packages' libraries from the image"
}

install_wheels() {
  local stamp want=()
  stamp=$(ls -l .whl/*.whl 2>/dev/null | awk '{ print $5, $NF }' | md5sum | cut -c1-32)
  [ "$(cat "$site/.stamp" 2>/dev/null)" = "$stamp" ] && return 0
  mkdir -p "$site"
  # Pinned reference packages (lpips, pyiqa) unless the image has that very
  # version; helpers (tqdm) only where the image lacks them.
  mapfile -t want < <(env -u PYTHONPATH python3 - .whl/*.whl <<'EOF'
import importlib.metadata as md, os, sys
pinned = {"lpips", "pyiqa"}
for path in sys.argv[1:]:
    name, version = os.path.basename(path).split("-")[:2]
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = None
    if have is None or (name.lower() in pinned and have != version):
        print(path)
EOF
  )
  if [ ${#want[@]} -eq 0 ]; then
    say "wheels: the image has them all"
  elif python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --upgrade \
      --target "$site" "${want[@]}" || return 1
    say "wheels installed into $site: ${want[*]}"
  else
    # No pip in this Python (a uv venv): pure-Python wheels are zip files.
    python3 -c 'import sys, zipfile
for w in sys.argv[2:]:
    zipfile.ZipFile(w).extractall(sys.argv[1])' "$site" "${want[@]}" || return 1
    say "wheels unpacked into $site (no pip): ${want[*]}"
  fi
  echo "$stamp" >"$site/.stamp"
}

find_cuda() {
  local c nvcc_path
  if ! command -v nvcc >/dev/null 2>&1; then
    for c in "${CUDA_PATH:-}" "${CUDA_HOME:-}" /usr/local/cuda $(ls -d /usr/local/cuda-* 2>/dev/null | sort -rV) /opt/cuda; do
      if [ -n "$c" ] && [ -x "$c/bin/nvcc" ]; then export PATH="$c/bin:$PATH"; break; fi
    done
  fi
  nvcc_path=$(command -v nvcc 2>/dev/null) || { cuda_root=""; return 0; }
  cuda_root=$(dirname "$(dirname "$nvcc_path")")
  # meson finds the toolkit through CUDA_PATH (and warns when CUDA_HOME differs).
  export CUDA_PATH=${CUDA_PATH:-${CUDA_HOME:-$cuda_root}}
  sanitizer=$(command -v compute-sanitizer 2>/dev/null || true)
  for c in "$cuda_root/bin/compute-sanitizer" "$cuda_root/compute-sanitizer/compute-sanitizer"; do
    [ -n "$sanitizer" ] || { [ -x "$c" ] && sanitizer=$c; }
  done
  # gst-cuda (1.22) dlopens "libnvrtc.so" for cudaconvert's kernels.
  if [ -z "${GST_CUDA_NVRTC_LIBNAME:-}" ]; then
    for c in "$cuda_root"/lib64/libnvrtc.so "$cuda_root"/targets/x86_64-linux/lib/libnvrtc.so \
             "$cuda_root"/lib64/libnvrtc.so.* "$cuda_root"/targets/x86_64-linux/lib/libnvrtc.so.*; do
      if [ -e "$c" ]; then export GST_CUDA_NVRTC_LIBNAME=$c; break; fi
    done
  fi
  # Our programs link cudart without an rpath: the toolkit's folder, after
  # everything else, where the loader does not know it already.
  if ! have_system_lib libcudart.so."$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')"; then
    for c in "$cuda_root/lib64" "$cuda_root/targets/x86_64-linux/lib"; do
      [ -d "$c" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$c" && break
    done
  fi
}

setup_env() {  # [verbose]
  local stamp
  if ! ls .debs/*.deb >/dev/null 2>&1; then
    say "no .debs/*.deb: run scripts/gpu/fetch-bundle.sh on the Debian 12 machine and carry .debs and .whl"
    return 1
  fi
  stamp=$( (ls -l .debs/*.deb | awk '{ print $5, $NF }'; cat .debs/PLUGINS 2>/dev/null
            echo "layout 3 $sysroot ${S2S_SYSROOT_LIBS:-auto}") | md5sum | cut -c1-32)
  if [ "$(cat "$sysroot/.stamp" 2>/dev/null)" != "$stamp" ]; then
    make_sysroot "$stamp" || { say "sysroot failed"; return 1; }
  elif [ "${1:-}" = verbose ]; then
    say "sysroot $sysroot already unpacked (stamp matches .debs)"
  fi
  export PATH="$sysroot/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$sysroot/usr/lib/ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG="$sysroot/usr/bin/pkgconf"
  export PKG_CONFIG_LIBDIR="$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/lib/pkgconfig:$sysroot/usr/share/pkgconfig"
  unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
  export GST_PLUGIN_SYSTEM_PATH_1_0="$sysroot/gst-plugins"
  export GST_PLUGIN_SCANNER_1_0="$sysroot/usr/lib/$triplet/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner"
  export GST_REGISTRY_1_0=/tmp/s2s-gst-registry.bin
  export FONTCONFIG_FILE="$sysroot/fonts.conf"
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  install_wheels || { say "installing the wheels failed"; return 1; }
  find_cuda
  return 0
}

# ---------------------------------------------------------------------------
# stages
# ---------------------------------------------------------------------------

elements=(fakesink filesrc queue identity videotestsrc videoconvert appsrc h264parse qtdemux mp4mux x264enc
          openh264dec decodebin matroskamux vorbisenc wavenc audiotestsrc cudaupload cudadownload cudaconvert
          nvh264dec avdec_h264)

stage_env() {
  setup_env verbose || return 1
  local rc=0 m gst_ver missing=() e f
  say "machine: $(uname -srm); $(getconf GNU_LIBC_VERSION 2>/dev/null || echo 'glibc ?'); $(nproc) CPUs"
  if [ -f .debs/GLIBC_MIN ]; then
    local need have
    need=$(head -n1 .debs/GLIBC_MIN)
    have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
    if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
      warn "glibc $have is older than $need, which the bundle needs for:"; sed -n '2,$p' .debs/GLIBC_MIN
    fi
  fi
  say "bundle libraries the image provides (its copy is used): $(tr '\n' ' ' <"$sysroot/.image-provided")"
  echo "--- tools"
  command -v python3 meson ninja nvcc pkg-config gst-launch-1.0 "${sanitizer:-compute-sanitizer}" ncu nvidia-smi 2>&1
  python3 --version
  echo "meson $(meson --version 2>&1), ninja $(ninja --version 2>&1)"
  if [ -n "$cuda_root" ]; then nvcc --version | tail -n2; else warn "no nvcc (CUDA toolkit) found"; fi
  echo "CUDA_PATH=${CUDA_PATH:-} GST_CUDA_NVRTC_LIBNAME=${GST_CUDA_NVRTC_LIBNAME:-unset} compute-sanitizer=${sanitizer:-none}"
  python3 - <<'EOF' || warn "torch/reference packages not importable"
import importlib.metadata as md, importlib.util as u
for name in ("torch", "torchvision", "numpy", "scipy", "scikit-image", "opencv-python-headless",
             "huggingface_hub", "tqdm", "lpips", "pyiqa"):
    try:
        v = md.version(name)
    except md.PackageNotFoundError:
        v = "MISSING"
    print(f"  {name} {v}")
import torch
print(f"  torch.cuda.is_available(): {torch.cuda.is_available()}"
      + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
import lpips, tqdm  # noqa: F401  (tests/lpips)
assert u.find_spec("pyiqa"), "pyiqa"
print("  lpips, tqdm import; pyiqa found")
EOF
  echo "--- GPU"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L || warn "nvidia-smi -L failed"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
    fig "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1 || echo '?')"
  else
    say "no nvidia-smi: no GPU here"
    fig "GPU: none"
  fi
  echo "--- pkg-config ($PKG_CONFIG, PKG_CONFIG_LIBDIR=$PKG_CONFIG_LIBDIR)"
  for m in gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0 gstreamer-check-1.0 gstreamer-cuda-1.0 \
           gstreamer-pbutils-1.0 glib-2.0 gio-2.0 check cairo; do
    printf '  %-24s %s\n' "$m" "$("$PKG_CONFIG" --modversion "$m" 2>&1)" || rc=1
    "$PKG_CONFIG" --exists "$m" || { warn "pkg-config cannot find $m"; rc=1; }
  done
  echo "  cflags gstreamer-1.0: $("$PKG_CONFIG" --cflags gstreamer-1.0)"
  echo "  libs gstreamer-1.0:   $("$PKG_CONFIG" --libs gstreamer-1.0)"
  echo "  pluginsdir:           $("$PKG_CONFIG" --variable=pluginsdir gstreamer-1.0)"
  echo "--- GStreamer"
  command -v gst-launch-1.0
  gst_ver=$(gst-launch-1.0 --version 2>&1 | sed -n 's/^GStreamer //p')
  [ -n "$gst_ver" ] || { warn "gst-launch-1.0 does not run"; gst-launch-1.0 --version; rc=1; }
  # Libraries nothing provides (neither the bundle nor the image).
  local notfound
  notfound=$(for f in "$sysroot"/usr/bin/gst-* "$GST_PLUGIN_SCANNER_1_0" "$GST_PLUGIN_SYSTEM_PATH_1_0"/*.so \
               "$sysroot/usr/lib/$triplet/"libgst*.so.0; do
               ldd "$f" 2>/dev/null | sed -n "s|^\s*\(\S*\) => not found|\1 (for $(basename "$f"))|p"
             done | sort -u)
  if [ -n "$notfound" ]; then warn "libraries not found:"; echo "$notfound"; rc=1; fi
  for e in "${elements[@]}"; do
    if gst-inspect-1.0 --exists "$e" 2>/dev/null; then printf '  %-14s yes\n' "$e"
    else printf '  %-14s MISSING\n' "$e"; missing+=("$e"); fi
  done
  if [ -n "$gst_ver" ] && ! gst-inspect-1.0 --exists fakesink; then warn "coreelements does not load"; rc=1; fi
  local cuda_smoke="no cudaupload"
  if gst-inspect-1.0 --exists cudaupload 2>/dev/null; then
    if gst-launch-1.0 -q videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=320,height=240 \
         ! cudaupload ! cudadownload ! fakesink >/dev/null 2>&1; then cuda_smoke="cudaupload/download ok"
    else cuda_smoke="cudaupload/download FAILED"; fi
    if gst-launch-1.0 -q videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=320,height=240 \
         ! cudaupload ! cudaconvert ! 'video/x-raw(memory:CUDAMemory),format=I420' ! cudadownload ! fakesink \
         >/dev/null 2>&1; then cuda_smoke+=", cudaconvert ok"
    else cuda_smoke+=", cudaconvert FAILED (NVRTC?)"; fi
  fi
  say "CUDA elements: $cuda_smoke"
  if [ -f "$build/gst/libgsts2s.so" ]; then
    echo "--- our plugin ($build/gst)"
    GST_PLUGIN_PATH="$build/gst" gst-inspect-1.0 s2s 2>&1 | sed -n '1,/^$/p;/s2smetrics\|musiqscore/p' | head -n 30
  fi
  fig "GStreamer ${gst_ver:-?} from $sysroot; missing elements: ${missing[*]:-none}; $cuda_smoke"
  fig "nvcc $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' || echo none); $(python3 -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "no cuda")' 2>/dev/null || echo 'torch ?')"
  return "$rc"
}

meson_setup() {
  local opts=(-Dcuda=enabled -Dtorch=enabled -Dtests=enabled -Dbenchmarks=enabled)
  # shellcheck disable=SC2206
  opts+=(${S2S_GPU_MESON_ARGS:-})
  if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "${opts[@]}"
  else
    meson setup "$build" "${opts[@]}"
  fi
}

need_build() {  # configure build-gpu if a fresh machine lost it
  [ -f "$build/build.ninja" ] && return 0
  say "$build is not configured (a fresh machine?): configuring it first"
  meson_setup
}

build_targets() {  # ninja outputs...
  [ $# -gt 0 ] || return 0
  say "building: $*"
  ninja -C "$build" -j "$jobs" "$@"
}

stage_build() {
  setup_env || return 1
  local rc=0 out
  out=$(meson_setup 2>&1); rc=$?
  echo "$out"
  [ "$rc" = 0 ] || { fig "meson setup failed"; return 1; }
  echo "--- configuration summary"
  echo "$out" | sed -n '/^gst-s2s /,$p'
  echo "$out" | grep -E "^(Run-time dependency|Found pkg-config|Found CMake|Program|Cuda compiler|Dependency)" || true
  echo "--- where meson found GStreamer, GLib, Check, cairo (must be $sysroot)"
  python3 - "$build" "$sysroot" <<'EOF'
import json, os, sys
build, sysroot = sys.argv[1:]
deps = json.load(open(os.path.join(build, "meson-info", "intro-dependencies.json")))
bad = 0
for d in deps:
    if not (d["name"].startswith(("gstreamer", "glib", "gio", "gobject", "check", "cairo"))):
        continue
    paths = [a for a in d.get("compile_args", []) + d.get("link_args", []) if a.startswith(("-I", "-L", "/"))]
    outside = [p for p in paths if not p.lstrip("-IL").startswith(sysroot)]
    bad += bool(outside)
    print(f"  {d['name']} {d.get('version', '?')}: {' '.join(paths[:3])}{' ...' if len(paths) > 3 else ''}"
          + (f"  OUTSIDE THE SYSROOT: {outside}" if outside else ""))
sys.exit(1 if bad else 0)
EOF
  [ $? = 0 ] || { warn "some GStreamer/GLib paths are outside $sysroot"; rc=1; }
  local summary
  # The project's summary section: "    CUDA kernels          : YES".
  summary=$(echo "$out" | awk -F': ' '
    /^  gst-s2s$/ { on = 1; next }
    on && !/^    / { exit }
    on { k = $1; gsub(/^ +| +$/, "", k); v = $2; if (v ~ /^\//) v = "yes"; printf "%s%s %s", sep, k, v; sep = ", " }')
  # shellcheck disable=SC2086
  say "compiling with $jobs jobs${S2S_GPU_BUILD_TARGETS:+: $S2S_GPU_BUILD_TARGETS}"
  # shellcheck disable=SC2086
  ninja -C "$build" -j "$jobs" -k 0 ${S2S_GPU_BUILD_TARGETS:-} || rc=1
  fig "${summary:-no summary}"
  if [ "$rc" = 0 ]; then fig "compiled"; else fig "compile FAILED (see build.log)"; fi
  return "$rc"
}

check_lines() {  # Check's per-suite summaries in a log
  grep -E "^[0-9]+%: Checks: [0-9]+" "$@" | sed 's/^/  /' || true
}

stage_kernels() {
  setup_env || return 1
  need_build || return 1
  local targets rc=0 direct out
  mapfile -t targets < <(python3 scripts/gpu/mtest.py targets "$build" --suite cuda)
  if [ ${#targets[@]} -eq 0 ]; then
    fig "no tests in suite cuda: the build found no CUDA toolkit (see build.log)"
    return 1
  fi
  build_targets "${targets[@]}" || { fig "building the cuda suite FAILED"; return 1; }
  say "meson test --suite cuda"
  meson test -C "$build" --no-rebuild --suite cuda -v --num-processes "$jobs" || rc=1
  fig "meson suite cuda: $(test_results "$build/meson-logs/testlog.json")"
  say "the CUDA kernel test directly (without meson)"
  out=$(mktemp)
  python3 scripts/gpu/mtest.py run "$build" cuda-kernels 2>&1 | tee "$out"
  direct=${PIPESTATUS[0]}
  check_lines "$out"
  local checks
  checks=$(grep -E "^[0-9]+%: Checks:" "$out" | sed 's/^[0-9]*%: //; s/, Errors: 0$//' | paste -sd';' - | sed 's/;/; /g')
  case $direct in
    0) fig "direct run on $(sed -n 's/^device [0-9]*: //p' "$out" | head -n1): ok ($checks)" ;;
    77) fig "direct run: SKIP ($(sed -n 's/^SKIP: no CUDA device (\([^;]*\)).*/\1/p' "$out" | head -n1 | cut -c1-70)); CPU part: $checks" ;;
    *) fig "direct run FAILED (exit $direct; $checks)"; rc=1 ;;
  esac
  rm -f "$out"
  [ "$rc" = 0 ] && [ "$direct" = 77 ] && return 77
  return "$rc"
}

test_results() {  # testlog.json -> "name RESULT, ..."
  python3 - "$1" <<'EOF'
import json, sys
# meson names them "project:suite / name"
print(", ".join(f"{t['name'].split(' / ')[-1]} {t['result']}" for t in map(json.loads, open(sys.argv[1], encoding="utf-8"))))
EOF
}

test_counts() {  # meson's testlog.json -> "Ok N, Fail N, Skip N, ..."
  python3 - "$1" <<'EOF'
import collections, json, sys
counts = collections.Counter()
for line in open(sys.argv[1], encoding="utf-8"):
    counts[json.loads(line)["result"]] += 1
print(", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())) or "no tests")
EOF
}

stage_test() {
  setup_env || return 1
  need_build || return 1
  local rc=0 log="$build/meson-logs/testlog.json" gpu_tests
  say "building everything that builds (ninja -k 0)"
  ninja -C "$build" -j "$jobs" -k 0 || { warn "some targets failed to build; their tests will fail"; rc=1; }
  mapfile -t gpu_tests < <(python3 scripts/gpu/mtest.py list "$build" --suite gpu)
  say "suite gpu: ${gpu_tests[*]:-no tests in this build (tests/check/elements/s2s_cuda_memory.c not there yet?)}"
  # shellcheck disable=SC2086
  meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "$jobs" ${S2S_GPU_TEST_ARGS:-} || rc=1
  echo "--- Check summaries (scripts/test_summary.py)"
  python3 scripts/test_summary.py "$log" | tee "$state/test-summary.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  fig "meson: $(test_counts "$log"); Check: $(tail -n1 "$state/test-summary.txt")"
  if [ ${#gpu_tests[@]} -gt 0 ]; then
    fig "suite gpu: $(python3 - "$log" "${gpu_tests[@]}" <<'EOF'
import json, sys
want = set(sys.argv[2:])
print(", ".join(f"{t['name'].split(' / ')[-1]} {t['result']}" for t in map(json.loads, open(sys.argv[1]))
                if t["name"].split(" / ")[-1] in want) or "not run")
EOF
)"
  else
    fig "suite gpu: no tests yet"
  fi
  if ! gst-inspect-1.0 --exists avdec_h264 2>/dev/null && python3 - "$log" <<'EOF'
import json, sys
sys.exit(0 if any(t["name"].split(" / ")[-1] == "s2s-analyze" and t["result"] != "OK"
                  for t in map(json.loads, open(sys.argv[1]))) else 1)
EOF
  then
    fig "s2s-analyze: its progress case pipes through avdec_h264 (gst-libav, not in the bundle): that failure is expected"
  fi
  return "$rc"
}

stage_sanitize() {
  setup_env || return 1
  if [ -z "${sanitizer:-}" ]; then
    say "no compute-sanitizer (CUDA toolkit) here"
    fig "skipped: no compute-sanitizer"
    return 77
  fi
  need_build || return 1
  local rc=0 targets gpu_tests maxpix=${S2S_SANITIZE_MAX_PIXELS:-250000} out t ran=0
  mapfile -t targets < <(python3 scripts/gpu/mtest.py targets "$build" cuda-kernels;
                         python3 scripts/gpu/mtest.py targets "$build" --suite gpu)
  build_targets "${targets[@]}" || { fig "building FAILED"; return 1; }
  mapfile -t gpu_tests < <(python3 scripts/gpu/mtest.py list "$build" --suite gpu)
  "$sanitizer" --version | tail -n1
  out=$(mktemp)
  for t in memcheck racecheck; do
    local extra=()
    [ "$t" = memcheck ] && extra=(--leak-check full)
    say "$t over cuda-kernels (S2S_CUDA_TEST_MAX_PIXELS=$maxpix)"
    S2S_CUDA_TEST_MAX_PIXELS=$maxpix meson test -C "$build" --no-rebuild -v --timeout-multiplier 4 \
      --wrapper "$sanitizer --tool $t ${extra[*]} --error-exitcode 99 --print-limit 50" cuda-kernels 2>&1 |
      tee "$out"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    ran_tests "$out" && ran=1
    fig "$t cuda-kernels: $(grep -E '(ERROR|RACECHECK) SUMMARY' "$out" | tail -n1 | sed 's/^=* *//')$(grep -q 'SKIP' "$out" && echo ' (SKIP: no GPU)')"
  done
  # The gpu suite (GStreamer + nvcodec + LibTorch) under both tools; the
  # slowest cases are left out by default (gstcheck's GST_CHECKS_IGNORE).
  if [ ${#gpu_tests[@]} -gt 0 ]; then
    local ignore
    for t in memcheck racecheck; do
      if [ "$t" = memcheck ]; then ignore=${S2S_MEMCHECK_GPU_IGNORE-test_start_stop_cycles}
      else ignore=${S2S_RACECHECK_GPU_IGNORE-test_start_stop_cycles,test_networks_cuda_equal_cpu}; fi
      say "$t over suite gpu: ${gpu_tests[*]} (GST_CHECKS_IGNORE=$ignore)"
      GST_CHECKS_IGNORE=$ignore meson test -C "$build" --no-rebuild -v --suite gpu --timeout-multiplier 4 \
        --wrapper "$sanitizer --tool $t --error-exitcode 99 --print-limit 50" 2>&1 | tee "$out"
      [ "${PIPESTATUS[0]}" = 0 ] || rc=1
      ran_tests "$out" && ran=1
      fig "$t suite gpu: $(grep -E '(ERROR|RACECHECK) SUMMARY' "$out" | sed 's/^=* *//' | sort -u |
        paste -sd';' -)$(grep -qw 'SKIP' "$out" && echo ' (SKIP)')"
    done
  else
    fig "suite gpu: no tests yet, not sanitized"
  fi
  rm -f "$out"
  [ "$rc" = 0 ] && [ "$ran" = 0 ] && return 77   # everything skipped: no GPU
  return "$rc"
}

ran_tests() {  # did meson's output show a test that ran (not SKIP)?
  grep -Eq '^ *[0-9]+/[0-9]+ .* (OK|FAIL|TIMEOUT|ERROR|EXPECTEDFAIL|UNEXPECTEDPASS) ' "$1"
}

stage_bench() {
  setup_env || return 1
  need_build || return 1
  local rc=0 targets out rows sizes
  mapfile -t targets < <(python3 scripts/gpu/mtest.py targets "$build" --benchmark cuda-pairs)
  local pre_targets
  mapfile -t pre_targets < <(python3 scripts/gpu/mtest.py targets "$build" --benchmark cuda-preprocess)
  build_targets "${targets[@]}" "${pre_targets[@]}" gst/libgsts2s.so models/libs2s-torch.so || { fig "building FAILED"; return 1; }
  out=$(mktemp)
  if [ ${#targets[@]} -gt 0 ]; then
    say "meson test --benchmark cuda-pairs"
    meson test -C "$build" --no-rebuild --benchmark -v cuda-pairs 2>&1 | tee "$out"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    if grep -q "SKIP" "$out"; then fig "cuda-pairs: SKIP (no GPU)"
    else
      fig "cuda-pairs (pairs/s, NV12, device memory): $(awk '$1 == "cuda" && $2 == "device" { printf "%s%s b%s %s", sep, $3, $4, $5; sep = ", " }' "$out")"
      fig "cuda-pairs host b16 / CPU: $(awk '$2 == "host" { printf "%s%s %s %s", sep, $1 ($1 == "cpu" ? " " $2 : ""), $4 == "x" ? "" : $3, $(NF-4); sep = ", " }' "$out")"
    fi
  else
    fig "no cuda-pairs benchmark in this build"
  fi
  # scikit-image and our CPU engine on this machine's cores, beside the GPU
  # figures of the same call (issue 3's comparison; ~1.5 min).
  local cpu_targets
  mapfile -t cpu_targets < <(python3 scripts/gpu/mtest.py targets "$build" --benchmark cpu-pairs)
  if [ ${#cpu_targets[@]} -gt 0 ] && build_targets "${cpu_targets[@]}"; then
    say "meson test --benchmark cpu-pairs"
    meson test -C "$build" --no-rebuild --benchmark -v cpu-pairs 2>&1 | tee "$out"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    fig "cpu-pairs (ours on the CPU vs scikit-image): see bench.log"
  fi
  if [ ${#pre_targets[@]} -gt 0 ]; then
    say "meson test --benchmark cuda-preprocess"
    meson test -C "$build" --no-rebuild --benchmark -v cuda-preprocess 2>&1 | tee "$out"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    if grep -q "SKIP" "$out"; then fig "cuda-preprocess: SKIP (no GPU)"
    else fig "cuda-preprocess: see bench.log"; fi
  fi
  # e2e: rows that need gst-libav (avdec_h264, not in the bundle) say so;
  # the nvh264dec rows run.
  sizes=${S2S_E2E_SIZES:-1080p}
  rows=${S2S_E2E_ROWS:-a,b,d}
  say "e2e_bench.py --sizes $sizes --rows $rows ${S2S_E2E_ARGS:-}"
  # shellcheck disable=SC2086
  python3 tests/bench/e2e_bench.py --build "$build" --markdown --sizes "$sizes" --rows "$rows" ${S2S_E2E_ARGS:-} \
    2>&1 | tee "$out"
  if [ "${PIPESTATUS[0]}" = 0 ]; then
    fig "e2e ($sizes, rows $rows): $(grep -c '^| [0-9]*p |' "$out") rows, $(grep -c 'not run:' "$out") not run"
    fig "e2e: $(awk -F' \\| ' '/^\| [0-9]+p \|/ && $5 !~ /not run|failed/ { printf "%s%s %s %s f/s", sep, $1, $2, $5; sep = "; " }' "$out" | sed 's/^| //')"
  else
    fig "e2e FAILED"; rc=1
  fi
  # nvh264dec smoke timing (one run each; the e2e table is the reference).
  if gst-inspect-1.0 --exists nvh264dec 2>/dev/null; then
    local clip
    clip=$(ls -S "$build"/e2e-clips/e2e-1080p-*.mp4 2>/dev/null | head -n1)
    if [ -z "$clip" ]; then
      clip=/tmp/s2s-nvdec-1080p.mp4
      [ -f "$clip" ] || gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=zone-plate kx2=20 ky2=20 kt=1 \
        ! video/x-raw,width=1920,height=1080,framerate=30/1,format=I420 ! x264enc speed-preset=veryfast \
        ! mp4mux ! filesink location="$clip"
    fi
    local frames p secs line=""
    frames=$(basename "$clip" .mp4); frames=${frames##*-}
    [[ $frames =~ ^[0-9]+$ ]] || frames=300
    local tail_args
    for p in "fakesink sync=false" "s2smetrics metrics=mse+inv-ssim device=auto ! fakesink sync=false" \
             "video/x-raw(memory:CUDAMemory) ! s2smetrics metrics=mse+inv-ssim device=cuda ! fakesink sync=false"; do
      read -r -a tail_args <<<"$p"
      secs=$(GST_PLUGIN_PATH="$build/gst" gst-launch-1.0 filesrc location="$clip" ! qtdemux ! h264parse \
        ! nvh264dec ! "${tail_args[@]}" 2>&1 |
        sed -n 's/.*Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\).*/\1 \2 \3/p' |
        awk '{ print $1 * 3600 + $2 * 60 + $3 }')
      [ -n "$secs" ] && secs=$(awk -v n="$frames" -v s="$secs" 'BEGIN { printf "%.0f frames/s", n / s }')
      say "nvh264dec ! $p: ${secs:-failed}"
      line+="${line:+; }${p%% *}: ${secs:-failed}"
    done
    fig "nvdec smoke, 1 run each, $frames frames of $(basename "$clip"): $line"
  else
    fig "no nvh264dec: nvdec smoke not run"
  fi
  rm -f "$out"
  return "$rc"
}

stage_networks() {
  setup_env || return 1
  need_build || return 1
  local rc targets
  mapfile -t targets < <(python3 scripts/gpu/mtest.py targets "$build" --benchmark networks)
  [ ${#targets[@]} -gt 0 ] || { fig "no networks benchmark in this build (LibTorch?)"; return 1; }
  build_targets "${targets[@]}" || { fig "building bench_networks FAILED"; return 1; }
  say "bench_networks.py ${S2S_NETWORKS_ARGS:-}"
  # shellcheck disable=SC2086
  python3 tests/bench/bench_networks.py --build "$build" --json "$logdir/networks.json" \
    ${S2S_NETWORKS_ARGS:-} 2>&1
  rc=$?
  case $rc in
    0) fig "networks: table in networks.log, numbers in networks.json" ;;
    77) fig "networks: SKIP (no GPU)" ;;
    *) fig "networks FAILED (exit $rc)" ;;
  esac
  return "$rc"
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

if [ "${1:-}" = --exec ]; then   # a command in the stages' environment
  shift
  stage=exec
  setup_env >&2 || exit 1
  exec "$@"
fi
if [ "${1:-}" = --stage ]; then
  stage=$2
  mkdir -p "$state"
  "stage_$stage"
  exit $?
fi

stages=()
for a in "$@"; do
  case $a in
    -h | --help) usage; exit 0 ;;
    all)
      echo "[main] all = ${all_stages[*]}: may need more than 10 minutes on a fresh machine;" \
        "the usual calls are 'env build kernels test' then 'env sanitize bench'"
      stages+=("${all_stages[@]}") ;;
    env | build | kernels | test | sanitize | bench | networks) stages+=("$a") ;;
    *) echo "unknown stage '$a'" >&2; usage >&2; exit 2 ;;
  esac
done
[ ${#stages[@]} -gt 0 ] || { usage; exit 2; }
# Each stage once, in the order given.
declare -A seen=()
ordered=()
for s in "${stages[@]}"; do [ -n "${seen[$s]:-}" ] || { seen[$s]=1; ordered+=("$s"); }; done

mkdir -p "$logdir" "$state" || exit 1
rm -f "$state"/*.fig
t0=$(date +%s)
results=()
any_failed=0
for s in "${ordered[@]}"; do
  left=$((budget - ($(date +%s) - t0)))
  if [ "$left" -lt 30 ]; then
    results+=("$s|skipped|0|no time left in S2S_GPU_BUDGET=$budget s: run it in another call")
    continue
  fi
  echo "[main] ===== stage $s (at most $((left - 10)) s) ====="
  t1=$(date +%s)
  stage=$s timeout -k 5 $((left - 10)) bash "$self" --stage "$s" 2>&1 | tee "$logdir/$s.log"
  rc=${PIPESTATUS[0]}
  secs=$(($(date +%s) - t1))
  case $rc in
    0) result=ok ;;
    77) result=skipped ;;
    124 | 137) result=failed; echo "cut off at the time budget" >>"$state/$s.fig" ;;
    *) result=failed ;;
  esac
  [ "$result" = failed ] && any_failed=1
  figs=$(paste -sd'|' "$state/$s.fig" 2>/dev/null | sed 's/|/; /g')
  results+=("$s|$result|$secs|${figs:-}")
  # The device tool takes files up to 16 MiB: keep head and tail.
  if [ "$(stat -c %s "$logdir/$s.log")" -gt $((15 * 1048576)) ]; then
    { head -c $((4 * 1048576)) "$logdir/$s.log"; printf '\n... (cut) ...\n'; tail -c $((10 * 1048576)) "$logdir/$s.log"; } \
      >"$logdir/$s.log.cut" && mv "$logdir/$s.log.cut" "$logdir/$s.log"
  fi
done

{
  echo
  echo "gst-s2s GPU suite, $(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), total $(($(date +%s) - t0)) s; logs in $logdir"
  printf '%-9s %-8s %7s  %s\n' stage result seconds "key figures"
  for r in "${results[@]}"; do
    IFS='|' read -r s result secs figs <<<"$r"
    printf '%-9s %-8s %7s  %s\n' "$s" "$result" "$secs" "$figs"
  done
} | tee "$logdir/summary.txt"
exit $any_failed
