// MUSIQ no-reference quality score per frame (pyiqa's implementation and
// checkpoints: koniq10k, spaq, paq2piq with one output; ava with 10 classes
// and the mean opinion score). No GStreamer.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "frame.h"
#include "lpips_engine.h"  // NetPrecision
#include "musiq_patches.h"
#include "pair_engine.h"   // StreamFormat

namespace s2s {

struct MusiqConfig {
  std::string model_path;
  bool cuda = false;
  int cuda_device = 0;
  NetPrecision precision = NetPrecision::kFp32;
  MusiqPatchConfig patches;
};

class MusiqEngine {
 public:
  virtual ~MusiqEngine() = default;
  virtual std::string device_name() const = 0;
  // Variant from the file's metadata: koniq10k, spaq, paq2piq or ava.
  virtual std::string variant() const = 0;
  virtual bool configure(const StreamFormat &format, std::string *error) = 0;
  // Scores frames[0 .. n) independently, in the variant's MOS scale.
  virtual bool score(const FrameView *frames, size_t n, double *scores, std::string *error) = 0;
  // Same as score() for frames in device memory of this engine's GPU, ready
  // once the work queued so far on `producer_stream` (a cudaStream_t) is done.
  virtual bool score_device(const FrameView *frames, size_t n, void *producer_stream, double *scores,
                            std::string *error) {
    (void)frames, (void)n, (void)producer_stream, (void)scores;
    if (error) *error = "the MUSIQ engine on " + device_name() + " cannot read frames in device memory";
    return false;
  }
};

// Loads and validates the model (errors name the file and tensor).
std::unique_ptr<MusiqEngine> make_musiq_engine(const MusiqConfig &config, std::string *error);

}  // namespace s2s
