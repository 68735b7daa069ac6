// Per-pixel math of OpenCV's cv::resize(INTER_LINEAR) on 8-bit data, shared
// by the CPU twin (resize.cpp) and a CUDA kernel.
//
// What it reproduces, bit for bit, was established against cv2.resize
// (opencv-python-headless 5.0.0, tests/reference/make_resize_golden.py):
//
// * Same size: a copy.
// * Exact 2x downscale in both directions (src = 2*dst on each axis): a 2x2
//   box mean. With 1, 3 or 4 channels it is (a+b+c+d+2) >> 2 (round half up);
//   with any other channel count OpenCV takes its generic area path instead,
//   which rounds the mean half to even. Every other size pair, integer factors
//   included (3x, 4x down, any upscale, 2x on one axis only), is the linear
//   path below.
// * Linear path, per axis: scale = 1 / (dst/src) in double; for output index
//   d, f = float((d + 0.5)*scale - 0.5) (double arithmetic, one rounding to
//   float), i = floor(f), f -= i (float). Weights are 11-bit fixed point:
//   w0 = round_half_even((1.0f - f) * 2048), w1 = round_half_even(f * 2048),
//   each product and difference rounded to float. Because 1 - f is rounded
//   to float, w0 + w1 is 2047 or 2049 at a few large sizes (9835 -> 5463 at
//   d = 0: 1228 + 819), and cv2 uses those weights as they are.
//   - Horizontal: if i < 0 then i = 0, f = 0; if i >= src-1 then i = src-1,
//     f = 0 (so the right-border second tap has weight 0; we read pixel i
//     again instead of one past the row). S = w0*p[i] + w1*p[i+1] (int).
//   - Vertical: f is not clamped; rows i and i+1 are each clamped to
//     [0, src-1].
//   - Combination of the two horizontal sums S0 (row i) and S1 (row i+1):
//     v = ((S0 >> 4)*w0 >> 16) + ((S1 >> 4)*w1 >> 16), out = sat_u8((v+2) >> 2).
//     This is OpenCV's SIMD formula (16-bit high multiplies: S >> 4 <= 32640
//     and w <= 2048 fit in int16 and are non-negative, so it equals the same
//     expression in int32 arithmetic). Its scalar formula,
//     (S0*w0 + S1*w1 + 2^21) >> 22, differs on ~12 % of bytes; in 5.0.0 no
//     output byte takes it: ragged row ends (dst_width*channels not a multiple
//     of the vector width, e.g. 333x111 RGB) match the SIMD formula too.
//   Channel counts 1 to 8 and 16 were checked, upscales, integer and fractional
//   downscales, 1-pixel sources and destinations.
//
// The coefficients are evaluated in double and float exactly as written, with
// no fused multiply-add: the one multiply whose rounding matters goes through
// a volatile on the host and __dmul_rn on the device (the float products are
// by 2048, exact either way). nvcc -arch=sm_90 emits no fma for this header.
#pragma once

#include <cmath>
#include <cstdint>

#include "s2s_math.h"

namespace s2s {

constexpr int kResizeCoefBits = 11;
constexpr int kResizeCoefScale = 1 << kResizeCoefBits;  // 2048

// Which of OpenCV's paths a size pair takes.
enum class ResizeMode : int {
  kCopy = 0,    // same size
  kHalf = 1,    // exact 2x downscale on both axes: 2x2 mean
  kLinear = 2,  // everything else
};

S2S_HD ResizeMode resize_mode(int src_width, int src_height, int dst_width, int dst_height) {
  if (src_width == dst_width && src_height == dst_height) return ResizeMode::kCopy;
  if (src_width == 2 * dst_width && src_height == 2 * dst_height) return ResizeMode::kHalf;
  return ResizeMode::kLinear;
}

// One output index along one axis: the two source indices (already clamped,
// so both are valid) and their 11-bit weights.
struct ResizeTap {
  int32_t i0, i1;
  int32_t w0, w1;
};

// Double-precision steps that must round individually (no FMA).
S2S_HD double resize_dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  // Through a volatile: rounded to double even in a translation unit
  // compiled with FMA contraction (e.g. -march=native -ffp-contract=fast).
  volatile double product = a * b;
  return product;
#endif
}

