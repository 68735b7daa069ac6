#!/usr/bin/env bash
# Prepares what a bare GPU machine (no GStreamer, no network) needs to build
# and test gst-s2s: run HERE, on the Debian 12 development machine, after
# scripts/setup.sh. Fills (both git-ignored, both carried to the device tool):
#
#   .debs/  the Debian 12 .deb files: GStreamer 1.22 (libraries, tools,
#           gst-plugin-scanner, the plugins the GPU tests and benchmarks
#           load), the -dev packages with every .pc file in the
#           Requires/Requires.private closure of the modules meson.build
#           asks for, Check, pkgconf, and the shared-library closure
#           (readelf NEEDED) of exactly the files we load, mapped to their
#           packages with dpkg -S. Base packages the GPU image has (libc6,
#           libgcc-s1, libstdc++6) are left out.
#   .whl/   pure-Python wheels for python 3.12 that the GPU image lacks:
#           lpips and pyiqa at the versions scripts/setup.sh and
#           scripts/requirements.txt pin, and tqdm (lpips imports it).
#
# The exact installed versions are downloaded (apt-get download PKG=VER);
# where the archive no longer has that version, the candidate version, with
# a warning. Idempotent: files already there are kept, stale ones removed.
# Writes .debs/MANIFEST (package, version, size, why) and prints the sizes.
# scripts/gpu/run-gpu-suite.sh unpacks all this on the GPU machine
# (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

debs=.debs
whl=.whl
arch_triplet=x86_64-linux-gnu

# GStreamer plugins (libgstNAME.so) the GPU tests, the s2s-analyze test and
# the benchmarks load:
#   coreelements (fakesink, filesrc, queue, identity, tee, ...), coretracers
#   (the reliability suite's leaks tracer), videotestsrc, videoconvertscale
#   (videoconvert), app (appsrc/appsink), nvcodec (cudaupload, cudadownload,
#   cudaconvert, nvh264dec), videoparsersbad (h264parse), isomp4 (qtdemux,
#   mp4mux), x264 (x264enc: the H100 has no NVENC); for tests/tools
#   (s2s-analyze): playback (decodebin), typefindfunctions, matroska,
#   audiotestsrc, audioconvert, vorbis (vorbisenc), wavenc; openh264
#   (openh264dec: a software H.264 decoder for decodebin, 0.4 MiB).
# Not gst-libav (avdec_h264): its library closure is ~77 MiB (libavcodec,
# libavfilter, codec2, ICU, ...), more than the device tool carries.
plugins=(coreelements coretracers videotestsrc videoconvertscale app nvcodec videoparsersbad isomp4 x264
         playback typefindfunctions matroska audiotestsrc audioconvert vorbis wavenc openh264)

# pkg-config modules meson.build and its subdirectories ask for.
pc_modules=(gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0 gstreamer-check-1.0 gstreamer-cuda-1.0
            gstreamer-pbutils-1.0 check glib-2.0 gobject-2.0 gio-2.0 gmodule-2.0 cairo)

# Always in the bundle: tools, -dev packages, pkg-config (the image may lack
# it) and the font s2s-analyze's plot asks for.
always=(gstreamer1.0-tools pkgconf pkgconf-bin libpkgconf3 check
        libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
        libglib2.0-dev libcairo2-dev fonts-dejavu-core)

# The image has these (torch and every C++ program need them); Debian 12's
# would be older or clash.
exclude=(libc6 libc6-dev libgcc-s1 libstdc++6 libcrypt1 linux-libc-dev libc-dev-bin)

die() { echo "fetch-bundle: $*" >&2; exit 1; }
say() { echo "fetch-bundle: $*"; }

# --- preconditions ---------------------------------------------------------
. /etc/os-release 2>/dev/null || true
[ "${VERSION_CODENAME:-}" = bookworm ] ||
  echo "fetch-bundle: warning: this is ${PRETTY_NAME:-not Debian 12}; the bundle is meant to be Debian 12's" >&2
for tool in apt-get apt-cache dpkg dpkg-query readelf pkg-config python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
missing=()
for p in "${always[@]}" gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
         gstreamer1.0-plugins-ugly; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $st == *"ok installed"* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || die "not installed here: ${missing[*]} (run scripts/setup.sh first)"

pluginsdir=$(pkg-config --variable=pluginsdir gstreamer-1.0)
scannerdir=$(pkg-config --variable=pluginscannerdir gstreamer-1.0)
libdir=$(pkg-config --variable=libdir gstreamer-1.0)
[ -x "$scannerdir/gst-plugin-scanner" ] || die "no gst-plugin-scanner in $scannerdir"

