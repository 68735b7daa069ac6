#include "musiq_engine.h"

#include <ATen/Context.h>
#include <torch/torch.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <stdexcept>
#include <vector>

#include "config.h"
#include "musiq.h"
#include "preprocess.h"
#include "safetensors.h"
#include "torch_device.h"

#if S2S_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "cuda_kernels.h"
#endif

namespace s2s {

namespace {

class TorchMusiqEngine final : public MusiqEngine {
 public:
  TorchMusiqEngine(MusiqNet net, const MusiqConfig &config, std::string variant, torch::Device device)
      : net_(std::move(net)),
        patches_(config.patches),
        variant_(std::move(variant)),
        device_(device),
        dtype_(torch_scalar_type(config.precision)) {}

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

#if S2S_HAVE_CUDA
  bool score_device(const FrameView *frames, size_t n, void *producer_stream, double *scores,
                    std::string *error) override;
#endif

 private:
  // The network part of score() and score_device(): tokens [n, T, 3072] and
  // pos, scale, mask [n, T], float32 on device_.
  void score_tokens(const torch::Tensor &tokens, const torch::Tensor &pos, const torch::Tensor &scale,
                    const torch::Tensor &mask, size_t n, double *scores);
  // Both entry points: `body` with every exception caught.
  template <typename Body>
  bool guarded(size_t n, std::string *error, Body &&body);

  MusiqNet net_;
  MusiqPatchConfig patches_;
  std::string variant_;
  torch::Device device_;
  torch::ScalarType dtype_;
  StreamFormat format_;
  int64_t tokens_ = 0;
  PreprocessScratch scratch_;
#if S2S_HAVE_CUDA
  StreamHandoff producer_{""};  // "MUSIQ: " comes from guarded()
#endif
};

template <typename Body>
bool TorchMusiqEngine::guarded(size_t n, std::string *error, Body &&body) {
  if (n == 0) return true;
  try {
    if (tokens_ <= 0) throw std::runtime_error("MUSIQ engine used before configure()");
    c10::InferenceMode guard;
    body();
    return true;
  } catch (const std::exception &e) {
    if (error) *error = std::string("MUSIQ: ") + e.what();
  } catch (...) {
    if (error) *error = "MUSIQ: unknown exception";
  }
  return false;
}

bool TorchMusiqEngine::score(const FrameView *frames, size_t n, double *scores, std::string *error) {
  return guarded(n, error, [&] {
    const int64_t b = static_cast<int64_t>(n), t = tokens_;
    // Host buffers in pinned memory when going to a GPU, so the copies are
    // asynchronous (LibTorch's pinned allocator keeps each block until its
    // copy is done).
    const auto host = torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(device_.is_cuda());
    torch::Tensor tokens = torch::empty({b, t, kMusiqTokenValues}, host);
    torch::Tensor pos = torch::empty({b, t}, host), scale = torch::empty({b, t}, host), mask = torch::empty({b, t}, host);
    for (int64_t i = 0; i < b; ++i) {
      musiq_frame_patches(frames[i], format_.yuv, patches_, tokens[i].data_ptr<float>(), pos[i].data_ptr<float>(),
                          scale[i].data_ptr<float>(), mask[i].data_ptr<float>(), &scratch_);
    }
    const bool async = true;
    score_tokens(tokens.to(device_, torch::kFloat32, async), pos.to(device_, torch::kFloat32, async),
                 scale.to(device_, torch::kFloat32, async), mask.to(device_, torch::kFloat32, async), n, scores);
  });
}

#if S2S_HAVE_CUDA
bool TorchMusiqEngine::score_device(const FrameView *frames, size_t n, void *producer_stream, double *scores,
                                    std::string *error) {
  if (!device_.is_cuda()) return MusiqEngine::score_device(frames, n, producer_stream, scores, error);
  return guarded(n, error, [&] {
    if (n > static_cast<size_t>(std::numeric_limits<int>::max())) throw std::runtime_error("batch too large");
    const int64_t b = static_cast<int64_t>(n), t = tokens_;
    const c10::cuda::CUDAGuard device_guard(device_.index());
    const c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream(device_.index());
    // LibTorch's stream waits, on the device, for what the producer queued.
    producer_.wait(static_cast<cudaStream_t>(producer_stream), stream.stream());
    // LibTorch's memory, allocated for its current stream: the network reads
    // it in order after the kernel, and the caching allocator reuses it only
    // once that stream is past it.
    const auto device = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
    torch::Tensor tokens = torch::empty({b, t, kMusiqTokenValues}, device);
    torch::Tensor pos = torch::empty({b, t}, device), scale = torch::empty({b, t}, device),
                  mask = torch::empty({b, t}, device);
    const cudaError_t launched =
        cuda::launch_musiq_patches(format_, frames, static_cast<int>(n), patches_, tokens.data_ptr<float>(),
                                   pos.data_ptr<float>(), scale.data_ptr<float>(), mask.data_ptr<float>(),
                                   stream.stream());
    if (launched == cudaErrorInvalidValue)
      throw std::runtime_error("device frames do not match the configured format, size or planes");
    check_cuda(launched, "", "patch kernel launch");
    // The scores' download waits for the whole stream, the kernel included:
    // once this returns the frames have been read.
    score_tokens(tokens, pos, scale, mask, n, scores);
  });
}
#endif

void TorchMusiqEngine::score_tokens(const torch::Tensor &tokens, const torch::Tensor &pos, const torch::Tensor &scale,
                                    const torch::Tensor &mask, size_t n, double *scores) {
  torch::Tensor out = net_->forward(tokens.to(dtype_), pos, scale, mask);
  out = out.to(torch::kCPU, torch::kFloat64);
  const double *values = out.data_ptr<double>();
  for (size_t i = 0; i < n; ++i) scores[i] = values[i];
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
    net->place(device, torch_scalar_type(config.precision));
    return std::unique_ptr<MusiqEngine>(new TorchMusiqEngine(net, config, info.variant, device));
  } catch (const std::exception &e) {
    *error = config.model_path + ": " + e.what();
    return nullptr;
  }
}

}  // namespace s2s
