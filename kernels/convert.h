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

// The matrices of libswscale's coefficient table (sws_getCoefficients), by
// the stream's matrix tag; untagged (unspecified) streams get BT.601.
enum class SwscaleMatrix { kBt601, kBt709, kFcc, kSmpte240m, kBt2020 };

// The conversion of the replaced service: libswscale turning a decoded
// frame of `format` (a YUV format) and `height` into BGR24 for
// cv2.VideoCapture, with the matrix of the stream's tag (BT.601 when
// untagged) and the stream's range (full for yuvj* / tagged full range).
// 4:2:0 and 4:2:2 frames of even height take swscale's unscaled SSSE3
// converter (kYuvSwscalePacked), 4:4:4 its generic full-chroma path
// (kYuvSwscaleFull); both bit-exact with cv2. 4:2:0 and 4:2:2 frames of odd
// height take swscale's generic path with interpolated chroma, which this
// does not reproduce: they get the packed arithmetic with the nearest
// chroma sample (docs/metrics.md gives the residual).
YuvToRgb make_service_yuv_to_rgb(PixelFormat format, int height, bool full_range,
                                 SwscaleMatrix matrix = SwscaleMatrix::kBt601);

// Writes rows [row_begin, row_end) of the gray image of `src` into `dst`
// (dst_stride bytes per row). Row ranges let callers split a frame between
// threads; the result does not depend on the split.
void convert_to_gray_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride,
                          int row_begin, int row_end);

// Same for packed RGB (3 bytes per pixel, R first).
void convert_to_rgb_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride,
                         int row_begin, int row_end);

}  // namespace s2s
