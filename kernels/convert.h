// CPU twin of the conversion kernels: any supported format to 8-bit gray
// (OpenCV's rule) or to packed 8-bit RGB, through the shared per-pixel math of
// s2s_math.h.
#pragma once

#include <cstdint>

#include "frame.h"
#include "s2s_math.h"

namespace s2s {

// Fixed-point YUV->RGB coefficients for a matrix given by Kr and Kb (BT.601:
// 0.299/0.114, BT.709: 0.2126/0.0722, BT.2020: 0.2627/0.0593) and a range
// (limited: Y 16..235, UV 16..240; full: 0..255).
YuvToRgb make_yuv_to_rgb(double kr, double kb, bool full_range);

// Writes rows [row_begin, row_end) of the gray image of `src` into `dst`
// (dst_stride bytes per row). Row ranges let callers split a frame between
// threads; the result does not depend on the split.
void convert_to_gray_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride,
                          int row_begin, int row_end);

// Same for packed RGB (3 bytes per pixel, R first).
void convert_to_rgb_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride,
                         int row_begin, int row_end);

}  // namespace s2s
