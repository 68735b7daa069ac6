#include "lpips_engine.h"

#include <ATen/Context.h>
#include <torch/torch.h>

#include <cmath>
#include <exception>
#include <limits>
#include <vector>

#include "convert.h"
#include "lpips.h"
#include "resize.h"
#include "safetensors.h"

namespace s2s {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

torch::ScalarType scalar_type(NetPrecision p) {
  switch (p) {
    case NetPrecision::kFp16: return torch::kFloat16;
    case NetPrecision::kBf16: return torch::kBFloat16;
    default: return torch::kFloat32;
  }
}

class TorchLpipsEngine final : public LpipsEngine {
 public:
  TorchLpipsEngine(LpipsNet net, torch::Device device, NetPrecision precision)
      : net_(std::move(net)), device_(device), dtype_(scalar_type(precision)) {}

  std::string device_name() const override { return device_.str(); }

  bool configure(const StreamFormat &format, int size, std::string *) override {
    format_ = format;
    out_w_ = size > 0 ? size : format.width;
    out_h_ = size > 0 ? size : format.height;
    kept_.clear();
    return true;
  }

  bool score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, double *lpips,
             std::string *error) override;

 private:
  // RGB (resized) of frame f as float32 CHW in [-1, 1], written into dst.
  void preprocess(const FrameView &frame, float *dst);

  LpipsNet net_;
  torch::Device device_;
  torch::ScalarType dtype_;
  StreamFormat format_;
  int out_w_ = 0, out_h_ = 0;
  std::vector<uint8_t> rgb_, resized_;
  std::vector<torch::Tensor> kept_;  // features of the last frame, [1, C, h, w] each
};

void TorchLpipsEngine::preprocess(const FrameView &frame, float *dst) {
  const int w = format_.width, h = format_.height;
  rgb_.resize(static_cast<size_t>(w) * h * 3);
  convert_to_rgb_rows(frame, format_.yuv, rgb_.data(), static_cast<int64_t>(w) * 3, 0, h);
  const uint8_t *src = rgb_.data();
  if (out_w_ != w || out_h_ != h) {
    resized_.resize(static_cast<size_t>(out_w_) * out_h_ * 3);
    resize_linear_u8(rgb_.data(), static_cast<int64_t>(w) * 3, w, h, 3, resized_.data(),
                     static_cast<int64_t>(out_w_) * 3, out_w_, out_h_, 0, out_h_);
    src = resized_.data();
  }
  // As the service: float32(v) / 255 * 2 - 1, planar RGB.
  const size_t plane = static_cast<size_t>(out_w_) * out_h_;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) dst[c * plane + i] = static_cast<float>(src[3 * i + c]) / 255.0f * 2.0f - 1.0f;
  }
}

bool TorchLpipsEngine::score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, double *lpips,
                             std::string *error) {
  for (size_t i = 0; i < n; ++i) lpips[i] = kNaN;
  if (n == 0) return true;
  try {
    c10::InferenceMode guard;
    torch::Tensor input = torch::empty({static_cast<int64_t>(n), 3, out_h_, out_w_}, torch::kFloat32);
    const size_t frame_floats = static_cast<size_t>(3) * out_w_ * out_h_;
    for (size_t i = 0; i < n; ++i) preprocess(frames[i], input.data_ptr<float>() + i * frame_floats);

    std::vector<torch::Tensor> feats = net_->features(input.to(device_, dtype_));

    // Pairs (i - 1, i). With a kept frame the previous features come from
    // [kept, batch...], where frame i - 1 sits at row i; without one, from
    // the batch itself (frame 0 then has no pair).
    const bool have_kept = !kept_.empty();
    std::vector<int64_t> prev, cur;
    for (size_t i = 0; i < n; ++i) {
      if (!pair_with_previous[i]) continue;
      if (i == 0 && !have_kept) continue;
      prev.push_back(static_cast<int64_t>(have_kept ? i : i - 1));
      cur.push_back(static_cast<int64_t>(i));
    }
    if (!cur.empty()) {
      const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(device_);
      torch::Tensor prev_idx = torch::tensor(prev, opts);
      torch::Tensor cur_idx = torch::tensor(cur, opts);
      std::vector<torch::Tensor> a, b;
      for (size_t k = 0; k < feats.size(); ++k) {
        const torch::Tensor previous = have_kept ? torch::cat({kept_[k], feats[k]}) : feats[k];
        a.push_back(previous.index_select(0, prev_idx));
        b.push_back(feats[k].index_select(0, cur_idx));
      }
      torch::Tensor d = net_->distance(a, b).to(torch::kCPU, torch::kFloat64);
      const double *values = d.data_ptr<double>();
      for (size_t j = 0; j < cur.size(); ++j) lpips[cur[j]] = values[j];
    }
    kept_.clear();
    for (auto &f : feats) kept_.push_back(f.narrow(0, static_cast<int64_t>(n) - 1, 1).clone());
    return true;
  } catch (const std::exception &e) {
    kept_.clear();
    if (error) *error = e.what();
    return false;
  }
}

}  // namespace

std::unique_ptr<LpipsEngine> make_lpips_engine(const LpipsConfig &config, std::string *error) {
  auto file = SafetensorsFile::open(config.model_path, error);
  if (!file) return nullptr;
  const std::string model = file->meta("model");
  if (model != "lpips-alex") {
    *error = config.model_path + ": not an LPIPS AlexNet file (metadata model='" + model +
             "', expected 'lpips-alex'); see docs/models.md";
    return nullptr;
  }
  try {
    if (config.cuda && !torch::cuda::is_available()) {
      *error = "LibTorch sees no CUDA device";
      return nullptr;
    }
    const torch::Device device = config.cuda ? torch::Device(torch::kCUDA, config.cuda_device) : torch::Device(torch::kCPU);
    // fp32 means fp32: no TF32 in cuDNN convolutions or cuBLAS products.
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);

    LpipsNet net;
    if (!net->load(*file, error)) return nullptr;
    net->eval();
    net->place(device, scalar_type(config.precision));
    return std::unique_ptr<LpipsEngine>(new TorchLpipsEngine(net, device, config.precision));
  } catch (const std::exception &e) {
    *error = config.model_path + ": " + e.what();
    return nullptr;
  }
}

}  // namespace s2s
