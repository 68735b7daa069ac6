/* Default weight-file locations: see s2smodelpath.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "s2smodelpath.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

namespace s2s {

namespace {

// Whether this code runs from the plugin in its build directory: dladdr()
// on a function of this file names the plugin's file (it is linked in).
bool plugin_in_build_dir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&plugin_in_build_dir), &info) == 0 || info.dli_fname == nullptr)
    return false;
  const std::string plugin = info.dli_fname;
  const size_t slash = plugin.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string(".") : plugin.substr(0, slash);
  char a[PATH_MAX], b[PATH_MAX];
  return realpath(dir.c_str(), a) != nullptr && realpath(S2S_PLUGIN_BUILD_DIR, b) != nullptr &&
         std::string(a) == b;
}

std::string resolve() {
  if (const char *env = getenv("S2S_MODELS_DIR"); env != nullptr && env[0] != '\0')
    return env;
  if (plugin_in_build_dir())
    return S2S_MODELS_BUILD_DIR;
  return S2S_MODELS_DIR;
}

}  // namespace

const std::string &default_models_dir() {
  static const std::string dir = resolve();
  return dir;
}

std::string default_model_path(const char *file_name) {
  return default_models_dir() + "/" + file_name;
}

}  // namespace s2s
