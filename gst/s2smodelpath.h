/* Where the elements look for a weight file by default (docs/models.md):
 *
 *   1. $S2S_MODELS_DIR/<file>, when the variable is set and not empty;
 *   2. <build>/models/<file>, for the plugin in its build directory
 *      (scripts/setup.sh puts the real LPIPS weights there through meson);
 *   3. <prefix>/<datadir>/gst-s2s/models/<file>, where `meson install` puts
 *      them (S2S_MODELS_DIR of config.h).
 *
 * Decided once per process, from where the plugin's file is and the
 * environment, not from which files exist: the default a property shows in
 * gst-inspect-1.0 is the path the element reads, and a missing file's
 * warning names where it belongs. No GStreamer. */
#pragma once

#include <string>

namespace s2s {

// The directory of rule 1, 2 or 3 above (no trailing slash).
const std::string &default_models_dir();

// default_models_dir() + "/" + file_name.
std::string default_model_path(const char *file_name);

}  // namespace s2s
