// Network inputs on the GPU, straight from the frames in device memory:
// LPIPS's resized [-1, 1] RGB planes and MUSIQ's multi-scale patches.
//
// LPIPS: one thread per output pixel converts the (up to four) source pixels
// it reads to RGB, combines them as OpenCV's 8-bit INTER_LINEAR does
// (resize_math.h: copy, 2x2 mean or fixed-point linear) and writes the three
// normalised floats. At 1080p -> 256x256 that reads about a tenth of the
// frame and writes only the network input: a fused kernel needs neither an
// RGB copy of the frame nor a second pass.
//
// MUSIQ: one block per token. Real tokens of the native scale read their
// 32x32 source pixels once; those of a rescaled scale compute each pixel's
// bicubic 4x4 neighbourhood (musiq_math.h, ATen's order); padding and
// all-zero tokens are written as zeros; thread 0 writes the token's
// position, scale id and mask.
//
// All arithmetic is the CPU twin's (integer, or float steps that round
// individually through _rn intrinsics; this file is built with
// -fmad=false as well), so the results are bitwise the same.
#include "preprocess_kernels.cuh"

namespace s2s {
namespace cuda {

using namespace detail;

cudaError_t launch_lpips_input(const StreamFormat &format, const FrameView *frames, int n, int out_width,
                               int out_height, float *dst, cudaStream_t stream) {
  return plan_lpips_input(format, frames, n, out_width, out_height, dst,
                          [stream](const dim3 &grid, const dim3 &block, const LpipsArgs &args) {
                            lpips_input_kernel<<<grid, block, 0, stream>>>(args);
                            return cudaGetLastError();
                          });
}

cudaError_t launch_musiq_patches(const StreamFormat &format, const FrameView *frames, int n,
                                 const MusiqPatchConfig &config, float *values, float *pos, float *scale,
                                 float *mask, cudaStream_t stream) {
  return plan_musiq_patches(format, frames, n, config, values, pos, scale, mask,
                            [stream](const dim3 &grid, const dim3 &block, const MusiqArgs &args) {
                              musiq_patches_kernel<<<grid, block, 0, stream>>>(args);
                              return cudaGetLastError();
                            });
}

}  // namespace cuda
}  // namespace s2s
