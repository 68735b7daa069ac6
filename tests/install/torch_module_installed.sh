#!/usr/bin/env bash
# The installed layout finds the networks' module (models/torch_backend.h):
# the plugin and libs2s-torch.so copied into <tmp>/lib/gstreamer-1.0 and
# <tmp>/lib/gst-s2s, as `meson install` lays them out under any prefix, run
# LPIPS from there. Outside the build tree, so only the lookup beside the
# plugin can find the module.
#   torch_module_installed.sh PLUGIN MODULE LPIPS_WEIGHTS
set -euo pipefail
plugin=$1 module=$2 weights=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib/gstreamer-1.0" "$tmp/lib/gst-s2s"
cp "$plugin" "$tmp/lib/gstreamer-1.0/"
cp "$module" "$tmp/lib/gst-s2s/"

export GST_PLUGIN_PATH_1_0="$tmp/lib/gstreamer-1.0" GST_REGISTRY_1_0="$tmp/registry.bin"
unset S2S_TORCH_MODULE
out=$(LD_DEBUG=files gst-launch-1.0 -m videotestsrc num-buffers=3 pattern=ball \
  ! video/x-raw,width=96,height=64 ! s2smetrics device=cpu lpips-model="$weights" ! fakesink 2>&1)

fail() { echo "FAIL: $*"; echo "$out" | grep -v "^ *[0-9]*:" | tail -20; exit 1; }
# Here-strings, not `echo | grep -q`: grep -q exits at the first match and,
# with pipefail, echo's SIGPIPE on the long LD_DEBUG output failed the test.
grep -q "file=$tmp/lib/gstreamer-1.0/../gst-s2s/libs2s-torch.so" <<<"$out" \
  || fail "the module was not loaded from $tmp/lib/gst-s2s"
grep -q "LibTorch could not be loaded" <<<"$out" && fail "LibTorch could not be loaded"
values=$(echo "$out" | grep -o 'lpips=(double)[0-9.e+-]*' | wc -l)
[ "$values" -eq 2 ] || fail "expected 2 LPIPS values, got $values"
echo "torch-module-installed: module found beside the installed plugin, $values LPIPS values"
