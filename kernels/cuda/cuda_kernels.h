// Host-side entry points of the CUDA kernels (conversion, pair sums,
// reductions). Plain C++: included by the engine and the tests, which are
// compiled by the host compiler. Every function only queues work on `stream`
// and returns the launch status; nothing here synchronizes.
//
// All pointers inside the job arrays are device pointers, and the job arrays
// themselves live in device memory (the engine uploads them with the frames).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "frame.h"
#include "musiq_patches.h"
#include "pair_engine.h"
#include "s2s_math.h"

namespace s2s {
namespace cuda {

// One frame to convert: its planes as the format lays them out (FrameView's
// rules: `strides` bytes between rows, plane offsets already applied) and
// where the converted image goes.
struct ConvertJob {
  const uint8_t *planes[3];
  int64_t strides[3];
  uint8_t *dst;
};

struct ConvertParams {
  FormatLayout layout;
  YuvToRgb yuv;
  int width;
  int height;
  int64_t dst_pitch;  // bytes between output rows
};

// 8-bit gray by OpenCV's rule (gray_from_rgb / gray_from_yuv), one image per
// job, width bytes per row.
cudaError_t launch_convert_to_gray(const ConvertJob *jobs, int job_count, const ConvertParams &params,
                                   cudaStream_t stream);

// Packed 8-bit RGB (R, G, B bytes), 3 * width bytes per row.
cudaError_t launch_convert_to_rgb(const ConvertJob *jobs, int job_count, const ConvertParams &params,
                                  cudaStream_t stream);

// One pair of gray images (same size and pitch): a is the earlier frame.
struct PairJob {
  const uint8_t *a;
  const uint8_t *b;
};

// Sums of one pair, or of one block's share of it.
struct PairSums {
  unsigned long long squared_difference;  // exact sum of (a - b)^2
  double ssim;                            // sum of the per-window SSIM
};

// What the fused pass computes. ssim_window is ignored unless with_ssim.
struct PairSumsParams {
  int width;
  int height;
  int64_t pitch;
  bool with_mse;
  bool with_ssim;  // only where ssim_defined_for(window, width, height)
  SsimWindow window;
  double gaussian_taps[6];  // gaussian11_taps(); used by kGaussian11 only
};

// Blocks the fused pass uses per pair = partial sums per pair.
int64_t pair_partials_per_pair(int width, int height);

// Fused MSE + SSIM pass: writes pair_partials_per_pair() partial sums per pair
// into partials[pair * per_pair + block], block in a fixed order.
cudaError_t launch_pair_partial_sums(const PairJob *jobs, int pair_count, const PairSumsParams &params,
                                     PairSums *partials, cudaStream_t stream);

// Deterministic reduction of each pair's partials: sums[pair] from
// partials[pair * per_pair .. +per_pair), always in the same order.
cudaError_t launch_reduce_pair_sums(const PairSums *partials, int64_t per_pair, int pair_count, PairSums *sums,
                                    cudaStream_t stream);

// A probe of whether this binary has code that runs on the current device:
// cudaSuccess, or the error a launch would give (e.g.
// cudaErrorNoKernelImageForDevice).
cudaError_t check_kernel_image();

// ---------------------------------------------------------------------------
// Network inputs (preprocess_kernels.cu), bit for bit the CPU twins of
// preprocess.h. `frames` is a host array of n views whose planes are device
// memory (FrameView's rules: strides, plane offsets applied), all of
// `format`'s pixel format and size; format.yuv converts YUV frames. The
// frames must be ready when the work already queued on `stream` is (make
// the stream wait for their producer first). Outputs are device memory the
// caller owns. The plane pointers travel inside the kernel arguments, so
// these calls need no scratch memory, upload or host synchronisation; the
// host arrays may be reused as soon as they return.
//
// Both return cudaErrorInvalidValue, before queueing anything, for frames
// that do not match `format` (format, size, a missing plane, a stride
// shorter than a row) or bad sizes; n <= 0 queues nothing.
// ---------------------------------------------------------------------------

// LPIPS network input: each frame as 8-bit RGB, resized by OpenCV's
// INTER_LINEAR to out_width x out_height (the frame's own size: no resize),
// as float32 (v / 255 * 2 - 1) channel planes. dst: [n][3][out_height][out_width].
cudaError_t launch_lpips_input(const StreamFormat &format, const FrameView *frames, int n, int out_width,
                               int out_height, float *dst, cudaStream_t stream);

// MUSIQ multi-scale patches, laid out as musiq_patches() lays them out, per
// frame: T = musiq_token_count(config, width, height) tokens of
// kMusiqTokenValues floats at values + frame * T * kMusiqTokenValues, and
// pos, scale, mask at + frame * T. At most 7 longer sides (the native scale
// makes 8), else cudaErrorInvalidValue.
cudaError_t launch_musiq_patches(const StreamFormat &format, const FrameView *frames, int n,
                                 const MusiqPatchConfig &config, float *values, float *pos, float *scale,
                                 float *mask, cudaStream_t stream);

}  // namespace cuda
}  // namespace s2s
