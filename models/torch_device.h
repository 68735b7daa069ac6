// LibTorch device helpers of the networks' module: the network type of a
// precision, whether LibTorch can run on a CUDA device (asked before loading
// a network there: the elements' device policy needs the answer, not an
// exception in the middle of loading), and, with CUDA, the error check and
// the stream handoff both engines use to read frames in device memory.
#pragma once

#include <torch/cuda.h>
#include <torch/types.h>

#include <exception>
#include <stdexcept>
#include <string>

#include "config.h"
#include "net_precision.h"

#if S2S_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace s2s {

// The LibTorch type a network body runs in.
inline torch::ScalarType torch_scalar_type(NetPrecision p) {
  switch (p) {
    case NetPrecision::kFp16: return torch::kFloat16;
    case NetPrecision::kBf16: return torch::kBFloat16;
    default: return torch::kFloat32;
  }
}

#if S2S_HAVE_CUDA
// Throws std::runtime_error("<who><what> failed (<name>: <text>)").
inline void check_cuda(cudaError_t e, const char *who, const char *what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(who) + what + " failed (" + cudaGetErrorName(e) + ": " +
                             cudaGetErrorString(e) + ")");
}

// Makes a consumer stream wait, on the device and without blocking the
// host, for the work queued so far on a producer stream: the engines' way
// to read frames another stream wrote. One event, created on first use.
class StreamHandoff {
 public:
  explicit StreamHandoff(const char *who) : who_(who) {}
  ~StreamHandoff() {
    if (event_) cudaEventDestroy(event_);
  }
  StreamHandoff(const StreamHandoff &) = delete;
  StreamHandoff &operator=(const StreamHandoff &) = delete;

  void wait(cudaStream_t producer, cudaStream_t consumer) {
    if (!event_) check_cuda(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), who_, "cudaEventCreate");
    check_cuda(cudaEventRecord(event_, producer), who_, "cudaEventRecord (producer stream)");
    check_cuda(cudaStreamWaitEvent(consumer, event_, 0), who_, "cudaStreamWaitEvent");
  }

 private:
  const char *who_;
  cudaEvent_t event_ = nullptr;
};
#endif

inline bool torch_cuda_usable(int device, std::string *why) {
  try {
    if (!torch::cuda::is_available()) {
      *why = "LibTorch finds no usable CUDA device (no driver, no device, or CUDA_VISIBLE_DEVICES hides them)";
      return false;
    }
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (device < 0 || device >= count) {
      *why = "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " devices)";
      return false;
    }
    return true;
  } catch (const std::exception &e) {
    *why = std::string("LibTorch could not query CUDA: ") + e.what();
    return false;
  }
}

}  // namespace s2s
