// Conversion of any supported format to 8-bit gray (OpenCV's rule) or packed
// 8-bit RGB, one thread per output pixel, all frames of a batch in one launch
// (gridDim.z = frame). The per-pixel math is the CPU twin's (s2s_math.h):
// integer only, so both give bitwise the same bytes.
//
// Reads stay inside each plane: row y of plane 0 and row y >> chroma_shift_y
// of the chroma planes, column x >> chroma_shift_x, both below the plane's
// rounded-up size for odd widths and heights.
#include "cuda_kernels.h"

namespace s2s {
namespace cuda {

namespace {

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

template <bool kToRgb>
cudaError_t launch_convert(const ConvertJob *jobs, int job_count, const ConvertParams &params, cudaStream_t stream) {
  if (job_count <= 0 || params.width <= 0 || params.height <= 0) return cudaSuccess;
  const dim3 block(kBlockX, kBlockY);
  for (int first = 0; first < job_count; first += kMaxJobsPerLaunch) {
    const int count = job_count - first < kMaxJobsPerLaunch ? job_count - first : kMaxJobsPerLaunch;
    const dim3 grid((params.width + kBlockX - 1) / kBlockX, (params.height + kBlockY - 1) / kBlockY, count);
    convert_kernel<kToRgb><<<grid, block, 0, stream>>>(jobs + first, params);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t launch_convert_to_gray(const ConvertJob *jobs, int job_count, const ConvertParams &params,
                                   cudaStream_t stream) {
  return launch_convert<false>(jobs, job_count, params, stream);
}

cudaError_t launch_convert_to_rgb(const ConvertJob *jobs, int job_count, const ConvertParams &params,
                                  cudaStream_t stream) {
  return launch_convert<true>(jobs, job_count, params, stream);
}

}  // namespace cuda
}  // namespace s2s
