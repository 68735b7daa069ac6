// Kernels of the fused MSE + SSIM pass and its reduction (the method is
// described in pair_kernels.cu); a header so the CPU emulation test
// (tests/kernels_cuda) can compile the very same code.
#pragma once

#include "cuda_kernels.h"

namespace s2s {
namespace cuda {
namespace detail {

constexpr int kTileW = 32;
constexpr int kTileH = 16;
constexpr int kThreadsX = 32;  // one warp per tile row; x = threadIdx.x
constexpr int kThreadsY = 8;   // each thread covers tile rows ty, ty + 8
constexpr int kThreads = kThreadsX * kThreadsY;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxPairsPerLaunch = 65535;  // gridDim.z limit
constexpr int kReduceThreads = 256;

enum class SsimMode { kNone, kUniform7, kGaussian11 };

template <SsimMode kMode>
__host__ __device__ constexpr int halo_radius() {
  return kMode == SsimMode::kUniform7 ? 3 : (kMode == SsimMode::kGaussian11 ? 5 : 0);
}

struct TileOrigin {
  int x0, y0;
};

// True where (gx, gy) is a window centre scikit-image averages.
__device__ __forceinline__ bool is_centre(int gx, int gy, int radius, const PairSumsParams &p) {
  return gx >= radius && gx < p.width - radius && gy >= radius && gy < p.height - radius;
}

// Sum of the uniform 7x7 SSIM over this thread's centres. `tile_*` hold the
// (kTileH + 6) x (kTileW + 6) pixels around the tile.
//
// ssim_uniform7_from_sums needs Sx, Sy, Sxy and only Sxx + Syy, so three
// column sums suffice, which saves shared-memory traffic in both passes:
// x and y packed in one word (x + 65536 y; a window's Sx, Sy <= 49 * 255 =
// 12495, so the halves never carry into each other), x^2 + y^2 and x*y. The
// sums are exact integers, so the window values are those of five separate
// sums.
__device__ double tile_ssim_uniform7(const uint8_t *tile_a, const uint8_t *tile_b, TileOrigin t,
                                     const PairSumsParams &p) {
  constexpr int kR = 3;
  constexpr int kSw = kTileW + 2 * kR;
  // Column sums of 7 rows for each tile row and each loaded column.
  __shared__ uint32_t col_packed[kTileH * kSw];
  __shared__ int32_t col_squares[kTileH * kSw], col_cross[kTileH * kSw];
  const int tid = threadIdx.y * kThreadsX + threadIdx.x;
  for (int i = tid; i < kTileH * kSw; i += kThreads) {
    const int r = i / kSw;
    const int c = i - r * kSw;
    uint32_t packed = 0;
    int32_t squares = 0, cross = 0;
#pragma unroll
    for (int dy = 0; dy < 2 * kR + 1; ++dy) {
      const int32_t a = tile_a[(r + dy) * kSw + c];
      const int32_t b = tile_b[(r + dy) * kSw + c];
      packed += static_cast<uint32_t>(a + (b << 16));
      squares += a * a + b * b;
      cross += a * b;
    }
    col_packed[i] = packed;
    col_squares[i] = squares;
    col_cross[i] = cross;
  }
  __syncthreads();
  double total = 0;
  for (int r = threadIdx.y; r < kTileH; r += kThreadsY) {
    if (!is_centre(t.x0 + threadIdx.x, t.y0 + r, kR, p)) continue;
    // Loaded column c is image column x0 - 3 + c: the window of centre
    // x0 + tx spans columns tx .. tx + 6.
    const int base = r * kSw + threadIdx.x;
    uint32_t packed = 0;
    int32_t squares = 0, cross = 0;
#pragma unroll
    for (int dx = 0; dx < 2 * kR + 1; ++dx) {
      packed += col_packed[base + dx];
      squares += col_squares[base + dx];
      cross += col_cross[base + dx];
    }
    const int32_t sx = static_cast<int32_t>(packed & 0xFFFFu);
    const int32_t sy = static_cast<int32_t>(packed >> 16);
    total += ssim_uniform7_from_sums(sx, sy, squares, 0, cross);
  }
  return total;
}

// Sum of the Gaussian 11x11 SSIM over this thread's centres.
__device__ double tile_ssim_gaussian11(const uint8_t *tile_a, const uint8_t *tile_b, TileOrigin t,
                                       const PairSumsParams &p) {
  constexpr int kR = 5;
  constexpr int kSw = kTileW + 2 * kR;
  __shared__ double col_x[kTileH * kSw], col_y[kTileH * kSw], col_xx[kTileH * kSw], col_yy[kTileH * kSw],
      col_xy[kTileH * kSw];
  double taps[6];
#pragma unroll
  for (int k = 0; k < 6; ++k) taps[k] = p.gaussian_taps[k];
  const int tid = threadIdx.y * kThreadsX + threadIdx.x;
  for (int i = tid; i < kTileH * kSw; i += kThreads) {
    const int r = i / kSw;
    const int c = i - r * kSw;
    // Centre of the vertical pass: loaded row r + 5 = image row y0 + r.
    const int centre = (r + kR) * kSw + c;
    const Moments5 m = gaussian11_pixel_pass(taps, tile_a + centre, tile_b + centre, kSw, kSw);
    col_x[i] = m.x;
    col_y[i] = m.y;
    col_xx[i] = m.xx;
    col_yy[i] = m.yy;
    col_xy[i] = m.xy;
  }
  __syncthreads();
  double total = 0;
  for (int r = threadIdx.y; r < kTileH; r += kThreadsY) {
    if (!is_centre(t.x0 + threadIdx.x, t.y0 + r, kR, p)) continue;
    const int centre = r * kSw + threadIdx.x + kR;
    total += ssim_gaussian11_from_columns(taps, col_x + centre, col_y + centre, col_xx + centre, col_yy + centre,
                                          col_xy + centre);
  }
  return total;
}

// Fixed-order block reduction; thread 0 writes the block's partial.
__device__ void store_block_sums(uint32_t squared, double ssim, PairSums *out) {
  __shared__ uint32_t warp_squared[kWarps];
  __shared__ double warp_ssim[kWarps];
  const int tid = threadIdx.y * kThreadsX + threadIdx.x;
  // A block's squared differences are at most 512 * 255^2 < 2^32.
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    squared += __shfl_down_sync(0xffffffffu, squared, offset);
    ssim += __shfl_down_sync(0xffffffffu, ssim, offset);
  }
  if ((tid & 31) == 0) {
    warp_squared[tid >> 5] = squared;
    warp_ssim[tid >> 5] = ssim;
  }
  __syncthreads();
  if (tid == 0) {
    unsigned long long total_squared = 0;
    double total_ssim = 0;
    for (int w = 0; w < kWarps; ++w) {
      total_squared += warp_squared[w];
      total_ssim += warp_ssim[w];
    }
    out->squared_difference = total_squared;
    out->ssim = total_ssim;
  }
}

template <SsimMode kMode>
__global__ void __launch_bounds__(kThreads) pair_sums_kernel(const PairJob *jobs, PairSumsParams p,
                                                              PairSums *partials) {
  constexpr int kR = halo_radius<kMode>();
  constexpr int kSw = kTileW + 2 * kR;
  constexpr int kSh = kTileH + 2 * kR;
  __shared__ uint8_t tile_a[kSh * kSw];
  __shared__ uint8_t tile_b[kSh * kSw];

  const PairJob job = jobs[blockIdx.z];
  const TileOrigin t{static_cast<int>(blockIdx.x) * kTileW, static_cast<int>(blockIdx.y) * kTileH};
  const int tid = threadIdx.y * kThreadsX + threadIdx.x;

  // Tile plus halo; consecutive threads read consecutive bytes of a row.
  for (int i = tid; i < kSh * kSw; i += kThreads) {
    const int r = i / kSw;
    const int c = i - r * kSw;
    const int gy = t.y0 - kR + r;
    const int gx = t.x0 - kR + c;
    uint8_t a = 0, b = 0;
    if (gy >= 0 && gy < p.height && gx >= 0 && gx < p.width) {
      const int64_t offset = static_cast<int64_t>(gy) * p.pitch + gx;
      a = job.a[offset];
      b = job.b[offset];
    }
    tile_a[i] = a;
    tile_b[i] = b;
  }
  __syncthreads();

  uint32_t squared = 0;
  if (p.with_mse) {
    for (int r = threadIdx.y; r < kTileH; r += kThreadsY) {
      if (t.y0 + r >= p.height || t.x0 + static_cast<int>(threadIdx.x) >= p.width) continue;
      const int i = (r + kR) * kSw + threadIdx.x + kR;
      squared += squared_difference(tile_a[i], tile_b[i]);
    }
  }

  double ssim = 0;
  if constexpr (kMode == SsimMode::kUniform7) ssim = tile_ssim_uniform7(tile_a, tile_b, t, p);
  if constexpr (kMode == SsimMode::kGaussian11) ssim = tile_ssim_gaussian11(tile_a, tile_b, t, p);

  const int64_t per_pair = static_cast<int64_t>(gridDim.x) * gridDim.y;
  store_block_sums(squared, ssim,
                   partials + blockIdx.z * per_pair + static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x);
}

__global__ void __launch_bounds__(kReduceThreads) reduce_pair_sums_kernel(const PairSums *partials, int64_t per_pair,
                                                                          PairSums *sums) {
  __shared__ unsigned long long squared[kReduceThreads];
  __shared__ double ssim[kReduceThreads];
  const PairSums *mine = partials + static_cast<int64_t>(blockIdx.x) * per_pair;
  unsigned long long sq = 0;
  double ss = 0;
  for (int64_t i = threadIdx.x; i < per_pair; i += kReduceThreads) {
    sq += mine[i].squared_difference;
    ss += mine[i].ssim;
  }
  squared[threadIdx.x] = sq;
  ssim[threadIdx.x] = ss;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half >>= 1) {
    if (static_cast<int>(threadIdx.x) < half) {
      squared[threadIdx.x] += squared[threadIdx.x + half];
      ssim[threadIdx.x] += ssim[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    sums[blockIdx.x].squared_difference = squared[0];
    sums[blockIdx.x].ssim = ssim[0];
  }
}

inline int64_t partials_per_pair(int width, int height) {
  return static_cast<int64_t>((width + kTileW - 1) / kTileW) * ((height + kTileH - 1) / kTileH);
}

}  // namespace detail
}  // namespace cuda
}  // namespace s2s
