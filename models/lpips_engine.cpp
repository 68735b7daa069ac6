#include "lpips_engine.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <stdexcept>
#include <vector>

#include "config.h"
#include "lpips.h"
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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class TorchLpipsEngine final : public LpipsEngine {
 public:
  TorchLpipsEngine(LpipsNet net, torch::Device device, NetPrecision precision)
      : net_(std::move(net)), device_(device), dtype_(torch_scalar_type(precision)) {}

#if S2S_HAVE_CUDA
  ~TorchLpipsEngine() override {
    if (input_read_) cudaEventDestroy(input_read_);
  }
#endif

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

#if S2S_HAVE_CUDA
  bool score_device(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, void *producer_stream,
                    double *lpips, std::string *error) override;
#endif

 private:
  // The network part of score() and score_device(): `input` holds the
  // batch's [n, 3, h, w] float32 network input on device_.
  void score_input(const torch::Tensor &input, const uint8_t *pair_with_previous, size_t n, double *lpips);
  // score() on the CPU: frames shared out between LibTorch's threads.
  void score_cpu(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, double *lpips);
  // The distances of the pairs from the batch's features, then the last
  // frame's features kept for the next call.
  void score_features(std::vector<torch::Tensor> feats, const uint8_t *pair_with_previous, size_t n, double *lpips);
  // Both entry points: NaN results, then `body` with every exception caught
  // (the chain is reset on failure).
  template <typename Body>
  bool guarded(size_t n, double *lpips, std::string *error, Body &&body);

  LpipsNet net_;
  torch::Device device_;
  torch::ScalarType dtype_;
  StreamFormat format_;
  int out_w_ = 0, out_h_ = 0;
  PreprocessScratch scratch_;
  std::vector<PreprocessScratch> worker_scratch_;  // score_cpu(): one per thread
  std::vector<torch::Tensor> kept_;  // features of the last frame, [1, C, h, w] each
#if S2S_HAVE_CUDA
  StreamHandoff producer_{"LPIPS: "};
  cudaEvent_t input_read_ = nullptr;  // recorded after the input kernel
#endif
};

template <typename Body>
bool TorchLpipsEngine::guarded(size_t n, double *lpips, std::string *error, Body &&body) {
  for (size_t i = 0; i < n; ++i) lpips[i] = kNaN;
  if (n == 0) return true;
  try {
    c10::InferenceMode guard;
    body();
    return true;
  } catch (const std::exception &e) {
    kept_.clear();
    if (error) *error = e.what();
  } catch (...) {
    kept_.clear();
    if (error) *error = "LPIPS: unknown exception";
  }
  return false;
}

bool TorchLpipsEngine::score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, double *lpips,
                             std::string *error) {
  return guarded(n, lpips, error, [&] {
    if (!device_.is_cuda()) return score_cpu(frames, pair_with_previous, n, lpips);
    // Host input: preprocessed on the CPU (preprocess.h's twin of the CUDA
    // kernel), into pinned memory when it goes to a GPU so that the copy
    // is asynchronous (LibTorch's pinned allocator keeps the block until
    // the copy is done).
    const auto host = torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(device_.is_cuda());
    torch::Tensor input = torch::empty({static_cast<int64_t>(n), 3, out_h_, out_w_}, host);
    const size_t frame_floats = static_cast<size_t>(3) * out_w_ * out_h_;
    for (size_t i = 0; i < n; ++i)
      lpips_input(frames[i], format_.yuv, out_w_, out_h_, input.data_ptr<float>() + i * frame_floats, &scratch_);
    score_input(input.to(device_, torch::kFloat32, /*non_blocking=*/true), pair_with_previous, n, lpips);
  });
}

#if S2S_HAVE_CUDA
bool TorchLpipsEngine::score_device(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                                    void *producer_stream, double *lpips, std::string *error) {
  if (!device_.is_cuda()) return LpipsEngine::score_device(frames, pair_with_previous, n, producer_stream, lpips, error);
  return guarded(n, lpips, error, [&] {
    if (n > static_cast<size_t>(std::numeric_limits<int>::max())) throw std::runtime_error("LPIPS: batch too large");
    const c10::cuda::CUDAGuard device_guard(device_.index());
    const c10::cuda::CUDAStream stream = c10::cuda::getCurrentCUDAStream(device_.index());
    if (!input_read_)
      check_cuda(cudaEventCreateWithFlags(&input_read_, cudaEventDisableTiming), "LPIPS: ", "cudaEventCreate");
    // LibTorch's stream waits, on the device, for what the producer queued.
    producer_.wait(static_cast<cudaStream_t>(producer_stream), stream.stream());
    // The input is LibTorch's memory, allocated for its current stream, so
    // the network reads it in order and the caching allocator reuses it
    // only after that stream is past it.
    torch::Tensor input = torch::empty({static_cast<int64_t>(n), 3, out_h_, out_w_},
                                       torch::TensorOptions().dtype(torch::kFloat32).device(device_));
    const cudaError_t launched = cuda::launch_lpips_input(format_, frames, static_cast<int>(n), out_w_, out_h_,
                                                          input.data_ptr<float>(), stream.stream());
    if (launched == cudaErrorInvalidValue)
      throw std::runtime_error("LPIPS: device frames do not match the configured format, size or planes");
    check_cuda(launched, "LPIPS: ", "input kernel launch");
    check_cuda(cudaEventRecord(input_read_, stream.stream()), "LPIPS: ", "cudaEventRecord");
    score_input(input, pair_with_previous, n, lpips);
    // The caller may reuse the frames once this returns: wait until the
    // kernel has read them (already true when pairs were downloaded).
    check_cuda(cudaEventSynchronize(input_read_), "LPIPS: ", "input kernel");
  });
}
#endif

