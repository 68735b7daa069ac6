#include "lpips.h"

#include <cstring>

namespace s2s {

namespace {

// AlexNet layers (torchvision): (index in `features`, in, out, kernel,
// stride, padding). ReLU after each conv, max-pool 3/2 after the first two.
struct ConvSpec {
  int index, in, out, kernel, stride, padding;
};
constexpr ConvSpec kConvs[] = {
    {0, 3, 64, 11, 4, 2}, {3, 64, 192, 5, 1, 2}, {6, 192, 384, 3, 1, 1}, {8, 384, 256, 3, 1, 1}, {10, 256, 256, 3, 1, 1},
};
// Index of the ReLU whose output is each LPIPS layer (relu1..relu5).
constexpr int kTaps[] = {1, 4, 7, 9, 11};
constexpr int kLinChannels[] = {64, 192, 384, 256, 256};

// lpips ScalingLayer (v0.1), float32.
constexpr float kShift[] = {-0.030f, -0.088f, -0.188f};
constexpr float kScale[] = {0.458f, 0.448f, 0.450f};

}  // namespace

LpipsNetImpl::LpipsNetImpl() {
  features_ = torch::nn::Sequential();
  int next = 0;
  for (const ConvSpec &c : kConvs) {
    // Pools sit at the indices the torchvision module uses (2 and 5).
    for (; next < c.index; ++next)
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2)));
    features_->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(c.in, c.out, c.kernel).stride(c.stride).padding(c.padding).bias(true)));
    features_->push_back(torch::nn::ReLU());
    next = c.index + 2;
  }
  register_module("features", features_);

  for (int k = 0; k < 5; ++k) {
    // lpips NetLinLayer: Sequential(Dropout, Conv2d 1x1 without bias);
    // dropout is the identity in eval mode but keeps the index of the conv.
    torch::nn::Sequential model(torch::nn::Dropout(0.5),
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(kLinChannels[k], 1, 1).bias(false)));
    auto lin = std::make_shared<torch::nn::Module>();
    lin->register_module("model", model);
    register_module("lin" + std::to_string(k), lin);
    lins_.push_back(model);
  }
  shift_ = register_buffer("shift", torch::tensor({kShift[0], kShift[1], kShift[2]}).view({1, 3, 1, 1}));
  scale_ = register_buffer("scale", torch::tensor({kScale[0], kScale[1], kScale[2]}).view({1, 3, 1, 1}));
}

std::vector<torch::Tensor> LpipsNetImpl::features(const torch::Tensor &rgb) {
  torch::Tensor x = (rgb - shift_.to(rgb.dtype())) / scale_.to(rgb.dtype());
  std::vector<torch::Tensor> taps;
  int tap = 0, i = 0;
  for (auto it = features_->begin(); it != features_->end() && tap < 5; ++it, ++i) {
    x = it->forward(x);
    if (i == kTaps[tap]) {
      // Normalise in float32 whatever the network's precision.
      torch::Tensor f = x.to(torch::kFloat32);
      torch::Tensor norm = torch::sqrt(torch::sum(f * f, 1, true));
      taps.push_back(f / (norm + 1e-10));
      ++tap;
    }
  }
  return taps;
}

torch::Tensor LpipsNetImpl::distance(const std::vector<torch::Tensor> &a, const std::vector<torch::Tensor> &b) {
  torch::Tensor total;
  for (int k = 0; k < 5; ++k) {
    torch::Tensor d = a[k] - b[k];
    d.mul_(d);  // squared in place: one feature-sized tensor less per layer
    torch::Tensor layer = lins_[k]->forward(d).mean({2, 3}, true);
    total = k == 0 ? layer : total + layer;
  }
  return total.view({-1});
}

void LpipsNetImpl::place(torch::Device device, torch::ScalarType dtype) {
  features_->to(device, dtype);
  for (auto &lin : lins_) lin->to(device, torch::kFloat32);
  shift_ = shift_.to(device);
  scale_ = scale_.to(device);
}

void LpipsNetImpl::use_channels_last() {
  torch::NoGradGuard no_grad;
  for (const auto &module : features_->modules(/*include_self=*/false))
    if (auto *conv = module->as<torch::nn::Conv2dImpl>())
      conv->weight.set_data(conv->weight.contiguous(at::MemoryFormat::ChannelsLast));
}

std::vector<std::pair<std::string, std::vector<int64_t>>> lpips_tensor_specs() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> specs;
  for (const ConvSpec &c : kConvs) {
    const std::string base = "features." + std::to_string(c.index);
    specs.push_back({base + ".weight", {c.out, c.in, c.kernel, c.kernel}});
    specs.push_back({base + ".bias", {c.out}});
  }
  for (int k = 0; k < 5; ++k) specs.push_back({"lin" + std::to_string(k) + ".model.1.weight", {1, kLinChannels[k], 1, 1}});
  return specs;
}

bool tensor_from_view(const TensorView &view, torch::Tensor *out, std::string *error) {
  torch::ScalarType type;
  switch (view.dtype) {
    case DType::kF32: type = torch::kFloat32; break;
    case DType::kF16: type = torch::kFloat16; break;
    case DType::kBF16: type = torch::kBFloat16; break;
    case DType::kF64: type = torch::kFloat64; break;
    default:
      *error = "tensor '" + view.name + "' has dtype " + dtype_name(view.dtype) + ", expected a float type";
      return false;
  }
  torch::Tensor t = torch::empty(view.shape, torch::TensorOptions().dtype(type));
  // The file's bytes need not be aligned: copy them.
  std::memcpy(t.data_ptr(), view.data, view.nbytes);
  *out = t.to(torch::kFloat32);
  return true;
}

bool LpipsNetImpl::load(const SafetensorsFile &file, std::string *error) {
  torch::NoGradGuard no_grad;
  auto params = named_parameters(true);
  for (const auto &spec : lpips_tensor_specs()) {
    const TensorView *view = file.find(spec.first);
    if (!view) {
      *error = file.path() + ": tensor '" + spec.first + "' is missing";
      return false;
    }
    if (view->shape != spec.second) {
      std::string want, got;
      for (int64_t d : spec.second) want += (want.empty() ? "" : ",") + std::to_string(d);
      for (int64_t d : view->shape) got += (got.empty() ? "" : ",") + std::to_string(d);
      *error = file.path() + ": tensor '" + spec.first + "' has shape [" + got + "], expected [" + want + "]";
      return false;
    }
    torch::Tensor value;
    if (!tensor_from_view(*view, &value, error)) {
      *error = file.path() + ": " + *error;
      return false;
    }
    torch::Tensor *param = params.find(spec.first);
    if (!param) {
      *error = "internal: no parameter named '" + spec.first + "'";
      return false;
    }
    param->copy_(value);
  }
  return true;
}

}  // namespace s2s
