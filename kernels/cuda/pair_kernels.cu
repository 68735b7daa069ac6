// The fused MSE + SSIM pass over a batch of gray image pairs, and the
// deterministic reduction of its per-block partial sums.
//
// Each block owns a kTileW x kTileH tile of one pair (gridDim.z = pair). It
// loads the tile plus the window's halo of both images into shared memory
// once, then
//   - MSE: sums (a - b)^2 over the tile's own pixels (each pixel belongs to
//     exactly one tile, so the integer total is exact);
//   - SSIM: for the tile's pixels that are window centres scikit-image keeps
//     (radius r from every edge), a vertical pass into shared column moments
//     and a horizontal pass per centre, with the CPU twin's math:
//     uniform 7x7 as exact int32 window sums -> ssim_uniform7_from_sums;
//     Gaussian 11x11 as double passes in scipy's tap order
//     (gaussian11_pixel_pass, ssim_gaussian11_from_columns).
// Pixels outside the image are loaded as 0; only centres whose whole window
// lies inside the image are used, so those zeros never reach a result.
//
// Each block reduces its threads' sums in a fixed tree and writes one
// partial; a second kernel adds a pair's partials in a fixed order. Results
// therefore do not depend on scheduling, batch size or batch position.
#include "pair_kernels.cuh"

namespace s2s {
namespace cuda {

namespace {

using namespace detail;

template <SsimMode kMode>
cudaError_t launch_pair_sums(const PairJob *jobs, int pair_count, const PairSumsParams &params, PairSums *partials,
                             cudaStream_t stream) {
  const dim3 block(kThreadsX, kThreadsY);
  const int64_t per_pair = pair_partials_per_pair(params.width, params.height);
  for (int first = 0; first < pair_count; first += kMaxPairsPerLaunch) {
    const int count = pair_count - first < kMaxPairsPerLaunch ? pair_count - first : kMaxPairsPerLaunch;
    const dim3 grid((params.width + kTileW - 1) / kTileW, (params.height + kTileH - 1) / kTileH, count);
    pair_sums_kernel<kMode><<<grid, block, 0, stream>>>(jobs + first, params, partials + first * per_pair);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace

int64_t pair_partials_per_pair(int width, int height) { return partials_per_pair(width, height); }

cudaError_t launch_pair_partial_sums(const PairJob *jobs, int pair_count, const PairSumsParams &params,
                                     PairSums *partials, cudaStream_t stream) {
  if (pair_count <= 0 || params.width <= 0 || params.height <= 0) return cudaSuccess;
  if (!params.with_ssim) return launch_pair_sums<SsimMode::kNone>(jobs, pair_count, params, partials, stream);
  if (params.window == SsimWindow::kUniform7)
    return launch_pair_sums<SsimMode::kUniform7>(jobs, pair_count, params, partials, stream);
  return launch_pair_sums<SsimMode::kGaussian11>(jobs, pair_count, params, partials, stream);
}

cudaError_t launch_reduce_pair_sums(const PairSums *partials, int64_t per_pair, int pair_count, PairSums *sums,
                                    cudaStream_t stream) {
  if (pair_count <= 0) return cudaSuccess;
  reduce_pair_sums_kernel<<<pair_count, kReduceThreads, 0, stream>>>(partials, per_pair, sums);
  return cudaGetLastError();
}

cudaError_t check_kernel_image() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, reduce_pair_sums_kernel);
}

}  // namespace cuda
}  // namespace s2s
