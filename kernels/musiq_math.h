// Per-pixel math of MUSIQ's multi-scale patching (musiq_patches.h), shared by
// the CPU twin (musiq_patches.cpp) and a CUDA kernel.
//
// What it reproduces, bit for bit, was established against pyiqa 0.1.16's
// get_multiscale_patches on PyTorch 2.11's CPU kernels
// (tests/musiq_patches/musiq_reference.py):
//
// * Pixel values: float32 (v / 255 - 0.5) * 2, as torch computes
//   (x.float() / 255 - 0.5) * 2 element by element.
// * Scale sizes: ratio = L / max(h, w) in double, rh = round(h * ratio),
//   rw = round(w * ratio), Python's round (half to even) of the double.
// * Resize: F.interpolate(mode='bicubic', align_corners=False, antialias=False)
//   on float32 NCHW, i.e. ATen's non-separable cubic kernel, whose arithmetic
//   depends on the CPU build of the kernel. Its AVX2 build (what torch runs
//   on x86-64 CPUs with AVX2 + FMA, and what the reference script pins) is
//   compiled with FMA contraction, and the contraction GCC chose is part of
//   the result. Per axis and output index d, with scale = float(in) / float(out):
//     real = fma(scale, float(d) + 0.5f, -0.5f)            (one rounding)
//     i    = min(floor(real), in - 1)
//     t    = clamp(real - float(i), 0, 1)
//     w0 = c2(t + 1), w1 = c1(t), w2 = c1(1 - t), w3 = c2((1 - t) + 1)
//     c1(x) = (fma(A + 2, x, -(A + 3)) * x) * x + 1        (A = -0.75)
//     c2(x) = fma(fma(A, x, -5A), x, 8A) * x - 4A
//   (the products and sums written with * and + round individually: the
//   outermost step of each polynomial is not fused), taps i - 1 .. i + 2
//   clamped to [0, in - 1]. A sample is a 4x4 sum done as two 1-D sums,
//   width inside, height outside, each
//     s = p1 * w1; s = fma(p0, w0, s); s = fma(p2, w2, s); s = fma(p3, w3, s)
//   (GCC fused the first product into the second term). The width sums of a
//   source row do not depend on the output row, so computing them once per
//   row (separably) gives the very same values. A same-size axis has
//   weights exactly (0, 1, 0, 0) and is the identity.
//   The DEFAULT (no-FMA) build of the same kernel rounds every step and
//   differs by up to ~1.3e-4 on a 1920 -> 224 resize, so pyiqa's result is
//   machine-dependent at that level; this header follows the AVX2 build.
// * Spatial hash: F.interpolate(mode='nearest') of arange(G) to `count`
//   entries: idx = min(floor(float(i) * (float(G) / float(count))), G - 1),
//   pos = idx(row, rows) * G + idx(col, cols).
// * TF 'SAME' padding to a multiple of 32: pad = ceil(n / 32) * 32 - n,
//   pad / 2 before, the rest after.
//
// No fused multiply-add may appear where none is written: on the device every
// rounding step goes through an _rn intrinsic (nvcc contracts by default);
// on the host the weight steps go through volatiles, and the per-pixel sums
// use only fmaf and one plain product (translation units including this
// header should be built with -ffp-contract=off, as kernels/ is).
#pragma once

#include <cmath>
#include <cstdint>

#include "s2s_math.h"

namespace s2s {

constexpr float kMusiqCubicA = -0.75f;

// ---------------------------------------------------------------------------
// Individually rounded float steps.
// ---------------------------------------------------------------------------
S2S_HD float musiq_fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  volatile float product = a * b;
  return product;
#endif
}

S2S_HD float musiq_fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  volatile float sum = a + b;
  return sum;
#endif
}

S2S_HD float musiq_fdiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

S2S_HD float musiq_fma(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return fmaf(a, b, c);
#endif
}

// ---------------------------------------------------------------------------
// Pixel values: 8-bit -> [-1, 1].
// ---------------------------------------------------------------------------
S2S_HD float musiq_value_from_u8(int v) {
  const float unit = musiq_fdiv(static_cast<float>(v), 255.0f);
  return musiq_fmul(musiq_fadd(unit, -0.5f), 2.0f);
}

// ---------------------------------------------------------------------------
// Scale sizes.
// ---------------------------------------------------------------------------