# --- which package owns a file (merged /usr: dpkg may know it as /lib/...) ---
owner() {
  local f=$1 cand out
  for cand in "$f" "$(readlink -f "$f")" "${f#/usr}" "$(readlink -f "$f" | sed 's,^/usr,,')"; do
    [ -n "$cand" ] || continue
    out=$(dpkg -S "$cand" 2>/dev/null | head -n1 | cut -d: -f1 | cut -d, -f1) || true
    if [ -n "$out" ]; then echo "$out"; return 0; fi
  done
  return 1
}

declare -A why=()    # package -> reason (first one found)
add_pkg() { [ -n "${why[$1]:-}" ] || why[$1]=$2; }

for p in "${always[@]}"; do add_pkg "$p" "tools/dev"; done

# --- 1. the .pc closure (Requires and Requires.private) ---------------------
declare -A pc_seen=()
queue=("${pc_modules[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  m=${queue[0]}; queue=("${queue[@]:1}")
  [ -z "${pc_seen[$m]:-}" ] || continue
  pc_seen[$m]=1
  pc_file="$(pkg-config --variable=pcfiledir "$m")/$m.pc"
  [ -f "$pc_file" ] || die "pkg-config module $m: no .pc file"
  pkg=$(owner "$pc_file") || die "no package owns $pc_file"
  add_pkg "$pkg" "pc:$m"
  while read -r r _; do
    [ -n "$r" ] && queue+=("$r")
  done < <(pkg-config --print-requires --print-requires-private "$m")
done
say "${#pc_seen[@]} pkg-config modules in the closure"

# --- 2. the shared-library closure of what we load -------------------------
roots=(/usr/bin/gst-launch-1.0 /usr/bin/gst-inspect-1.0 "$scannerdir/gst-plugin-scanner" /usr/bin/pkgconf)
for p in "${plugins[@]}"; do
  [ -f "$pluginsdir/libgst$p.so" ] || die "plugin $p not installed ($pluginsdir/libgst$p.so)"
  roots+=("$pluginsdir/libgst$p.so")
done
# What our binaries link: every -l of the modules (the -dev .so links point
# at these libraries).
for l in $(pkg-config --libs-only-l "${pc_modules[@]}"); do
  name=${l#-l}
  f=$(readlink -f "$libdir/lib$name.so" 2>/dev/null || true)
  [ -n "$f" ] && [ -f "$f" ] || f=$(readlink -f "/usr/lib/$arch_triplet/lib$name.so" 2>/dev/null || true)
  if [ -n "$f" ] && [ -f "$f" ] && [[ $(readelf -h "$f" 2>/dev/null) == *"DYN ("* ]]; then
    roots+=("$f")
  fi
done

ldcache=$(ldconfig -p)
resolve() {  # soname -> path (x86-64)
  awk -v n="$1" '$1 == n && /x86-64/ { print $NF; exit }' <<<"$ldcache"
}
declare -A elf_seen=()
queue=("${roots[@]}")
files=()
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}; queue=("${queue[@]:1}")
  [ -z "${elf_seen[$f]:-}" ] || continue
  elf_seen[$f]=1
  files+=("$f")
  while read -r soname; do
    [ -n "$soname" ] || continue
    r=$(resolve "$soname")
    [ -n "$r" ] || die "$f needs $soname, which ldconfig does not know"
    queue+=("$r")
  done < <(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
declare -A file_pkg=()
for f in "${files[@]}"; do
  pkg=$(owner "$f") || die "no package owns $f"
  file_pkg[$f]=$pkg
  add_pkg "$pkg" "so:$(basename "$f")"
done
say "${#files[@]} ELF files in the closure"

for p in "${exclude[@]}"; do unset "why[$p]"; done

# --- 3. download --------------------------------------------------------------
mkdir -p "$debs"
manifest=$debs/MANIFEST.new
: >"$manifest"
declare -A keep=()
fallbacks=()
for pkg in $(printf '%s\n' "${!why[@]}" | sort); do
  ver=$(dpkg-query -W -f='${Version}' "$pkg:amd64" 2>/dev/null || dpkg-query -W -f='${Version}' "$pkg")
  arch=$(dpkg-query -W -f='${Architecture}' "$pkg:amd64" 2>/dev/null || dpkg-query -W -f='${Architecture}' "$pkg")
  file="${pkg}_${ver//:/%3a}_${arch}.deb"
  if [ ! -s "$debs/$file" ]; then
    if ! (cd "$debs" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1); then
      # The archive moved on (a point release): take the candidate version.
      cand=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
      [ -n "$cand" ] && [ "$cand" != "(none)" ] || die "cannot download $pkg $ver and no candidate"
      ver=$cand
      file="${pkg}_${ver//:/%3a}_${arch}.deb"
      if [ ! -s "$debs/$file" ]; then
        (cd "$debs" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1) || die "apt-get download $pkg=$ver failed"
      fi
      fallbacks+=("$pkg $ver")
    fi
  fi
  [ -s "$debs/$file" ] || die "expected $debs/$file after apt-get download"
  keep[$file]=1
  printf '%s\t%s\t%s\t%s\n' "$pkg" "$ver" "$(stat -c %s "$debs/$file")" "${why[$pkg]}" >>"$manifest"
done
# Stale files (other versions, packages no longer needed).
for f in "$debs"/*.deb; do
  [ -e "$f" ] || continue
  b=$(basename "$f")
  [ -n "${keep[$b]:-}" ] || { say "removing stale $b"; rm -f "$f"; }
done
mv "$manifest" "$debs/MANIFEST"
# The plugins run-gpu-suite.sh puts on GStreamer's system path (the packages
# hold many more, which would only fail to load for want of libraries).
printf '%s\n' "${plugins[@]}" >"$debs/PLUGINS"
for f in "${fallbacks[@]}"; do
  echo "fetch-bundle: warning: installed version no longer in the archive, took the candidate: $f" >&2
done

# --- 4. wheels ----------------------------------------------------------------
pyiqa_pin=$(grep -o 'pyiqa==[0-9.]*' scripts/setup.sh | head -n1)
lpips_pin=$(grep -o '^lpips==[0-9.]*' scripts/requirements.txt | head -n1)
tqdm_pin=$(grep -o '^tqdm==[0-9.]*' scripts/requirements.txt | head -n1)
[ -n "$pyiqa_pin" ] && [ -n "$lpips_pin" ] && [ -n "$tqdm_pin" ] ||
  die "cannot read the lpips/pyiqa/tqdm pins from scripts/setup.sh and scripts/requirements.txt"
mkdir -p "$whl"
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.12 -d "$whl" "$lpips_pin" "$pyiqa_pin" "$tqdm_pin"
for f in "$whl"/*.whl; do
  [ -e "$f" ] || continue
  b=$(basename "$f")
  case "$b" in
    "${lpips_pin%%==*}-${lpips_pin##*==}-"*|"${pyiqa_pin%%==*}-${pyiqa_pin##*==}-"*|"${tqdm_pin%%==*}-${tqdm_pin##*==}-"*) ;;
    *) say "removing stale $b"; rm -f "$f" ;;
  esac
  case "$b" in *-py3-none-any.whl|*-py2.py3-none-any.whl) ;; *) die "$b is not a pure-Python wheel" ;; esac
done

# --- 5. glibc the bundle needs, sizes -------------------------------------------
# The highest GLIBC_2.N any bundled file needs (its version-needs section),
# and which files need it.
glibc_needs=$(for f in "${files[@]}"; do
  [ -n "${why[${file_pkg[$f]}]:-}" ] || continue   # excluded package
  readelf -V --wide "$f" 2>/dev/null | awk -v f="$f" '
    /Version needs section/ { on = 1; next }
    /Version (definition|symbols) section/ { on = 0 }
    on && match($0, /GLIBC_2\.[0-9]+/) { print substr($0, RSTART + 6, RLENGTH - 6), f }'
done | sort -u | sort -t. -k2,2n -s)
glibc_max=$(awk 'END { print $1 }' <<<"$glibc_needs")
{ echo "$glibc_max"; awk -v m="$glibc_max" '$1 == m { print "  " $2 }' <<<"$glibc_needs"; } >"$debs/GLIBC_MIN"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
deb_bytes=$(cat "$debs"/*.deb | wc -c)
whl_bytes=$(cat "$whl"/*.whl | wc -c)
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null |
  awk '{ s += $1 } END { print s + 0 }')
total=$((deb_bytes + whl_bytes + tree_bytes))
echo
echo "bundle: $(ls "$debs"/*.deb | wc -l) .deb files in $debs ($(mib "$deb_bytes")), $(ls "$whl"/*.whl | wc -l) wheels in $whl ($(mib "$whl_bytes"))"
echo "largest packages:"
sort -t$'\t' -k3,3nr "$debs/MANIFEST" | head -n 8 | awk -F'\t' '{ printf "  %-36s %7.2f MiB  %s\n", $1, $3 / 1048576, $4 }'
echo "working tree (tracked + untracked, not ignored): $(mib "$tree_bytes")"
echo "total carried: $(mib "$total") of the device tool's 64 MiB"
echo "the bundled binaries need glibc >= $glibc_max on the GPU machine (Debian 12 has 2.36), for:"
awk -v m="$glibc_max" '$1 == m { print $2 }' <<<"$glibc_needs" | while read -r f; do
  echo "  $f (${file_pkg[$f]})"
done

[ "$total" -lt $((60 * 1048576)) ] || die "too large to carry (limit 64 MiB)"
