// Conversion of any supported format to 8-bit gray (OpenCV's rule) or packed
// 8-bit RGB, one thread per output pixel, all frames of a batch in one launch
// (gridDim.z = frame). The per-pixel math is the CPU twin's (s2s_math.h):
// integer only, so both give bitwise the same bytes.
//
// Reads stay inside each plane: row y of plane 0 and row y >> chroma_shift_y
// of the chroma planes, column x >> chroma_shift_x, both below the plane's
// rounded-up size for odd widths and heights.
#include "convert_kernels.cuh"

namespace s2s {
namespace cuda {

namespace {

using namespace detail;

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
