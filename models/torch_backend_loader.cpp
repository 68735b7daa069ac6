// Finds and loads libs2s-torch.so (see torch_backend.h). Linked into the
// plugin, so dladdr() on a function of this file names the plugin's file.
#include "torch_backend.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <mutex>

#include "config.h"

namespace s2s {
namespace {

std::string directory_of(const std::string &path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The plugin's own file, or "" where the loader cannot tell.
std::string this_library() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&directory_of), &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

bool same_directory(const std::string &a, const std::string &b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  return realpath(a.c_str(), ra) != nullptr && realpath(b.c_str(), rb) != nullptr && std::string(ra) == rb;
}

bool readable(const std::string &path) { return access(path.c_str(), R_OK) == 0; }

// The path to load, in torch_backend.h's order: the environment; the build
// tree's module for the plugin in its build directory; the installed module
// beside the plugin, else at the configured install path.
std::string module_path() {
  if (const char *env = getenv("S2S_TORCH_MODULE"); env != nullptr && env[0] != '\0') return env;
  const std::string plugin = this_library();
  if (!plugin.empty()) {
    const std::string plugin_dir = directory_of(plugin);
    if (same_directory(plugin_dir, S2S_PLUGIN_BUILD_DIR)) return S2S_TORCH_MODULE_BUILD_PATH;
    const std::string beside = plugin_dir + "/../gst-s2s/" + S2S_TORCH_MODULE_NAME;
    if (readable(beside)) return beside;
  }
  return S2S_TORCH_MODULE_INSTALL_PATH;
}

struct Loaded {
  const TorchBackend *backend = nullptr;
  std::string error;
};

Loaded load() {
  Loaded out;
  const std::string path = module_path();
  // RTLD_LOCAL: LibTorch's symbols stay out of the process's global scope,
  // where they could clash with another copy an application brings.
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char *why = dlerror();
    out.error = "cannot load the LibTorch module " + path + ": " + (why ? why : "unknown error");
    return out;
  }
  using Entry = const TorchBackend *(*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, S2S_TORCH_BACKEND_SYMBOL));
  const TorchBackend *backend = entry ? entry() : nullptr;
  if (backend == nullptr || backend->abi != kTorchBackendAbi) {
    // Not ours, or from another build: never call into it. It stays loaded
    // (unloading LibTorch is not safe), which costs memory only.
    out.error = "the LibTorch module " + path + (backend == nullptr ? " has no " S2S_TORCH_BACKEND_SYMBOL " table"
                                                                    : " comes from another build of gst-s2s");
    return out;
  }
  out.backend = backend;
  return out;
}

}  // namespace

const TorchBackend *torch_backend(std::string *error) {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = load(); });
  if (loaded.backend == nullptr && error != nullptr) *error = loaded.error;
  return loaded.backend;
}

}  // namespace s2s
