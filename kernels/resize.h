// CPU twin of the resize kernels.
//
// resize_linear_u8: OpenCV cv::resize(INTER_LINEAR) on 8-bit interleaved data,
// bit-exact (fixed-point, no antialiasing), as docs/metrics.md describes:
// 11-bit weights per axis, horizontal sums in int, the vertical pass of
// OpenCV's vector path, exact 2x downscale as a 2x2 mean, same size a copy.
// The per-output-pixel math lives in resize_math.h so a CUDA kernel can
// share it.
#pragma once

#include <cstdint>

namespace s2s {

// src: width x height x channels bytes, rows src_stride bytes apart.
// dst: dst_width x dst_height x channels, rows dst_stride bytes apart.
// Rows [row_begin, row_end) of the output only, so callers can split a frame
// between threads.
void resize_linear_u8(const uint8_t *src, int64_t src_stride, int width, int height, int channels, uint8_t *dst,
                      int64_t dst_stride, int dst_width, int dst_height, int row_begin, int row_end);

}  // namespace s2s
