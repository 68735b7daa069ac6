// Per-pixel and per-window math shared by the CPU engine and the CUDA kernels.
//
// Everything here is a small inline function with no allocation and no
// library calls, so nvcc can compile it as __host__ __device__ and the CPU
// tests in CI check the very arithmetic that runs on the GPU.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define S2S_HD __host__ __device__ __forceinline__
#else
#define S2S_HD inline
#endif

namespace s2s {

// ---------------------------------------------------------------------------
// Gray: OpenCV COLOR_BGR2GRAY / COLOR_RGB2GRAY on 8-bit data.
// Current OpenCV uses 15-bit fixed-point weights; the older 14-bit table
// (4899/9617/1868) differs on ~0.3 % of pixels, so it must not be used.
// The weights sum to 32768, so a gray pixel (v, v, v) maps to v exactly.
// ---------------------------------------------------------------------------
constexpr int kGrayWeightB = 3735;
constexpr int kGrayWeightG = 19235;
constexpr int kGrayWeightR = 9798;

S2S_HD uint8_t gray_from_rgb(int r, int g, int b) {
  return static_cast<uint8_t>((kGrayWeightB * b + kGrayWeightG * g + kGrayWeightR * r + 16384) >> 15);
}

// ---------------------------------------------------------------------------
// YUV -> 8-bit RGB by the caps' colorimetry (matrix Kr/Kb and range).
//
// Coefficients are 20-bit fixed point, computed once per stream on the host
// (make_yuv_to_rgb in convert.cpp) from the exact real-valued matrix, so the
// CPU and the GPU give bit-identical RGB. The largest rounding error of the
// fixed-point sum is < 2e-4 of a code value, so the result equals the
// real-valued conversion rounded to nearest except when that value lies
// within 2e-4 of a .5 boundary.
// ---------------------------------------------------------------------------
constexpr int kYuvFracBits = 20;

// Which integer algorithm the coefficients below feed (YuvToRgb::method).
enum YuvMethod : int32_t {
  // The caps' colorimetry, exact real-valued conversion rounded to nearest
  // (20-bit coefficients, this section).
  kYuvExact = 0,
  // libswscale's unscaled YUV->BGR24 converter as cv2.VideoCapture runs it
  // on x86-64 (4:2:0 and 4:2:2, even height): the SSSE3 routine's 16-bit
  // arithmetic. See swscale_packed_rgb below.
  kYuvSwscalePacked = 1,
  // libswscale's generic path with full chroma (4:4:4 input): 30-bit sums
  // that wrap like FFmpeg's int arithmetic. See swscale_full_rgb below.
  kYuvSwscaleFull = 2,
};

struct YuvToRgb {
  int32_t y_offset;  // kYuvExact: 16 (limited range) or 0 (full range); swscale: its scaled offset
  int32_t c_y;       // luma gain
  int32_t c_rv;      // R from V
  int32_t c_gu;      // G from U (negative)
  int32_t c_gv;      // G from V (negative)
  int32_t c_bu;      // B from U
  int32_t method;    // a YuvMethod; value-initialised: kYuvExact
};

S2S_HD uint8_t clamp_u8_fixed(int32_t v) {
  v = (v + (1 << (kYuvFracBits - 1))) >> kYuvFracBits;  // round half up
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

struct Rgb8 {
  uint8_t r, g, b;
};

// The conversion in two parts, so a chroma sample's terms can be computed
// once for all the pixels it covers. Integer sums are exact, so splitting
// them changes nothing in the result.
struct ChromaTerms {
  int32_t r, g, b;
};

S2S_HD ChromaTerms chroma_terms(const YuvToRgb &m, int u, int v) {
  const int32_t uu = u - 128;
  const int32_t vv = v - 128;
  ChromaTerms t;
  t.r = m.c_rv * vv;
  t.g = m.c_gu * uu + m.c_gv * vv;
  t.b = m.c_bu * uu;
  return t;
}

S2S_HD int32_t luma_term(const YuvToRgb &m, int y) { return m.c_y * (y - m.y_offset); }

S2S_HD uint8_t gray_from_terms(int32_t luma, int32_t cr, int32_t cg, int32_t cb) {
  return gray_from_rgb(clamp_u8_fixed(luma + cr), clamp_u8_fixed(luma + cg), clamp_u8_fixed(luma + cb));
}

// ---------------------------------------------------------------------------
// libswscale's YUV->BGR24 integer arithmetic, as the replaced service's
// cv2.VideoCapture ran it (opencv-python-headless' bundled FFmpeg, x86-64).
// Coefficients: make_service_yuv_to_rgb in convert.cpp (swscale's own table
// setup: the matrix of the stream's tag, BT.601 when untagged; limited or
// full range).
//
// kYuvSwscalePacked, the unscaled converter's SSSE3 routine (the path for
// 4:2:0 and 4:2:2 frames of even height): every value is a 16-bit lane.
// Y, U and V are scaled by 8 and offset (Y by y_offset = 8 * 16 or 0, U and
// V by 8 * 128), multiplied by 13-bit coefficients keeping the high 16 bits
// of the product (pmulhw: an arithmetic shift right by 16, i.e. floor), the
// chroma products added to the luma product and the sums clamped to 0..255
// (packuswb). No lane can saturate for 8-bit input (|sum| < 600), so plain
// int32 arithmetic gives the same bytes. The floors are why swscale's RGB
// sits about half a level below the exact conversion.
// ---------------------------------------------------------------------------
S2S_HD int32_t swscale_mulhi(int32_t a, int32_t coeff) { return (a * coeff) >> 16; }

S2S_HD int32_t swscale_packed_luma(const YuvToRgb &m, int y) { return swscale_mulhi((y << 3) - m.y_offset, m.c_y); }

S2S_HD ChromaTerms swscale_packed_chroma(const YuvToRgb &m, int u, int v) {
  const int32_t uu = (u << 3) - 1024;
  const int32_t vv = (v << 3) - 1024;
  ChromaTerms t;
  t.r = swscale_mulhi(vv, m.c_rv);
  t.g = swscale_mulhi(uu, m.c_gu) + swscale_mulhi(vv, m.c_gv);
  t.b = swscale_mulhi(uu, m.c_bu);
  return t;
}

S2S_HD uint8_t clamp_u8(int32_t v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

S2S_HD Rgb8 swscale_packed_rgb(const YuvToRgb &m, int y, int u, int v) {
  const int32_t l = swscale_packed_luma(m, y);
  const ChromaTerms t = swscale_packed_chroma(m, u, v);
  Rgb8 out;
  out.r = clamp_u8(l + t.r);
  out.g = clamp_u8(l + t.g);
  out.b = clamp_u8(l + t.b);
  return out;
}

// kYuvSwscaleFull, the generic path's full-chroma writer (4:4:4 input): the
// horizontal scaler hands Y, U, V on as 15-bit values (x << 7), the
// one-tap vertical output scales them by 4 more, so Y = y << 9 and
// U = (u - 128) << 9. Then Y' = (Y - y_offset) * c_y + 2^21 and each channel
// is Y' + chroma * 13-bit coefficient, clipped to 30 bits and shifted down by
// 22. The sums are FFmpeg's int arithmetic: a bright luma plus a large
// chroma term overflows int32, wraps negative and clips to 0 (y 255, u 244,
// v 0, limited range, gives blue 0 in cv2, not 255). Unsigned arithmetic
// reproduces that wrap without undefined behaviour.
S2S_HD uint8_t swscale_full_channel(uint32_t sum) {
  const int32_t s = static_cast<int32_t>(sum);
  const int32_t clipped = (s & ~0x3FFFFFFF) ? ((~s) >> 31) & 0x3FFFFFFF : s;  // av_clip_uintp2(s, 30)
  return static_cast<uint8_t>(clipped >> 22);
}

S2S_HD Rgb8 swscale_full_rgb(const YuvToRgb &m, int y, int u, int v) {
  const uint32_t l = static_cast<uint32_t>(((y << 9) - m.y_offset) * m.c_y + (1 << 21));
  const uint32_t uu = static_cast<uint32_t>((u - 128) * 512);
  const uint32_t vv = static_cast<uint32_t>((v - 128) * 512);
  Rgb8 out;
  out.r = swscale_full_channel(l + vv * static_cast<uint32_t>(m.c_rv));
  out.g = swscale_full_channel(l + vv * static_cast<uint32_t>(m.c_gv) + uu * static_cast<uint32_t>(m.c_gu));
  out.b = swscale_full_channel(l + uu * static_cast<uint32_t>(m.c_bu));
  return out;
}

S2S_HD Rgb8 rgb_from_yuv(const YuvToRgb &m, int y, int u, int v) {
  if (m.method == kYuvSwscalePacked) return swscale_packed_rgb(m, y, u, v);
  if (m.method == kYuvSwscaleFull) return swscale_full_rgb(m, y, u, v);
  const int32_t yy = luma_term(m, y);
  const ChromaTerms t = chroma_terms(m, u, v);
  Rgb8 out;
  out.r = clamp_u8_fixed(yy + t.r);
  out.g = clamp_u8_fixed(yy + t.g);
  out.b = clamp_u8_fixed(yy + t.b);
  return out;
}

S2S_HD uint8_t gray_from_yuv(const YuvToRgb &m, int y, int u, int v) {
  if (m.method != kYuvExact) {
    const Rgb8 p = rgb_from_yuv(m, y, u, v);
    return gray_from_rgb(p.r, p.g, p.b);
  }
  const ChromaTerms t = chroma_terms(m, u, v);
  return gray_from_terms(luma_term(m, y), t.r, t.g, t.b);
}

// ---------------------------------------------------------------------------
// SSIM constants, as scikit-image computes them (data_range 255).
// ---------------------------------------------------------------------------
constexpr double kSsimC1 = (0.01 * 255) * (0.01 * 255);  // 6.502500000000001
constexpr double kSsimC2 = (0.03 * 255) * (0.03 * 255);  // 58.522499999999994

// SSIM of one window from its local means, in scikit-image's operation order
// (structural_similarity: vx = cov_norm * (uxx - ux*ux), ...).
// Used for the Gaussian window, whose means are real-valued.
S2S_HD double ssim_from_means(double ux, double uy, double uxx, double uyy, double uxy, double cov_norm) {
  const double vx = cov_norm * (uxx - ux * ux);
  const double vy = cov_norm * (uyy - uy * uy);
  const double vxy = cov_norm * (uxy - ux * uy);
  const double a1 = 2 * ux * uy + kSsimC1;
  const double a2 = 2 * vxy + kSsimC2;
  const double b1 = ux * ux + uy * uy + kSsimC1;
  const double b2 = vx + vy + kSsimC2;
  return (a1 * a2) / (b1 * b2);
}

// SSIM of one 7x7 uniform window from the exact integer sums of x, y, x*x,
// y*y and x*y over its 49 pixels.
//
// scikit-image divides first (ux = Sx/49, uxx = Sxx/49) and then subtracts
// (uxx - ux*ux), losing digits to cancellation. Multiplying numerator and
// denominator by 49^2 turns every moment into an exact integer:
//   49^2 * (2 ux uy + C1)       = 2 Sx Sy + 49^2 C1
//   49^2 * vxy                  = cov_norm * (49 Sxy - Sx Sy)
//   49^2 * (ux^2 + uy^2 + C1)   = Sx^2 + Sy^2 + 49^2 C1
//   49^2 * (vx + vy)            = cov_norm * (49 (Sxx + Syy) - Sx^2 - Sy^2)
// and the common factor 49^4 cancels in the ratio. With 8-bit pixels every
// product below is < 2^31 (Sx <= 12495, Sxx <= 3,186,225), so int32 is exact,
// and the only rounding is in the final double expression: the result is
// closer to the true SSIM than scikit-image's and agrees with it far inside
// 1e-9.
constexpr double kUniform7CovNorm = 49.0 / 48.0;  // sample covariance, NP/(NP-1)
constexpr double kUniform7C1Scaled = kSsimC1 * 2401.0;
constexpr double kUniform7C2Scaled = kSsimC2 * 2401.0;

S2S_HD double ssim_uniform7_from_sums(int32_t sx, int32_t sy, int32_t sxx, int32_t syy, int32_t sxy) {
  const int32_t pxy = sx * sy;
  const int32_t qx = sx * sx;
  const int32_t qy = sy * sy;
  const int32_t cov = 49 * sxy - pxy;
  const int32_t var = 49 * (sxx + syy) - qx - qy;
  const double num = (2.0 * pxy + kUniform7C1Scaled) * (2.0 * kUniform7CovNorm * cov + kUniform7C2Scaled);
  const double den = (static_cast<double>(qx + qy) + kUniform7C1Scaled) * (kUniform7CovNorm * var + kUniform7C2Scaled);
  return num / den;
}

// ---------------------------------------------------------------------------
// Gaussian 11x11 window as two separable 11-tap passes, in scipy.ndimage's
// operation order (the order of sum_ssim_gaussian11 in pair_metrics_cpu.cpp):
// each output starts with centre * t0, then adds (v[-k] + v[+k]) * t[k] for
// k = 5 .. 1. Products of 8-bit values are exact in double, so compiled
// without contraction (-ffp-contract=off, nvcc -fmad=false) the CPU and the
// GPU round identically and give bitwise the same window values.
// taps[0] is the centre tap, taps[k] the tap k pixels away.
// ---------------------------------------------------------------------------
struct Moments5 {
  double x, y, xx, yy, xy;
};

// Vertical pass: moments of the 11 pixels centred on a[0] / b[0], each
// image's pixels `step_a` / `step_b` elements apart.
template <typename Index>
S2S_HD Moments5 gaussian11_pixel_pass(const double taps[6], const uint8_t *a, const uint8_t *b, Index step_a,
                                      Index step_b) {
  const double x = a[0], y = b[0];
  Moments5 m;
  m.x = x * taps[0];
  m.y = y * taps[0];
  m.xx = x * x * taps[0];
  m.yy = y * y * taps[0];
  m.xy = x * y * taps[0];
  for (int k = 5; k >= 1; --k) {
    const double x0 = a[-k * step_a], x1 = a[k * step_a];
    const double y0 = b[-k * step_b], y1 = b[k * step_b];
    m.x += (x0 + x1) * taps[k];
    m.y += (y0 + y1) * taps[k];
    m.xx += (x0 * x0 + x1 * x1) * taps[k];
    m.yy += (y0 * y0 + y1 * y1) * taps[k];
    m.xy += (x0 * y0 + x1 * y1) * taps[k];
  }
  return m;
}

// Horizontal pass over the vertical moments, each array pointing at the
// centre column (neighbours 1 element apart), then the window's SSIM with
// the population covariance (cov_norm 1) as scikit-image uses it for
// gaussian_weights=True, use_sample_covariance=False.
S2S_HD double ssim_gaussian11_from_columns(const double taps[6], const double *vx, const double *vy,
                                           const double *vxx, const double *vyy, const double *vxy) {
  double ux = vx[0] * taps[0], uy = vy[0] * taps[0];
  double uxx = vxx[0] * taps[0], uyy = vyy[0] * taps[0], uxy = vxy[0] * taps[0];
  for (int k = 5; k >= 1; --k) {
    ux += (vx[-k] + vx[k]) * taps[k];
    uy += (vy[-k] + vy[k]) * taps[k];
    uxx += (vxx[-k] + vxx[k]) * taps[k];
    uyy += (vyy[-k] + vyy[k]) * taps[k];
    uxy += (vxy[-k] + vxy[k]) * taps[k];
  }
  return ssim_from_means(ux, uy, uxx, uyy, uxy, 1.0);
}

// Squared difference of two 8-bit pixels (the MSE term); exact in 32 bits.
S2S_HD uint32_t squared_difference(int a, int b) {
  const int d = a - b;
  return static_cast<uint32_t>(d * d);
}

// ---------------------------------------------------------------------------
// SSIM windows.
// ---------------------------------------------------------------------------
enum class SsimWindow {
  kUniform7,    // scikit-image defaults: 7x7 uniform, sample covariance
  kGaussian11,  // Wang et al. 2004: Gaussian sigma 1.5, 11 taps, population covariance
};

// Pixels cropped on each side before averaging (scikit-image: (win - 1) / 2).
S2S_HD int ssim_window_radius(SsimWindow w) { return w == SsimWindow::kUniform7 ? 3 : 5; }

// scikit-image raises for frames with a side smaller than the window.
S2S_HD bool ssim_defined_for(SsimWindow w, int width, int height) {
  const int size = 2 * ssim_window_radius(w) + 1;
  return width >= size && height >= size;
}

}  // namespace s2s
