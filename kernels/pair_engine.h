// Engines computing the metrics of consecutive frame pairs (MSE and SSIM).
//
// An engine knows nothing of GStreamer: it takes frames in order, converts
// each to gray once, keeps the last one for the next call (frame t serves
// pairs (t-1, t) and (t, t+1)) and returns one result per frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine_error.h"
#include "frame.h"
#include "s2s_math.h"

namespace s2s {

struct StreamFormat {
  PixelFormat format = PixelFormat::kGray8;
  int width = 0;
  int height = 0;
  YuvToRgb yuv{};  // used by YUV formats only
};

struct PairOptions {
  bool mse = true;
  bool ssim = true;
  SsimWindow window = SsimWindow::kUniform7;
};

// NaN where not requested or not defined (SSIM of frames smaller than the
// window).
struct PairResult {
  double mse;
  double ssim;
};

class PairEngine {
 public:
  virtual ~PairEngine() = default;

  // "cpu" or "cuda", for logs and messages.
  virtual const char *name() const = 0;

  // New stream format (caps). Forgets the kept frame.
  virtual bool configure(const StreamFormat &format, std::string *error) = 0;

  // Breaks the pair chain: the next frame has no predecessor.
  virtual void reset_chain() = 0;

  // Scores frames[0 .. n) of the configured format. results[i] compares frame
  // i with frame i - 1, or for i == 0 with the last frame of the previous
  // call, when pair_with_previous[i] is non-zero; otherwise it is NaN. The last
  // frame is kept for the next call. Returns false (with *error set) when the
  // batch could not be scored; the chain is then reset.
  virtual bool score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                     const PairOptions &options, PairResult *results, std::string *error) = 0;

  // Same as score() for frames whose planes are device memory of this
  // engine's GPU (zero-copy from a CUDA producer). The planes must be ready
  // once the work queued so far on `producer_stream` (a cudaStream_t; null
  // means the legacy default stream) is done: the engine waits for it on the
  // device, not on the host. Engines without a device cannot read such
  // frames.
  virtual bool score_device(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                            const PairOptions &options, void *producer_stream, PairResult *results,
                            std::string *error) {
    (void)frames, (void)pair_with_previous, (void)n, (void)options, (void)producer_stream, (void)results;
    if (error) *error = std::string("the ") + name() + " engine cannot read frames in device memory";
    return false;
  }

  // Kind of the last failure of score()/score_device()/configure(), so the
  // caller can retry a smaller batch (kOutOfMemory) or stop using the engine
  // (kDeviceLost). Engines that cannot tell report kFailed after a failure.
  virtual EngineErrorKind last_error_kind() const { return EngineErrorKind::kFailed; }
};

// threads <= 0: one per hardware thread.
std::unique_ptr<PairEngine> make_cpu_pair_engine(int threads = 0);

}  // namespace s2s
