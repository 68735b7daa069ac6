#include "frame.h"

namespace s2s {

namespace {

FormatLayout packed(int pixel_stride, int r, int g, int b) {
  FormatLayout l{};
  l.pixel_stride = pixel_stride;
  l.r_offset = r;
  l.g_offset = g;
  l.b_offset = b;
  return l;
}

// u_plane/v_plane: plane of each chroma sample; for semi-planar formats both
// are plane 1 with a 2-byte step and offsets 0/1 inside the pair.
FormatLayout yuv(int u_plane, int v_plane, int uv_step, int u_off, int v_off, int shift_x, int shift_y) {
  FormatLayout l{};
  l.is_yuv = true;
  l.u_plane = u_plane;
  l.v_plane = v_plane;
  l.uv_step = uv_step;
  l.u_offset = u_off;
  l.v_offset = v_off;
  l.chroma_shift_x = shift_x;
  l.chroma_shift_y = shift_y;
  return l;
}

}  // namespace

FormatLayout format_layout(PixelFormat f) {
  switch (f) {
    case PixelFormat::kGray8: {
      FormatLayout l = packed(1, 0, 0, 0);
      l.is_gray = true;
      return l;
    }
    case PixelFormat::kRgb: return packed(3, 0, 1, 2);
    case PixelFormat::kBgr: return packed(3, 2, 1, 0);
    case PixelFormat::kRgba: return packed(4, 0, 1, 2);
    case PixelFormat::kRgbx: return packed(4, 0, 1, 2);
    case PixelFormat::kBgra: return packed(4, 2, 1, 0);
    case PixelFormat::kBgrx: return packed(4, 2, 1, 0);
    case PixelFormat::kArgb: return packed(4, 1, 2, 3);
    case PixelFormat::kXrgb: return packed(4, 1, 2, 3);
    case PixelFormat::kAbgr: return packed(4, 3, 2, 1);
    case PixelFormat::kXbgr: return packed(4, 3, 2, 1);
    case PixelFormat::kI420: return yuv(1, 2, 1, 0, 0, 1, 1);
    case PixelFormat::kYv12: return yuv(2, 1, 1, 0, 0, 1, 1);
    case PixelFormat::kY42b: return yuv(1, 2, 1, 0, 0, 1, 0);
    case PixelFormat::kY444: return yuv(1, 2, 1, 0, 0, 0, 0);
    case PixelFormat::kNv12: return yuv(1, 1, 2, 0, 1, 1, 1);
    case PixelFormat::kNv21: return yuv(1, 1, 2, 1, 0, 1, 1);
    case PixelFormat::kNv16: return yuv(1, 1, 2, 0, 1, 1, 0);
    case PixelFormat::kNv24: return yuv(1, 1, 2, 0, 1, 0, 0);
  }
  return packed(1, 0, 0, 0);
}

const char *format_name(PixelFormat f) {
  switch (f) {
    case PixelFormat::kGray8: return "GRAY8";
    case PixelFormat::kRgb: return "RGB";
    case PixelFormat::kBgr: return "BGR";
    case PixelFormat::kRgba: return "RGBA";
    case PixelFormat::kBgra: return "BGRA";
    case PixelFormat::kRgbx: return "RGBx";
    case PixelFormat::kBgrx: return "BGRx";
    case PixelFormat::kArgb: return "ARGB";
    case PixelFormat::kAbgr: return "ABGR";
    case PixelFormat::kXrgb: return "xRGB";
    case PixelFormat::kXbgr: return "xBGR";
    case PixelFormat::kI420: return "I420";
    case PixelFormat::kYv12: return "YV12";
    case PixelFormat::kY42b: return "Y42B";
    case PixelFormat::kY444: return "Y444";
    case PixelFormat::kNv12: return "NV12";
    case PixelFormat::kNv21: return "NV21";
    case PixelFormat::kNv16: return "NV16";
    case PixelFormat::kNv24: return "NV24";
  }
  return "?";
}

}  // namespace s2s
