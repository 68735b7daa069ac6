// GStreamer-free description of a raw video frame: format, size, planes.
//
// The element fills a FrameView from a mapped GstVideoFrame (which honours
// GstVideoMeta strides and plane offsets); the engines only ever read through
// it, so padding between rows is never touched.
#pragma once

#include <cstdint>

#include "s2s_math.h"

namespace s2s {

enum class PixelFormat {
  kGray8,
  // packed RGB family: byte offsets of R, G, B within a 3- or 4-byte pixel
  kRgb, kBgr, kRgba, kBgra, kRgbx, kBgrx, kArgb, kAbgr, kXrgb, kXbgr,
  // YUV, 8 bits, planar or semi-planar
  kI420, kYv12, kY42b, kY444, kNv12, kNv21, kNv16, kNv24,
};

// Every format, in declaration order, for code that must cover them all.
inline constexpr PixelFormat kAllPixelFormats[] = {
    PixelFormat::kGray8, PixelFormat::kRgb,  PixelFormat::kBgr,  PixelFormat::kRgba, PixelFormat::kBgra,
    PixelFormat::kRgbx,  PixelFormat::kBgrx, PixelFormat::kArgb, PixelFormat::kAbgr, PixelFormat::kXrgb,
    PixelFormat::kXbgr,  PixelFormat::kI420, PixelFormat::kYv12, PixelFormat::kY42b, PixelFormat::kY444,
    PixelFormat::kNv12,  PixelFormat::kNv21, PixelFormat::kNv16, PixelFormat::kNv24,
};
inline constexpr int kPixelFormatCount = sizeof kAllPixelFormats / sizeof kAllPixelFormats[0];

// How to read R, G, B (packed formats) or Y, U, V (YUV formats) of a format.
struct FormatLayout {
  bool is_yuv;
  bool is_gray;
  // packed RGB: bytes per pixel and byte offsets of R, G, B
  int pixel_stride;
  int r_offset, g_offset, b_offset;
  // YUV: plane index and byte step of U and V samples (2 for semi-planar),
  // byte offset of U/V inside a semi-planar pair, chroma subsampling shifts
  int u_plane, v_plane;
  int uv_step;
  int u_offset, v_offset;
  int chroma_shift_x, chroma_shift_y;
};

FormatLayout format_layout(PixelFormat f);
const char *format_name(PixelFormat f);

struct FrameView {
  PixelFormat format = PixelFormat::kGray8;
  int width = 0;
  int height = 0;
  const uint8_t *planes[3] = {nullptr, nullptr, nullptr};
  int64_t strides[3] = {0, 0, 0};  // bytes between rows of each plane
};

}  // namespace s2s
