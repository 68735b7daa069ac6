// LPIPS of consecutive frames: preprocessing as the replaced service (RGB,
// OpenCV INTER_LINEAR resize to size x size, [-1, 1]) and the AlexNet-LPIPS
// network in LibTorch. Each frame goes through the network once; its
// features serve the pairs (t-1, t) and (t, t+1), the last frame's across
// calls. No GStreamer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "frame.h"
#include "net_precision.h"
#include "pair_engine.h"

namespace s2s {

struct LpipsConfig {
  std::string model_path;
  bool cuda = false;        // LibTorch on a CUDA device, else the CPU
  int cuda_device = 0;
  NetPrecision precision = NetPrecision::kFp32;  // fp32 is true fp32 (TF32 off)
};

class LpipsEngine {
 public:
  virtual ~LpipsEngine() = default;

  // "cpu" or "cuda:N".
  virtual std::string device_name() const = 0;

  // New stream format; size = square network input (0: native resolution).
  // Forgets the kept frame.
  virtual bool configure(const StreamFormat &format, int size, std::string *error) = 0;

  // LPIPS of frames[i] against frames[i-1] (for i == 0 the last frame of the
  // previous call) where pair_with_previous[i] is set, else NaN. Returns
  // false with *error when the batch failed (the chain is then reset).
  virtual bool score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, double *lpips,
                     std::string *error) = 0;

  // Same as score() for frames whose planes are device memory of this
  // engine's GPU (zero-copy CUDA input, see PairEngine::score_device): ready
  // once the work queued so far on `producer_stream` (a cudaStream_t) is
  // done. Engines that cannot read device memory say so.
  virtual bool score_device(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                            void *producer_stream, double *lpips, std::string *error) {
    (void)frames, (void)pair_with_previous, (void)n, (void)producer_stream, (void)lpips;
    if (error) *error = "the LPIPS engine on " + device_name() + " cannot read frames in device memory";
    return false;
  }
};

// Loads the model (errors name the file and the tensor). nullptr on failure.
std::unique_ptr<LpipsEngine> make_lpips_engine(const LpipsConfig &config, std::string *error);

}  // namespace s2s
