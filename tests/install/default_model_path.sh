#!/usr/bin/env bash
# Where s2smetrics looks for its LPIPS weights by default (gst/s2smodelpath.h)
# outside the build tree: the plugin and libs2s-torch.so copied into an
# installed layout, as torch_module_installed.sh does. Without S2S_MODELS_DIR
# the default is the configured install path; with it, the file there, which
# the element then loads with no lpips-model set.
#   default_model_path.sh PLUGIN MODULE LPIPS_WEIGHTS INSTALLED_DEFAULT
set -euo pipefail
plugin=$1 module=$2 weights=$3 installed=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib/gstreamer-1.0" "$tmp/lib/gst-s2s" "$tmp/models"
cp "$plugin" "$tmp/lib/gstreamer-1.0/"
cp "$module" "$tmp/lib/gst-s2s/"
cp "$weights" "$tmp/models/lpips-alex-v0.1.safetensors"
export GST_PLUGIN_PATH_1_0="$tmp/lib/gstreamer-1.0" GST_REGISTRY_1_0="$tmp/registry.bin"
unset S2S_TORCH_MODULE S2S_MODELS_DIR

fail() { echo "FAIL: $*"; exit 1; }
default_of() { gst-inspect-1.0 s2smetrics | grep -A3 '^  lpips-model' | sed -n 's/.*Default: "\(.*\)"/\1/p'; }

got=$(default_of)
[ "$got" = "$installed" ] || fail "installed default is '$got', expected '$installed'"

got=$(S2S_MODELS_DIR="$tmp/models" default_of)
[ "$got" = "$tmp/models/lpips-alex-v0.1.safetensors" ] || fail "with S2S_MODELS_DIR the default is '$got'"
out=$(S2S_MODELS_DIR="$tmp/models" gst-launch-1.0 -m videotestsrc num-buffers=3 pattern=ball \
  ! video/x-raw,width=96,height=64 ! s2smetrics device=cpu ! fakesink 2>&1)
values=$(echo "$out" | grep -o 'lpips=(double)[0-9.e+-]*' | wc -l)
[ "$values" -eq 2 ] || { echo "$out" | tail -20; fail "expected 2 LPIPS values from \$S2S_MODELS_DIR, got $values"; }
echo "default-model-path: installed default $installed; \$S2S_MODELS_DIR used, $values LPIPS values"
