// Kernel of the format conversion (see convert_kernels.cu); a header so the
// CPU emulation test (tests/kernels_cuda) can compile the very same code.
#pragma once

#include "cuda_kernels.h"

namespace s2s {
namespace cuda {
namespace detail {

constexpr int kBlockX = 32;
constexpr int kBlockY = 8;
// gridDim.z limit: larger batches are split into several launches.
constexpr int kMaxJobsPerLaunch = 65535;

template <bool kToRgb>
__global__ void __launch_bounds__(kBlockX *kBlockY) convert_kernel(const ConvertJob *jobs, ConvertParams p) {
  const int x = blockIdx.x * kBlockX + threadIdx.x;
  const int y = blockIdx.y * kBlockY + threadIdx.y;
  if (x >= p.width || y >= p.height) return;
  const ConvertJob &job = jobs[blockIdx.z];
  const FormatLayout &l = p.layout;
  const uint8_t *row = job.planes[0] + static_cast<int64_t>(y) * job.strides[0];
  uint8_t *out = job.dst + static_cast<int64_t>(y) * p.dst_pitch;

  if (l.is_yuv) {
    const int64_t chroma_row = y >> l.chroma_shift_y;
    const int64_t chroma_col = static_cast<int64_t>(x >> l.chroma_shift_x) * l.uv_step;
    const int luma = row[x];
    const int u = job.planes[l.u_plane][chroma_row * job.strides[l.u_plane] + chroma_col + l.u_offset];
    const int v = job.planes[l.v_plane][chroma_row * job.strides[l.v_plane] + chroma_col + l.v_offset];
    if (kToRgb) {
      const Rgb8 px = rgb_from_yuv(p.yuv, luma, u, v);
      out[3 * static_cast<int64_t>(x)] = px.r;
      out[3 * static_cast<int64_t>(x) + 1] = px.g;
      out[3 * static_cast<int64_t>(x) + 2] = px.b;
    } else {
      out[x] = gray_from_yuv(p.yuv, luma, u, v);
    }
    return;
  }

  // GRAY8 (pixel_stride 1, all offsets 0) and the packed RGB family.
  const uint8_t *px = row + static_cast<int64_t>(x) * l.pixel_stride;
  const uint8_t r = px[l.r_offset], g = px[l.g_offset], b = px[l.b_offset];
  if (kToRgb) {
    out[3 * static_cast<int64_t>(x)] = r;
    out[3 * static_cast<int64_t>(x) + 1] = g;
    out[3 * static_cast<int64_t>(x) + 2] = b;
  } else {
    out[x] = l.is_gray ? r : gray_from_rgb(r, g, b);
  }
}

}  // namespace detail
}  // namespace cuda
}  // namespace s2s
