// LPIPS v0.1 with AlexNet (Zhang et al. 2018), as the `lpips` package
// computes it, in LibTorch. No GStreamer.
//
// Submodules are named after the upstream state-dict keys (torchvision
// `features.{0,3,6,8,10}`, lpips `lin{0..4}.model.1`), so weight files map
// one to one. Inputs are RGB in [-1, 1], NCHW.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "safetensors.h"

namespace s2s {

class LpipsNetImpl : public torch::nn::Module {
 public:
  LpipsNetImpl();

  // The five ReLU outputs (relu1..relu5) of AlexNet on the scaled input,
  // each unit-normalised over channels: x / (sqrt(sum_c x^2) + 1e-10).
  // Computed once per frame; a pair's distance needs only these.
  std::vector<torch::Tensor> features(const torch::Tensor &rgb);

  // LPIPS of pairs (a[i], b[i]): per layer, squared difference of the
  // normalised features, 1x1 linear layer, spatial mean; summed over the
  // layers in order. Returns [N] float32.
  torch::Tensor distance(const std::vector<torch::Tensor> &a, const std::vector<torch::Tensor> &b);

  // Copies weights from `file` by name; every tensor must be present with
  // the right shape and a float dtype. Names the tensor in *error.
  bool load(const SafetensorsFile &file, std::string *error);

  // Moves the network to `device`: AlexNet in `dtype`, the linear layers and
  // the distance in float32 (the normalised features are float32).
  void place(torch::Device device, torch::ScalarType dtype);

  // Stores the AlexNet kernels channels-last, the layout oneDNN computes in
  // on the CPU: inputs given channels-last then need no reorder at each
  // convolution (features() keeps the input's layout throughout).
  void use_channels_last();

 private:
  torch::nn::Sequential features_{nullptr};
  std::vector<torch::nn::Sequential> lins_;
  torch::Tensor shift_, scale_;
};
TORCH_MODULE(LpipsNet);

// Tensor names a LPIPS file must hold, with their shapes.
std::vector<std::pair<std::string, std::vector<int64_t>>> lpips_tensor_specs();

// Converts any float dtype of a view to a float32 CPU tensor (copied).
bool tensor_from_view(const TensorView &view, torch::Tensor *out, std::string *error);

}  // namespace s2s
