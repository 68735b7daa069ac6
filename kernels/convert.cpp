#include "convert.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "simd.h"

namespace s2s {

YuvToRgb make_yuv_to_rgb(double kr, double kb, bool full_range) {
  const double kg = 1.0 - kr - kb;
  const double luma_gain = full_range ? 1.0 : 255.0 / 219.0;
  const double chroma_gain = full_range ? 1.0 : 255.0 / 224.0;
  const double one = static_cast<double>(1 << kYuvFracBits);
  auto fixed = [one](double c) { return static_cast<int32_t>(std::lround(c * one)); };
  YuvToRgb m{};
  m.y_offset = full_range ? 0 : 16;
  m.c_y = fixed(luma_gain);
  m.c_rv = fixed(chroma_gain * 2.0 * (1.0 - kr));
  m.c_gu = fixed(-chroma_gain * 2.0 * kb * (1.0 - kb) / kg);
  m.c_gv = fixed(-chroma_gain * 2.0 * kr * (1.0 - kr) / kg);
  m.c_bu = fixed(chroma_gain * 2.0 * (1.0 - kb));
  return m;
}

namespace {

// swscale's roundToInt16: a 16.16 value rounded to an integer (x86-64
// arithmetic shift, so negative values round half up too).
int32_t swscale_round16(int64_t v) { return static_cast<int32_t>((v + (1 << 15)) >> 16); }

}  // namespace

YuvToRgb make_service_yuv_to_rgb(PixelFormat format, int height, bool full_range, SwscaleMatrix matrix) {
  // swscale's coefficient table (ff_yuv2rgb_coeffs), 16.16 fixed point:
  // R from V, B from U, G from U, G from V (magnitudes), limited range.
  static const int32_t kTable[][4] = {
      {104597, 132201, 25675, 53279},  // BT.601 (SMPTE 170M, BT.470BG, unspecified)
      {117489, 138438, 13975, 34925},  // BT.709
      {104448, 132798, 24759, 53109},  // FCC
      {117579, 136230, 16907, 35559},  // SMPTE 240M
      {110013, 140363, 12277, 42626},  // BT.2020 non-constant luminance
  };
  const int32_t *t = kTable[static_cast<int>(matrix)];
  int64_t crv = t[0], cbu = t[1], cgu = -t[2], cgv = -t[3];
  int64_t cy = 1 << 16, oy = 0;
  if (full_range) {
    // C integer division truncates toward zero, also for the negative ones
    crv = crv * 224 / 255;
    cbu = cbu * 224 / 255;
    cgu = cgu * 224 / 255;
    cgv = cgv * 224 / 255;
  } else {
    cy = cy * 255 / 219;
    oy = 16 << 16;
  }
  // (contrast and saturation are 1.0 and brightness 0: cy, crv, ... unchanged)
  const FormatLayout l = format_layout(format);
  const bool full_chroma = l.chroma_shift_x == 0 && l.chroma_shift_y == 0;
  YuvToRgb m{};
  m.c_y = swscale_round16(cy * (1 << 13));
  m.c_rv = swscale_round16(crv * (1 << 13));
  m.c_bu = swscale_round16(cbu * (1 << 13));
  m.c_gu = swscale_round16(cgu * (1 << 13));
  m.c_gv = swscale_round16(cgv * (1 << 13));
  if (full_chroma) {
    m.method = kYuvSwscaleFull;
    m.y_offset = swscale_round16(oy * (1 << 9));
  } else {
    m.method = kYuvSwscalePacked;
    m.y_offset = swscale_round16(oy * (1 << 3));
  }
  (void)height;  // odd heights: see convert.h
  return m;
}

namespace {

// Packed RGB, compile-time layout so the compiler vectorizes the row loop.
template <int kStride, int kR, int kG, int kB>
S2S_SIMD_CLONES void packed_to_gray_row(const uint8_t *src, uint8_t *dst, int width) {
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
//
// Gray is the hot path (every frame of s2smetrics). The chroma terms of a
// chroma row are computed once, vectorized, and spread over the pixels they
// cover; luma rows that share the chroma row (both rows of a 4:2:0 pair)
// reuse them. The rounding constant and the luma offset are folded into the
// terms: c_y * (y - off) + t + 2^19 == c_y * y + (t + 2^19 - c_y * off) in
// exact int32 arithmetic (every sum stays below 2^30), so the result is
// gray_from_terms's, bit for bit, and the per-pixel loop is a multiply, three
// adds, shifts, clamps and the gray weights on contiguous arrays.
struct ChromaRow {
  std::vector<int32_t> r, g, b;     // per pixel (spread), bias folded in
  std::vector<int32_t> sr, sg, sb;  // per chroma sample
  int row = -1;                     // chroma row they hold
};

template <int kStep>
S2S_SIMD_CLONES void chroma_samples(const uint8_t *__restrict up, const uint8_t *__restrict vp, int samples,
                                    int32_t c_rv, int32_t c_gu, int32_t c_gv, int32_t c_bu, int32_t bias,
                                    int32_t *__restrict tr, int32_t *__restrict tg, int32_t *__restrict tb) {
  for (int c = 0; c < samples; ++c) {
    const int32_t uu = static_cast<int32_t>(up[c * kStep]) - 128;
    const int32_t vv = static_cast<int32_t>(vp[c * kStep]) - 128;
    tr[c] = c_rv * vv + bias;
    tg[c] = (c_gu * uu + c_gv * vv) + bias;
    tb[c] = c_bu * uu + bias;
  }
}

S2S_SIMD_CLONES void spread2(const int32_t *__restrict in, int samples, int32_t *__restrict out) {
  for (int c = 0; c < samples; ++c) {
    out[2 * c] = in[c];
    out[2 * c + 1] = in[c];
  }
}

S2S_INLINE int32_t clamp_shifted(int32_t v) {
  v >>= kYuvFracBits;
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

S2S_SIMD_CLONES void gray_from_luma_row(const uint8_t *__restrict yp, int width, int32_t c_y,
                                        const int32_t *__restrict cr, const int32_t *__restrict cg,
                                        const int32_t *__restrict cb, uint8_t *__restrict dst) {
  for (int x = 0; x < width; ++x) {
    const int32_t l = c_y * static_cast<int32_t>(yp[x]);
    const int32_t r = clamp_shifted(l + cr[x]);
    const int32_t g = clamp_shifted(l + cg[x]);
    const int32_t b = clamp_shifted(l + cb[x]);
    dst[x] = static_cast<uint8_t>((kGrayWeightB * b + kGrayWeightG * g + kGrayWeightR * r + 16384) >> 15);
  }
}

// The service's packed conversion (kYuvSwscalePacked) in the same scheme:
// per chroma sample the three chroma products (8-bit units), per pixel the
// luma product, two adds, clamps and the gray weights.
template <int kStep>
S2S_SIMD_CLONES void swscale_chroma_samples(const uint8_t *__restrict up, const uint8_t *__restrict vp,
                                            int samples, int32_t c_rv, int32_t c_gu, int32_t c_gv, int32_t c_bu,
                                            int32_t *__restrict tr, int32_t *__restrict tg,
                                            int32_t *__restrict tb) {
  for (int c = 0; c < samples; ++c) {
    const int32_t uu = (static_cast<int32_t>(up[c * kStep]) << 3) - 1024;
    const int32_t vv = (static_cast<int32_t>(vp[c * kStep]) << 3) - 1024;
    tr[c] = (vv * c_rv) >> 16;
    tg[c] = ((uu * c_gu) >> 16) + ((vv * c_gv) >> 16);
    tb[c] = (uu * c_bu) >> 16;
  }
}

S2S_INLINE int32_t clamp_u8_i32(int32_t v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

S2S_SIMD_CLONES void swscale_gray_from_luma_row(const uint8_t *__restrict yp, int width, int32_t c_y,
                                                int32_t y_offset, const int32_t *__restrict cr,
                                                const int32_t *__restrict cg, const int32_t *__restrict cb,
                                                uint8_t *__restrict dst) {
  for (int x = 0; x < width; ++x) {
    const int32_t l = (((static_cast<int32_t>(yp[x]) << 3) - y_offset) * c_y) >> 16;
    const int32_t r = clamp_u8_i32(l + cr[x]);
    const int32_t g = clamp_u8_i32(l + cg[x]);
    const int32_t b = clamp_u8_i32(l + cb[x]);
    dst[x] = static_cast<uint8_t>((kGrayWeightB * b + kGrayWeightG * g + kGrayWeightR * r + 16384) >> 15);
  }
}

void yuv_gray_row_any(const FrameView &src, const FormatLayout &l, const YuvToRgb &m, int y, ChromaRow &t,
                      uint8_t *dst) {
  if (m.method == kYuvSwscaleFull) {  // 4:4:4 only: per pixel
    const uint8_t *yp = src.planes[0] + y * src.strides[0];
    const uint8_t *up = src.planes[l.u_plane] + (y >> l.chroma_shift_y) * src.strides[l.u_plane] + l.u_offset;
    const uint8_t *vp = src.planes[l.v_plane] + (y >> l.chroma_shift_y) * src.strides[l.v_plane] + l.v_offset;
    for (int x = 0; x < src.width; ++x) {
      const int c = (x >> l.chroma_shift_x) * l.uv_step;
      dst[x] = gray_from_yuv(m, yp[x], up[c], vp[c]);
    }
    return;
  }
  const bool packed = m.method == kYuvSwscalePacked;
  const int cy = y >> l.chroma_shift_y;
  if (t.row != cy) {
    const uint8_t *up = src.planes[l.u_plane] + cy * src.strides[l.u_plane] + l.u_offset;
    const uint8_t *vp = src.planes[l.v_plane] + cy * src.strides[l.v_plane] + l.v_offset;
    const int samples = (src.width + (1 << l.chroma_shift_x) - 1) >> l.chroma_shift_x;
    const int32_t bias = (1 << (kYuvFracBits - 1)) - m.c_y * m.y_offset;
    // 4:4:4 computes straight into the per-pixel arrays
    int32_t *tr = l.chroma_shift_x ? t.sr.data() : t.r.data();
    int32_t *tg = l.chroma_shift_x ? t.sg.data() : t.g.data();
    int32_t *tb = l.chroma_shift_x ? t.sb.data() : t.b.data();
    if (packed && l.uv_step == 2)
      swscale_chroma_samples<2>(up, vp, samples, m.c_rv, m.c_gu, m.c_gv, m.c_bu, tr, tg, tb);
    else if (packed)
      swscale_chroma_samples<1>(up, vp, samples, m.c_rv, m.c_gu, m.c_gv, m.c_bu, tr, tg, tb);
    else if (l.uv_step == 2)
      chroma_samples<2>(up, vp, samples, m.c_rv, m.c_gu, m.c_gv, m.c_bu, bias, tr, tg, tb);
    else
      chroma_samples<1>(up, vp, samples, m.c_rv, m.c_gu, m.c_gv, m.c_bu, bias, tr, tg, tb);
    if (l.chroma_shift_x) {
      spread2(tr, samples, t.r.data());
      spread2(tg, samples, t.g.data());
      spread2(tb, samples, t.b.data());
    }
    t.row = cy;
  }
  if (packed)
    swscale_gray_from_luma_row(src.planes[0] + y * src.strides[0], src.width, m.c_y, m.y_offset, t.r.data(),
                               t.g.data(), t.b.data(), dst);
  else
    gray_from_luma_row(src.planes[0] + y * src.strides[0], src.width, m.c_y, t.r.data(), t.g.data(),
                       t.b.data(), dst);
}

void yuv_rgb_row(const FrameView &src, const FormatLayout &l, const YuvToRgb &m, int y, uint8_t *dst) {
  const uint8_t *yp = src.planes[0] + y * src.strides[0];
  const int cy = y >> l.chroma_shift_y;
  const uint8_t *up = src.planes[l.u_plane] + cy * src.strides[l.u_plane] + l.u_offset;
  const uint8_t *vp = src.planes[l.v_plane] + cy * src.strides[l.v_plane] + l.v_offset;
  for (int x = 0; x < src.width; ++x) {
    const int c = (x >> l.chroma_shift_x) * l.uv_step;
    const Rgb8 p = rgb_from_yuv(m, yp[x], up[c], vp[c]);
    dst[3 * x] = p.r;
    dst[3 * x + 1] = p.g;
    dst[3 * x + 2] = p.b;
  }
}

template <bool kGray>
void convert_rows(const FrameView &src, const YuvToRgb &yuv, uint8_t *dst, int64_t dst_stride, int row_begin,
                  int row_end) {
  const FormatLayout l = format_layout(src.format);
  ChromaRow chroma;
  if (kGray && l.is_yuv) {
    // rounded up to whole chroma samples: the spread loop writes them all
    const size_t n = static_cast<size_t>(src.width) + 1;
    chroma.r.resize(n);
    chroma.g.resize(n);
    chroma.b.resize(n);
    chroma.sr.resize(n);
    chroma.sg.resize(n);
    chroma.sb.resize(n);
  }
  for (int y = row_begin; y < row_end; ++y) {
    uint8_t *out = dst + y * dst_stride;
    if (l.is_yuv) {
      if (kGray)
        yuv_gray_row_any(src, l, yuv, y, chroma, out);
      else
        yuv_rgb_row(src, l, yuv, y, out);
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