S2S_HD double resize_dadd(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

S2S_HD double resize_ddiv(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}

// Round half to even of a float in [0, 2^23), independent of the rounding mode.
S2S_HD int32_t resize_round_half_even(float v) {
  const float fl = floorf(v);
  const float frac = v - fl;  // exact: fl <= v < fl + 1, same binade or below
  int32_t i = static_cast<int32_t>(fl);
  if (frac > 0.5f || (frac == 0.5f && (i & 1) != 0)) ++i;
  return i;
}

// OpenCV's source-per-destination scale of an axis: 1 / (dst/src) in double.
S2S_HD double resize_scale(int src_size, int dst_size) {
  return resize_ddiv(1.0, resize_ddiv(static_cast<double>(dst_size), static_cast<double>(src_size)));
}

// Tap of output index d. clamp_frac: true on the horizontal axis (the index
// and the fraction are clamped at both borders), false on the vertical axis
// (the fraction is kept; only the two row indices are clamped).
S2S_HD ResizeTap resize_linear_tap(int d, int src_size, double scale, bool clamp_frac) {
  const double pos = resize_dadd(resize_dmul(static_cast<double>(d) + 0.5, scale), -0.5);
#if defined(__CUDA_ARCH__)
  float f = __double2float_rn(pos);
#else
  float f = static_cast<float>(pos);
#endif
  const float fl = floorf(f);
  int32_t i = static_cast<int32_t>(fl);
  f -= fl;
  ResizeTap t;
  if (clamp_frac) {
    if (i < 0) {
      i = 0;
      f = 0.0f;
    }
    if (i >= src_size - 1) {
      i = src_size - 1;
      f = 0.0f;
    }
    t.i0 = i;
    t.i1 = i + 1 < src_size ? i + 1 : src_size - 1;  // weight 0 when clamped
  } else {
    t.i0 = i < 0 ? 0 : (i > src_size - 1 ? src_size - 1 : i);
    t.i1 = i + 1 < 0 ? 0 : (i + 1 > src_size - 1 ? src_size - 1 : i + 1);
  }
  const float one_minus = 1.0f - f;
  t.w0 = resize_round_half_even(one_minus * static_cast<float>(kResizeCoefScale));
  t.w1 = resize_round_half_even(f * static_cast<float>(kResizeCoefScale));
  return t;
}

// Horizontal pass: one channel of one output pixel from one source row.
S2S_HD int32_t resize_hsum(int32_t p0, int32_t p1, int32_t w0, int32_t w1) { return p0 * w0 + p1 * w1; }

// Vertical pass: combines the horizontal sums of the two source rows.
// Written with 16-bit operands like OpenCV's SIMD code (S >> 4 <= 32640 and
// w <= 2048 fit in int16), which also lets compilers use 16-bit high
// multiplies (pmulhw); the value is the same as in 32-bit arithmetic.
S2S_HD uint8_t resize_vcombine_u8(int32_t s0, int32_t s1, int32_t w0, int32_t w1) {
  const int16_t a0 = static_cast<int16_t>(s0 >> 4), a1 = static_cast<int16_t>(s1 >> 4);
  const int16_t h0 = static_cast<int16_t>((a0 * static_cast<int32_t>(static_cast<int16_t>(w0))) >> 16);
  const int16_t h1 = static_cast<int16_t>((a1 * static_cast<int32_t>(static_cast<int16_t>(w1))) >> 16);
  const int32_t r = (static_cast<int32_t>(h0) + h1 + 2) >> 2;
  return static_cast<uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
}

// One output byte of the linear path from the four source bytes it reads:
// p00 at (tx.i0, ty.i0), p01 at (tx.i1, ty.i0), p10 at (tx.i0, ty.i1), p11
// at (tx.i1, ty.i1). Kernels that produce the source bytes on the fly (the
// CUDA LPIPS input converts YUV as it reads) call this directly.
S2S_HD uint8_t resize_linear_u8_from(int32_t p00, int32_t p01, int32_t p10, int32_t p11, const ResizeTap &tx,
                                     const ResizeTap &ty) {
  const int32_t s0 = resize_hsum(p00, p01, tx.w0, tx.w1);
  const int32_t s1 = resize_hsum(p10, p11, tx.w0, tx.w1);
  return resize_vcombine_u8(s0, s1, ty.w0, ty.w1);
}

// One output byte of the linear path (channel c of the pixel whose taps are
// tx, ty), straight from the source: what a one-thread-per-byte kernel needs.
S2S_HD uint8_t resize_linear_u8_at(const uint8_t *src, int64_t src_stride, int channels, const ResizeTap &tx,
                                   const ResizeTap &ty, int c) {
  const uint8_t *r0 = src + ty.i0 * src_stride;
  const uint8_t *r1 = src + ty.i1 * src_stride;
  const int64_t x0 = static_cast<int64_t>(tx.i0) * channels + c;
  const int64_t x1 = static_cast<int64_t>(tx.i1) * channels + c;
  return resize_linear_u8_from(r0[x0], r0[x1], r1[x0], r1[x1], tx, ty);
}

// Exact 2x downscale: mean of a 2x2 block (sum = a+b+c+d).
S2S_HD uint8_t resize_half_mean_u8(int32_t sum, int channels) {
  if (channels == 1 || channels == 3 || channels == 4) return static_cast<uint8_t>((sum + 2) >> 2);
  // Generic area path: sum * 0.25 rounded half to even.
  int32_t q = sum >> 2;
  const int32_t r = sum & 3;
  if (r > 2 || (r == 2 && (q & 1) != 0)) ++q;
  return static_cast<uint8_t>(q);
}

// One output byte of the 2x path: channel c of output pixel (dx, dy).
S2S_HD uint8_t resize_half_u8_at(const uint8_t *src, int64_t src_stride, int channels, int dx, int dy, int c) {
  const uint8_t *r0 = src + static_cast<int64_t>(2 * dy) * src_stride;
  const uint8_t *r1 = r0 + src_stride;
  const int64_t x0 = static_cast<int64_t>(2 * dx) * channels + c;
  const int64_t x1 = x0 + channels;
  return resize_half_mean_u8(r0[x0] + r0[x1] + r1[x0] + r1[x1], channels);
}

}  // namespace s2s
