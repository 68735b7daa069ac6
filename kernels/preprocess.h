// CPU twins of the networks' input preparation, one frame at a time, as the
// engines of models/ run it and as the CUDA kernels of
// kernels/cuda/preprocess_kernels.cuh must reproduce bit for bit:
//
// * LPIPS: the frame as 8-bit RGB (convert.h), resized by OpenCV's
//   INTER_LINEAR on 8-bit data to out_width x out_height (resize.h; the same
//   size is a copy), then float32 planar CHW in [-1, 1] by
//   lpips_value_from_u8.
// * MUSIQ: the frame as 8-bit RGB, then the multi-scale patches of
//   musiq_patches.h.
//
// lpips_value_from_u8 is the one per-value step not already in a shared
// header, so it lives here, __host__ __device__ like the rest.
#pragma once

#include <cstdint>
#include <vector>

#include "frame.h"
#include "musiq_patches.h"
#include "s2s_math.h"

namespace s2s {

// The service's normalisation: float32(v) / 255 * 2 - 1, each step rounded
// to float. The product by 2 is exact, so a compiler fusing it with the
// subtraction could not change the value either.
S2S_HD float lpips_value_from_u8(int v) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(__fdiv_rn(static_cast<float>(v), 255.0f), 2.0f), -1.0f);
#else
  return static_cast<float>(v) / 255.0f * 2.0f - 1.0f;
#endif
}

// Buffers reused across frames (an RGB frame and its resized copy).
struct PreprocessScratch {
  std::vector<uint8_t> rgb, resized;
};

// LPIPS network input of one frame: 3 * out_height * out_width floats at
// dst, channel planes R, G, B. frame: width x height of any PixelFormat in
// host memory; yuv: the stream's YUV matrix (YUV formats only).
void lpips_input(const FrameView &frame, const YuvToRgb &yuv, int out_width, int out_height, float *dst,
                 PreprocessScratch *scratch);

// MUSIQ tokens of one frame, laid out as musiq_patches() writes them
// (musiq_token_count(config, width, height) tokens).
void musiq_frame_patches(const FrameView &frame, const YuvToRgb &yuv, const MusiqPatchConfig &config, float *tokens,
                         float *pos, float *scale, float *mask, PreprocessScratch *scratch);

}  // namespace s2s