// On the CPU the frames of a batch are shared out between LibTorch's
// intra-op threads, a few whole frames at a time, and each thread runs the
// preprocessing and the network on its frames alone: ATen runs operators
// inside a parallel region on the calling thread, and so does oneDNN. The
// alternative, every operator split between the threads, forks and joins a
// dozen times per frame and spins at each join, and the decoder's threads,
// which preempt one of ours at any time, make the other wait there: with 2
// threads that cost ~40 % more CPU time per frame, and left cores idle. The
// network runs channels-last (oneDNN's native layout) in chunks of up to
// kMaxChunk frames, whose convolutions are cheaper per frame than single
// frames'. Taken dynamically, chunks balance the threads when one is slowed.
// A single frame goes through the network with all threads.
void TorchLpipsEngine::score_cpu(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                                 double *lpips) {
  constexpr int64_t kMaxChunk = 4;
  const int64_t count = static_cast<int64_t>(n);
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), count));
  const int64_t chunk = std::min<int64_t>(kMaxChunk, std::max<int64_t>(1, count / (2 * workers)));
  const int64_t chunks = (count + chunk - 1) / chunk;
  if (worker_scratch_.size() < static_cast<size_t>(workers)) worker_scratch_.resize(workers);

  torch::Tensor input = torch::empty({count, 3, out_h_, out_w_}, torch::kFloat32);
  const size_t frame_floats = static_cast<size_t>(3) * out_w_ * out_h_;
  std::vector<std::vector<torch::Tensor>> chunk_feats(chunks);
  std::atomic<int64_t> next{0};
  auto work = [&](int64_t worker) {
    // Thread-local: the pool's threads do not inherit the caller's mode.
    c10::InferenceMode guard;
    for (int64_t c; (c = next.fetch_add(1)) < chunks;) {
      const int64_t begin = c * chunk, len = std::min(chunk, count - begin);
      for (int64_t i = begin; i < begin + len; ++i)
        lpips_input(frames[i], format_.yuv, out_w_, out_h_, input.data_ptr<float>() + i * frame_floats,
                    &worker_scratch_[worker]);
      chunk_feats[c] = net_->features(input.narrow(0, begin, len).contiguous(at::MemoryFormat::ChannelsLast).to(dtype_));
    }
  };
  if (workers == 1)
    work(0);
  else
    at::parallel_for(0, workers, 1, [&](int64_t begin, int64_t end) {
      for (int64_t w = begin; w < end; ++w) work(w);
    });

  std::vector<torch::Tensor> feats;
  for (size_t k = 0; k < chunk_feats[0].size(); ++k) {
    std::vector<torch::Tensor> parts;
    for (const auto &f : chunk_feats) parts.push_back(f[k]);
    feats.push_back(parts.size() == 1 ? parts[0] : torch::cat(parts));
  }
  score_features(std::move(feats), pair_with_previous, n, lpips);
}

void TorchLpipsEngine::score_input(const torch::Tensor &input, const uint8_t *pair_with_previous, size_t n,
                                   double *lpips) {
  score_features(net_->features(input.to(dtype_)), pair_with_previous, n, lpips);
}

void TorchLpipsEngine::score_features(std::vector<torch::Tensor> feats, const uint8_t *pair_with_previous, size_t n,
                                      double *lpips) {
  // Pairs (i - 1, i), from views of the features (no copies): frames 1..n-1
  // against the frame before them in the batch, frame 0 against the kept
  // last frame of the previous call. All are computed, the flagged reported.
  const int64_t count = static_cast<int64_t>(n);
  bool inner = false;
  for (size_t i = 1; i < n; ++i) inner = inner || pair_with_previous[i];
  const bool first = pair_with_previous[0] && !kept_.empty();
  std::vector<torch::Tensor> parts;
  if (first) {
    std::vector<torch::Tensor> a, b;
    for (size_t k = 0; k < feats.size(); ++k) {
      a.push_back(kept_[k]);
      b.push_back(feats[k].narrow(0, 0, 1));
    }
    parts.push_back(net_->distance(a, b));
  }
  if (inner) {
    std::vector<torch::Tensor> a, b;
    for (size_t k = 0; k < feats.size(); ++k) {
      a.push_back(feats[k].narrow(0, 0, count - 1));
      b.push_back(feats[k].narrow(0, 1, count - 1));
    }
    parts.push_back(net_->distance(a, b));
  }
  if (!parts.empty()) {
    // One transfer: d[0] is frame 0's when `first`, then frames 1..n-1.
    torch::Tensor d = (parts.size() == 1 ? parts[0] : torch::cat(parts)).to(torch::kCPU, torch::kFloat64);
    const double *values = d.data_ptr<double>();
    if (first) lpips[0] = *values++;
    if (inner)
      for (size_t i = 1; i < n; ++i)
        if (pair_with_previous[i]) lpips[i] = values[i - 1];
  }
  kept_.clear();
  for (auto &f : feats) kept_.push_back(f.narrow(0, static_cast<int64_t>(n) - 1, 1).clone());
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
    net->place(device, torch_scalar_type(config.precision));
    if (!config.cuda) net->use_channels_last();
    return std::unique_ptr<LpipsEngine>(new TorchLpipsEngine(net, device, config.precision));
  } catch (const std::exception &e) {
    *error = config.model_path + ": " + e.what();
    return nullptr;
  }
}

}  // namespace s2s
