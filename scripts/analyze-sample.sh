#!/usr/bin/env bash
# The main job on a generated clip: encode a short H.264 test clip, decode it,
# run s2smetrics on every consecutive pair, print the per-frame metrics and
# the summary, and write them to sample/metrics.csv.
#   scripts/analyze-sample.sh [extra s2smetrics properties...]
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

# LPIPS needs a model (docs/models.md); this job measures MSE and inverse SSIM.
gst-launch-1.0 -m filesrc location="$clip" ! decodebin ! videoconvert \
  ! s2smetrics metrics=mse+inv-ssim "$@" ! fakesink 2>&1 \
  | python3 scripts/print_metrics.py --csv sample/metrics.csv
