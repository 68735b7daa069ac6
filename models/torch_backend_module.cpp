// libs2s-torch.so: the networks and LibTorch behind the table of
// torch_backend.h. Everything else in this module is hidden; the plugin
// reaches it only through s2s_torch_backend().
#include <exception>

#include "torch_backend.h"
#include "torch_device.h"

namespace {

std::unique_ptr<s2s::LpipsEngine> make_lpips(const s2s::LpipsConfig &config, std::string *error) {
  try {
    return s2s::make_lpips_engine(config, error);
  } catch (const std::exception &e) {  // nothing may unwind into the plugin
    *error = e.what();
    return nullptr;
  }
}

std::unique_ptr<s2s::MusiqEngine> make_musiq(const s2s::MusiqConfig &config, std::string *error) {
  try {
    return s2s::make_musiq_engine(config, error);
  } catch (const std::exception &e) {
    *error = e.what();
    return nullptr;
  }
}

const s2s::TorchBackend kBackend = {
    s2s::kTorchBackendAbi,
    s2s::torch_cuda_usable,
    make_lpips,
    make_musiq,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const s2s::TorchBackend *s2s_torch_backend() { return &kBackend; }