// Python's round() of a non-negative double (half to even), independent of
// the rounding mode. Values are image sizes, far below 2^31.
S2S_HD int32_t musiq_round_half_even(double v) {
  const double fl = floor(v);
  const double frac = v - fl;  // exact
  int32_t i = static_cast<int32_t>(fl);
  if (frac > 0.5 || (frac == 0.5 && (i & 1) != 0)) ++i;
  return i;
}

struct MusiqSize {
  int32_t height, width;
};

// Aspect-preserving size for longer side `longer` (pyiqa's
// resize_preserve_aspect_ratio). pyiqa fails on a side that rounds to 0
// (extreme aspect ratios); we keep one row or column there.
S2S_HD MusiqSize musiq_scaled_size(int height, int width, int longer) {
  const int longest = height > width ? height : width;
#if defined(__CUDA_ARCH__)
  const double ratio = __ddiv_rn(static_cast<double>(longer), static_cast<double>(longest));
  const double rh = __dmul_rn(static_cast<double>(height), ratio);
  const double rw = __dmul_rn(static_cast<double>(width), ratio);
#else
  const double ratio = static_cast<double>(longer) / static_cast<double>(longest);
  volatile double rh_v = static_cast<double>(height) * ratio;
  volatile double rw_v = static_cast<double>(width) * ratio;
  const double rh = rh_v;
  const double rw = rw_v;
#endif
  MusiqSize s;
  s.height = musiq_round_half_even(rh);
  s.width = musiq_round_half_even(rw);
  if (s.height < 1) s.height = 1;
  if (s.width < 1) s.width = 1;
  return s;
}

// ---------------------------------------------------------------------------
// Bicubic taps (per axis, per output index).
// ---------------------------------------------------------------------------
struct MusiqCubicTap {
  int32_t idx[4];  // source indices, clamped to [0, in - 1]
  float w[4];
};

// c1(x) for |x| <= 1.
S2S_HD float musiq_cubic_c1(float x) {
  const float p = musiq_fma(kMusiqCubicA + 2.0f, x, -(kMusiqCubicA + 3.0f));
  return musiq_fadd(musiq_fmul(musiq_fmul(p, x), x), 1.0f);
}

// c2(x) for 1 <= |x| <= 2.
S2S_HD float musiq_cubic_c2(float x) {
  const float s1 = musiq_fma(kMusiqCubicA, x, -(5.0f * kMusiqCubicA));
  const float s2 = musiq_fma(s1, x, 8.0f * kMusiqCubicA);
  return musiq_fadd(musiq_fmul(s2, x), -(4.0f * kMusiqCubicA));
}

// Source-per-destination scale of an axis: float(in) / float(out).
S2S_HD float musiq_cubic_scale(int in_size, int out_size) {
  return musiq_fdiv(static_cast<float>(in_size), static_cast<float>(out_size));
}

S2S_HD MusiqCubicTap musiq_cubic_tap(int d, int in_size, float scale) {
  const float real = musiq_fma(scale, musiq_fadd(static_cast<float>(d), 0.5f), -0.5f);
  int32_t i = static_cast<int32_t>(floorf(real));
  if (i > in_size - 1) i = in_size - 1;
  float t = musiq_fadd(real, -static_cast<float>(i));
  t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
  // torch adds and subtracts 1.0 in double and converts the result to
  // float; for t in [0, 1] that equals the float operation.
  const float x2 = musiq_fadd(1.0f, -t);
  MusiqCubicTap tap;
  tap.w[0] = musiq_cubic_c2(musiq_fadd(t, 1.0f));
  tap.w[1] = musiq_cubic_c1(t);
  tap.w[2] = musiq_cubic_c1(x2);
  tap.w[3] = musiq_cubic_c2(musiq_fadd(x2, 1.0f));
  for (int j = 0; j < 4; ++j) {
    int32_t k = i + j - 1;
    k = k > in_size - 1 ? in_size - 1 : k;
    tap.idx[j] = k < 0 ? 0 : k;
  }
  return tap;
}

// One 1-D cubic sum in ATen's (contracted) order.
S2S_HD float musiq_cubic_sum(float p0, float p1, float p2, float p3, const float w[4]) {
#if defined(__CUDA_ARCH__)
  float s = __fmul_rn(p1, w[1]);
#else
  float s = p1 * w[1];
#endif
  s = musiq_fma(p0, w[0], s);
  s = musiq_fma(p2, w[2], s);
  return musiq_fma(p3, w[3], s);
}

