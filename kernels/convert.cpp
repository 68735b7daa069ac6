#include "convert.h"

#include <cmath>
#include <cstring>

namespace s2s {

YuvToRgb make_yuv_to_rgb(double kr, double kb, bool full_range) {
  const double kg = 1.0 - kr - kb;
  const double luma_gain = full_range ? 1.0 : 255.0 / 219.0;
  const double chroma_gain = full_range ? 1.0 : 255.0 / 224.0;
  const double one = static_cast<double>(1 << kYuvFracBits);
  auto fixed = [one](double c) { return static_cast<int32_t>(std::lround(c * one)); };
  YuvToRgb m;
  m.y_offset = full_range ? 0 : 16;
  m.c_y = fixed(luma_gain);
  m.c_rv = fixed(chroma_gain * 2.0 * (1.0 - kr));
  m.c_gu = fixed(-chroma_gain * 2.0 * kb * (1.0 - kb) / kg);
  m.c_gv = fixed(-chroma_gain * 2.0 * kr * (1.0 - kr) / kg);
  m.c_bu = fixed(chroma_gain * 2.0 * (1.0 - kb));
  return m;
}

namespace {

// Packed RGB, compile-time layout so the compiler vectorizes the row loop.
template <int kStride, int kR, int kG, int kB>
void packed_to_gray_row(const uint8_t *src, uint8_t *dst, int width) {
  for (int x = 0; x < width; ++x) {
    const uint8_t *p = src + x * kStride;
    dst[x] = gray_from_rgb(p[kR], p[kG], p[kB]);
  }
}

template <int kStride, int kR, int kG, int kB>
void packed_to_rgb_row(const uint8_t *src, uint8_t *dst, int width) {
  for (int x = 0; x < width; ++x) {
    const uint8_t *p = src + x * kStride;
    dst[3 * x] = p[kR];
    dst[3 * x + 1] = p[kG];
    dst[3 * x + 2] = p[kB];
  }
}

using RowFn = void (*)(const uint8_t *, uint8_t *, int);

template <bool kGray>
RowFn packed_row_fn(PixelFormat f) {
#define S2S_ROW(S, R, G, B) (kGray ? &packed_to_gray_row<S, R, G, B> : &packed_to_rgb_row<S, R, G, B>)
  switch (f) {
    case PixelFormat::kRgb: return S2S_ROW(3, 0, 1, 2);
    case PixelFormat::kBgr: return S2S_ROW(3, 2, 1, 0);
    case PixelFormat::kRgba:
    case PixelFormat::kRgbx: return S2S_ROW(4, 0, 1, 2);
    case PixelFormat::kBgra:
    case PixelFormat::kBgrx: return S2S_ROW(4, 2, 1, 0);
    case PixelFormat::kArgb:
    case PixelFormat::kXrgb: return S2S_ROW(4, 1, 2, 3);
    case PixelFormat::kAbgr:
    case PixelFormat::kXbgr: return S2S_ROW(4, 3, 2, 1);
    default: return nullptr;
  }
#undef S2S_ROW
}

// One row of a YUV frame. Chroma is taken from the sample covering the pixel
// (x >> shift_x, y >> shift_y): nearest siting, no interpolation, which keeps
// every read inside the plane for odd sizes (chroma planes are ceil(w/2)
// wide) and is trivially the same on the GPU.
template <bool kGray>
void yuv_row(const FrameView &src, const FormatLayout &l, const YuvToRgb &m, int y, uint8_t *dst) {
  const uint8_t *yp = src.planes[0] + y * src.strides[0];
  const int cy = y >> l.chroma_shift_y;
  const uint8_t *up = src.planes[l.u_plane] + cy * src.strides[l.u_plane] + l.u_offset;
  const uint8_t *vp = src.planes[l.v_plane] + cy * src.strides[l.v_plane] + l.v_offset;
  const int step = l.uv_step;
  const int sx = l.chroma_shift_x;
  for (int x = 0; x < src.width; ++x) {
    const int c = (x >> sx) * step;
    if (kGray) {
      dst[x] = gray_from_yuv(m, yp[x], up[c], vp[c]);
    } else {
      const Rgb8 p = rgb_from_yuv(m, yp[x], up[c], vp[c]);
      dst[3 * x] = p.r;
      dst[3 * x + 1] = p.g;
      dst[3 * x + 2] = p.b;
    }
  }
}

template <bool kGray>
void convert_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride, int row_begin,
                  int row_end) {
  const FormatLayout l = format_layout(src.format);
  for (int y = row_begin; y < row_end; ++y) {
    uint8_t *out = dst + y * dst_stride;
    if (l.is_yuv) {
      yuv_row<kGray>(src, l, yuv, y, out);
    } else if (l.is_gray) {
      const uint8_t *in = src.planes[0] + y * src.strides[0];
      if (kGray) {
        std::memcpy(out, in, static_cast<size_t>(src.width));
      } else {
        for (int x = 0; x < src.width; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
      }
    } else {
      packed_row_fn<kGray>(src.format)(src.planes[0] + y * src.strides[0], out, src.width);
    }
  }
}

}  // namespace

void convert_to_gray_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride,
                          int row_begin, int row_end) {
  convert_rows<true>(src, yuv, dst, dst_stride, row_begin, row_end);
}

void convert_to_rgb_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride,
                         int row_begin, int row_end) {
  convert_rows<false>(src, yuv, dst, dst_stride, row_begin, row_end);
}

}  // namespace s2s
