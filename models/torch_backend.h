// The networks (LPIPS, MUSIQ) as the plugin sees them: a table of entry
// points into a module of their own, libs2s-torch.so, loaded on first use.
//
// Why a module: LibTorch with its CUDA libraries is ~2 GB of shared objects
// that take most of a second and ~450 MB of resident memory to load. Linked
// into the plugin, every process that merely registers or inspects it, and
// every pipeline that only wants MSE and SSIM, would pay that. Loaded here,
// only an element that starts a network pays, once per process; and where
// LibTorch cannot load (missing or broken libraries) the plugin still
// registers, MSE and SSIM still run, and the elements say why the networks
// cannot (docs/models.md).
//
// Neither this header nor the loader needs LibTorch or GStreamer.
#pragma once

#include <memory>
#include <string>

#include "lpips_engine.h"
#include "musiq_engine.h"

namespace s2s {

// Bumped whenever this table or the engine interfaces it hands out change,
// so a plugin never calls into a module built from other sources.
constexpr int kTorchBackendAbi = 1;

struct TorchBackend {
  int abi;
  // Whether LibTorch can run on CUDA device `device` (else *why says why).
  bool (*cuda_usable)(int device, std::string *why);
  // Load a network (errors name the file and the tensor); nullptr on failure.
  std::unique_ptr<LpipsEngine> (*make_lpips)(const LpipsConfig &config, std::string *error);
  std::unique_ptr<MusiqEngine> (*make_musiq)(const MusiqConfig &config, std::string *error);
};

// The module's table, loaded once per process and never unloaded (LibTorch
// cannot be). nullptr with *error (the module's path and the loader's
// reason) when it cannot be loaded; the answer is the same for every call.
//
// Where it looks: $S2S_TORCH_MODULE when set; else, for the plugin in its
// build directory, the module built beside it; else <plugin dir>/../gst-s2s/
// (the installed layout, relocatable), then the configured install path.
const TorchBackend *torch_backend(std::string *error);

}  // namespace s2s

// The module's one exported symbol.
#define S2S_TORCH_BACKEND_SYMBOL "s2s_torch_backend"
