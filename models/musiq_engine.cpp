#include "musiq_engine.h"

#include <ATen/Context.h>
#include <torch/torch.h>

#include <algorithm>
#include <exception>
#include <vector>

#include "convert.h"
#include "musiq.h"
#include "safetensors.h"

namespace s2s {

namespace {

torch::ScalarType scalar_type(NetPrecision p) {
  switch (p) {
    case NetPrecision::kFp16: return torch::kFloat16;
    case NetPrecision::kBf16: return torch::kBFloat16;
    default: return torch::kFloat32;
  }
}

class TorchMusiqEngine final : public MusiqEngine {
 public:
  TorchMusiqEngine(MusiqNet net, const MusiqConfig &config, std::string variant, torch::Device device)
      : net_(std::move(net)),
        patches_(config.patches),
        variant_(std::move(variant)),
        device_(device),
        dtype_(scalar_type(config.precision)) {}

  std::string device_name() const override { return device_.str(); }
  std::string variant() const override { return variant_; }

  bool configure(const StreamFormat &format, std::string *error) override {
    if (format.width <= 0 || format.height <= 0) {
      if (error) *error = "MUSIQ: invalid frame size " + std::to_string(format.width) + "x" + std::to_string(format.height);
      return false;
    }
    format_ = format;
    tokens_ = musiq_token_count(patches_, format.width, format.height);
    return true;
  }

  bool score(const FrameView *frames, size_t n, double *scores, std::string *error) override;

 private:
  MusiqNet net_;
  MusiqPatchConfig patches_;
  std::string variant_;
  torch::Device device_;
  torch::ScalarType dtype_;
  StreamFormat format_;
  int64_t tokens_ = 0;
  std::vector<uint8_t> rgb_;
};

bool TorchMusiqEngine::score(const FrameView *frames, size_t n, double *scores, std::string *error) {
  if (n == 0) return true;
  try {
    if (tokens_ <= 0) throw std::runtime_error("MUSIQ engine used before configure()");
    c10::InferenceMode guard;
    const int w = format_.width, h = format_.height;
    const int64_t b = static_cast<int64_t>(n), t = tokens_;
    // Host buffers in pinned memory when going to a GPU.
    const auto host = torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(device_.is_cuda());
    torch::Tensor tokens = torch::empty({b, t, kMusiqTokenValues}, host);
    torch::Tensor pos = torch::empty({b, t}, host), scale = torch::empty({b, t}, host), mask = torch::empty({b, t}, host);
    rgb_.resize(static_cast<size_t>(w) * h * 3);
    for (int64_t i = 0; i < b; ++i) {
      convert_to_rgb_rows(frames[i], format_.yuv, rgb_.data(), static_cast<int64_t>(w) * 3, 0, h);
      musiq_patches(rgb_.data(), static_cast<int64_t>(w) * 3, w, h, patches_, tokens[i].data_ptr<float>(),
                    pos[i].data_ptr<float>(), scale[i].data_ptr<float>(), mask[i].data_ptr<float>());
    }
    torch::Tensor out = net_->forward(tokens.to(device_, dtype_, /*non_blocking=*/true), pos.to(device_),
                                      scale.to(device_), mask.to(device_));
    out = out.to(torch::kCPU, torch::kFloat64);
    const double *values = out.data_ptr<double>();
    for (size_t i = 0; i < n; ++i) scores[i] = values[i];
    return true;
  } catch (const std::exception &e) {
    if (error) *error = std::string("MUSIQ: ") + e.what();
    return false;
  }
}

}  // namespace

std::unique_ptr<MusiqEngine> make_musiq_engine(const MusiqConfig &config, std::string *error) {
  std::string ignored;
  if (!error) error = &ignored;
  try {
    auto file = SafetensorsFile::open(config.model_path, error);
    if (!file) return nullptr;
    MusiqFileInfo info;
    if (!musiq_file_info(*file, &info, error)) return nullptr;

    // The network has kMusiqScales scale embeddings (the rescaled scales and
    // the native one) and a hse_grid^2 position table.
    const auto &sides = config.patches.longer_sides;
    if (static_cast<int>(sides.size()) + 1 != kMusiqScales ||
        std::any_of(sides.begin(), sides.end(), [](int s) { return s <= 0; })) {
      *error = config.model_path + ": MUSIQ needs " + std::to_string(kMusiqScales - 1) +
               " positive longer-side lengths (the model has " + std::to_string(kMusiqScales) + " scale embeddings)";
      return nullptr;
    }
    if (config.patches.hse_grid * config.patches.hse_grid != kMusiqPositions) {
      *error = config.model_path + ": MUSIQ position grid must be 10 (the model has " + std::to_string(kMusiqPositions) +
               " position embeddings), got " + std::to_string(config.patches.hse_grid);
      return nullptr;
    }

    if (config.cuda && !torch::cuda::is_available()) {
      *error = "LibTorch sees no CUDA device";
      return nullptr;
    }
    const torch::Device device =
        config.cuda ? torch::Device(torch::kCUDA, config.cuda_device) : torch::Device(torch::kCPU);
    // fp32 means fp32: no TF32 in cuDNN convolutions or cuBLAS products.
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);

    MusiqNet net(info.num_classes);
    if (!net->load(*file, error)) return nullptr;
    net->eval();
    net->place(device, scalar_type(config.precision));
    return std::unique_ptr<MusiqEngine>(new TorchMusiqEngine(net, config, info.variant, device));
  } catch (const std::exception &e) {
    *error = config.model_path + ": " + e.what();
    return nullptr;
  }
}

}  // namespace s2s