// ---------------------------------------------------------------------------
// Patches and positions.
// ---------------------------------------------------------------------------

// Patches along a side of n pixels (ceil(n / patch)).
S2S_HD int musiq_patch_count(int n, int patch) { return (n + patch - 1) / patch; }

// TF 'SAME' padding before a side of n pixels.
S2S_HD int musiq_pad_before(int n, int patch) { return (musiq_patch_count(n, patch) * patch - n) / 2; }

// Hashed grid index of patch i of `count` along a side.
S2S_HD int musiq_hash_index(int i, int count, int grid) {
  const float scale = musiq_fdiv(static_cast<float>(grid), static_cast<float>(count));
  const int idx = static_cast<int>(floorf(musiq_fmul(static_cast<float>(i), scale)));
  return idx < grid - 1 ? idx : grid - 1;
}

S2S_HD int musiq_spatial_pos(int row, int col, int rows, int cols, int grid) {
  return musiq_hash_index(row, rows, grid) * grid + musiq_hash_index(col, cols, grid);
}

// ---------------------------------------------------------------------------
// Token layout: where each scale's tokens sit in the sequence. Shared by the
// CPU twin and the CUDA kernel, so both place every token alike.
// ---------------------------------------------------------------------------

// Tokens of a rescaled scale with longer side L: ceil(L / patch)^2, the
// patches of an L x L image (0 for L <= 0, which has no image).
S2S_HD int64_t musiq_rescaled_capacity(int longer_side, int patch) {
  if (longer_side <= 0) return 0;
  const int64_t n = musiq_patch_count(longer_side, patch);
  return n * n;
}

// Tokens of the native scale: exactly max_seq_len when it is >= 0 (cut, or
// padded with all-zero tokens), else every patch.
S2S_HD int64_t musiq_native_capacity(int max_seq_len, int height, int width, int patch) {
  if (max_seq_len >= 0) return max_seq_len;
  return static_cast<int64_t>(musiq_patch_count(height, patch)) * musiq_patch_count(width, patch);
}

struct MusiqScaleLayout {
  int32_t height, width;  // the scale's image
  int32_t rows, cols;     // its patches
  int32_t top, left;      // TF 'SAME' padding before the image
  int64_t first;          // its first token in the sequence
  int64_t capacity;       // tokens it takes
  int64_t patches;        // leading tokens that hold patches; the rest are all-zero, mask 0
};

S2S_HD MusiqScaleLayout musiq_scale_layout(int height, int width, int64_t first, int64_t capacity, int patch) {
  MusiqScaleLayout s;
  s.height = height;
  s.width = width;
  s.rows = musiq_patch_count(height, patch);
  s.cols = musiq_patch_count(width, patch);
  s.top = musiq_pad_before(height, patch);
  s.left = musiq_pad_before(width, patch);
  s.first = first;
  s.capacity = capacity;
  const int64_t all = static_cast<int64_t>(s.rows) * s.cols;
  s.patches = capacity < all ? capacity : all;
  return s;
}

// One rescaled pixel, all three channels, from its 4x4 source
// neighbourhood: for each of the four source rows the width sum, then the
// height sum over them, ATen's order. pixel(x, y, v) stores the three
// [-1, 1] values of source pixel (x, y) in v. The CPU twin computes each
// source row's width sums once and reuses them for every output row: the
// same function of the same inputs, so the same bits.
template <typename Pixel>
S2S_HD void musiq_cubic_pixel(const Pixel &pixel, const MusiqCubicTap &tx, const MusiqCubicTap &ty, float out[3]) {
  float across[3][4];
  for (int j = 0; j < 4; ++j) {
    float p[4][3];
    for (int i = 0; i < 4; ++i) pixel(tx.idx[i], ty.idx[j], p[i]);
    for (int c = 0; c < 3; ++c) across[c][j] = musiq_cubic_sum(p[0][c], p[1][c], p[2][c], p[3][c], tx.w);
  }
  for (int c = 0; c < 3; ++c) out[c] = musiq_cubic_sum(across[c][0], across[c][1], across[c][2], across[c][3], ty.w);
}

}  // namespace s2s
