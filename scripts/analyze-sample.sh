#!/usr/bin/env bash
# The main job on a generated clip: encode a short H.264 test clip, then
# s2s-analyze it: progress, summary, sample/metrics.{json,csv,png}.
#   scripts/analyze-sample.sh [extra s2s-analyze options...]
set -euo pipefail
cd "$(dirname "$0")/.."
export GST_PLUGIN_PATH="$(pwd)/build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
mkdir -p sample
clip=sample/clip.mp4

if [ ! -s "$clip" ]; then
  echo "generating $clip (5 s, 640x360, 30 fps, H.264)"
  gst-launch-1.0 -q videotestsrc pattern=ball num-buffers=150 \
    ! video/x-raw,width=640,height=360,framerate=30/1 \
    ! x264enc bitrate=800 ! h264parse ! mp4mux ! filesink location="$clip"
fi

# MSE, inverse SSIM, LPIPS and weighted for every pair, as the service gave
# them. LPIPS uses the real weights scripts/setup.sh installed in the build
# (docs/models.md); where it could not, LPIPS is null, with one warning.
build/tools/s2s-analyze "$clip" \
  --json sample/metrics.json --csv sample/metrics.csv --plot sample/metrics.png "$@"
