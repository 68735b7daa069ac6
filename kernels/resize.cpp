// CPU twin of the resize kernels: OpenCV cv::resize(INTER_LINEAR) on 8-bit
// interleaved data, bit-exact, through the per-pixel math of resize_math.h
// (which documents the arithmetic and how it was checked against cv2).
//
// The linear path is separable: each needed source row is reduced once to its
// horizontal sums (int32, dst_width*channels of them, exact) and kept in a
// two-row cache, so an upscale that reuses a source row for several output
// rows does not recompute it; when an output row needs two new source rows
// they are reduced in one pass over the taps. The cache is per call: bands of
// rows are independent and the result does not depend on how a frame is
// split. The output equals resize_linear_u8_at / resize_half_u8_at of
// resize_math.h byte for byte (tests/kernels/test_resize.cpp checks both).
#include "resize.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "resize_math.h"

namespace s2s {

namespace {

void copy_rows(const uint8_t *src, int64_t src_stride, int64_t row_bytes, uint8_t *dst, int64_t dst_stride,
               int row_begin, int row_end) {
  for (int y = row_begin; y < row_end; ++y)
    std::memcpy(dst + y * dst_stride, src + y * src_stride, static_cast<size_t>(row_bytes));
}

template <int kChannels>
void half_rows_fixed(const uint8_t *src, int64_t src_stride, uint8_t *dst, int64_t dst_stride, int dst_width,
                     int row_begin, int row_end) {
  for (int dy = row_begin; dy < row_end; ++dy) {
    const uint8_t *r0 = src + static_cast<int64_t>(2 * dy) * src_stride;
    const uint8_t *r1 = r0 + src_stride;
    uint8_t *out = dst + dy * dst_stride;
    for (int dx = 0; dx < dst_width; ++dx) {
      const int64_t x0 = static_cast<int64_t>(2 * dx) * kChannels;
      for (int c = 0; c < kChannels; ++c) {
        const int64_t a = x0 + c, b = a + kChannels;
        out[static_cast<int64_t>(dx) * kChannels + c] =
            resize_half_mean_u8(r0[a] + r0[b] + r1[a] + r1[b], kChannels);
      }
    }
  }
}

void half_rows(const uint8_t *src, int64_t src_stride, int channels, uint8_t *dst, int64_t dst_stride,
               int dst_width, int row_begin, int row_end) {
  switch (channels) {
    case 1:
      half_rows_fixed<1>(src, src_stride, dst, dst_stride, dst_width, row_begin, row_end);
      return;
    case 3:
      half_rows_fixed<3>(src, src_stride, dst, dst_stride, dst_width, row_begin, row_end);
      return;
    case 4:
      half_rows_fixed<4>(src, src_stride, dst, dst_stride, dst_width, row_begin, row_end);
      return;
    default:
      break;
  }
  for (int dy = row_begin; dy < row_end; ++dy) {
    uint8_t *out = dst + dy * dst_stride;
    for (int dx = 0; dx < dst_width; ++dx)
      for (int c = 0; c < channels; ++c)
        out[static_cast<int64_t>(dx) * channels + c] = resize_half_u8_at(src, src_stride, channels, dx, dy, c);
  }
}

// Horizontal taps of every output pixel: byte offsets of the two source
// pixels in a row and their weights.
struct HTaps {
  std::vector<int32_t> off0, off1, w0, w1;
  bool unit_sum = true;  // w0 + w1 == 2048 for every pixel
};

// Horizontal sums of source rows: sums[dx*channels + c] for every output
// byte, for kRows (1 or 2) rows that share the taps. kChannels > 0: channel
// count known at compile time; 0: `channels`.
template <int kChannels, int kRows>
void hsum_rows(const uint8_t *const *rows, const HTaps &t, int dst_width, int channels, int32_t *const *sums) {
  const int cn = kChannels > 0 ? kChannels : channels;
  const int32_t *off0 = t.off0.data(), *off1 = t.off1.data(), *w0 = t.w0.data(), *w1 = t.w1.data();
  if (t.unit_sum) {
    // w0 + w1 = 2048 everywhere: w0*p0 + w1*p1 = 2048*p0 + w1*(p1 - p0)
    // exactly, with one multiply instead of two.
    for (int dx = 0; dx < dst_width; ++dx) {
      const int32_t o0 = off0[dx], o1 = off1[dx], b = w1[dx];
      const size_t o = static_cast<size_t>(dx) * cn;
      for (int r = 0; r < kRows; ++r) {
        const uint8_t *p0 = rows[r] + o0, *p1 = rows[r] + o1;
        int32_t *s = sums[r] + o;
        for (int c = 0; c < cn; ++c) s[c] = p0[c] * kResizeCoefScale + b * (p1[c] - p0[c]);
      }
    }
    return;
  }
  for (int dx = 0; dx < dst_width; ++dx) {
    const int32_t o0 = off0[dx], o1 = off1[dx], a = w0[dx], b = w1[dx];
    const size_t o = static_cast<size_t>(dx) * cn;
    for (int r = 0; r < kRows; ++r) {
      const uint8_t *p0 = rows[r] + o0, *p1 = rows[r] + o1;
      int32_t *s = sums[r] + o;
      for (int c = 0; c < cn; ++c) s[c] = resize_hsum(p0[c], p1[c], a, b);
    }
  }
}

template <int kRows>
void hsum_rows_any(const uint8_t *const *rows, const HTaps &t, int dst_width, int channels, int32_t *const *sums) {
  switch (channels) {
    case 1:
      hsum_rows<1, kRows>(rows, t, dst_width, 1, sums);
      return;
    case 3:
      hsum_rows<3, kRows>(rows, t, dst_width, 3, sums);
      return;
    case 4:
      hsum_rows<4, kRows>(rows, t, dst_width, 4, sums);
      return;
    default:
      hsum_rows<0, kRows>(rows, t, dst_width, channels, sums);
      return;
  }
}

void linear_rows(const uint8_t *src, int64_t src_stride, int width, int height, int channels, uint8_t *dst,
                 int64_t dst_stride, int dst_width, int dst_height, int row_begin, int row_end) {
  const size_t n = static_cast<size_t>(dst_width) * static_cast<size_t>(channels);

  HTaps taps;
  taps.off0.resize(static_cast<size_t>(dst_width));
  taps.off1.resize(static_cast<size_t>(dst_width));
  taps.w0.resize(static_cast<size_t>(dst_width));
  taps.w1.resize(static_cast<size_t>(dst_width));
  const double scale_x = resize_scale(width, dst_width);
  for (int dx = 0; dx < dst_width; ++dx) {
    const ResizeTap t = resize_linear_tap(dx, width, scale_x, true);
    taps.off0[static_cast<size_t>(dx)] = t.i0 * channels;
    taps.off1[static_cast<size_t>(dx)] = t.i1 * channels;
    taps.w0[static_cast<size_t>(dx)] = t.w0;
    taps.w1[static_cast<size_t>(dx)] = t.w1;
    if (t.w0 + t.w1 != kResizeCoefScale) taps.unit_sum = false;
  }

  // Two-row cache of horizontal sums.
  std::vector<int32_t> sums(2 * n);
  int32_t *buf[2] = {sums.data(), sums.data() + n};
  int held[2] = {-1, -1};
  auto find = [&](int row) -> int { return held[0] == row ? 0 : (held[1] == row ? 1 : -1); };
  auto compute = [&](int k, int row) {
    const uint8_t *rows[1] = {src + row * src_stride};
    int32_t *out[1] = {buf[k]};
    hsum_rows_any<1>(rows, taps, dst_width, channels, out);
    held[k] = row;
  };

  const double scale_y = resize_scale(height, dst_height);
  for (int dy = row_begin; dy < row_end; ++dy) {
    const ResizeTap ty = resize_linear_tap(dy, height, scale_y, false);
    int k0 = find(ty.i0), k1 = find(ty.i1);
    if (k0 < 0 && k1 < 0 && ty.i0 != ty.i1) {  // both new: one pass over the taps
      const uint8_t *rows[2] = {src + ty.i0 * src_stride, src + ty.i1 * src_stride};
      hsum_rows_any<2>(rows, taps, dst_width, channels, buf);
      held[0] = ty.i0;
      held[1] = ty.i1;
      k0 = 0;
      k1 = 1;
    } else {
      if (k0 < 0) {
        k0 = k1 == 0 ? 1 : 0;  // the buffer that row i1 does not need
        compute(k0, ty.i0);
      }
      if (ty.i1 == ty.i0) {  // clamped at the top or bottom border
        k1 = k0;
      } else if (k1 < 0) {
        k1 = k0 == 0 ? 1 : 0;
        compute(k1, ty.i1);
      }
    }
    const int32_t *s0 = buf[k0], *s1 = buf[k1];
    uint8_t *out = dst + dy * dst_stride;
    const int32_t b0 = ty.w0, b1 = ty.w1;
    for (size_t j = 0; j < n; ++j) out[j] = resize_vcombine_u8(s0[j], s1[j], b0, b1);
  }
}

}  // namespace

void resize_linear_u8(const uint8_t *src, int64_t src_stride, int width, int height, int channels, uint8_t *dst,
                      int64_t dst_stride, int dst_width, int dst_height, int row_begin, int row_end) {
  if (src == nullptr || dst == nullptr || width < 1 || height < 1 || channels < 1 || dst_width < 1 ||
      dst_height < 1)
    return;
  row_begin = std::max(row_begin, 0);
  row_end = std::min(row_end, dst_height);
  if (row_begin >= row_end) return;

  switch (resize_mode(width, height, dst_width, dst_height)) {
    case ResizeMode::kCopy:
      copy_rows(src, src_stride, static_cast<int64_t>(width) * channels, dst, dst_stride, row_begin, row_end);
      return;
    case ResizeMode::kHalf:
      half_rows(src, src_stride, channels, dst, dst_stride, dst_width, row_begin, row_end);
      return;
    case ResizeMode::kLinear:
      linear_rows(src, src_stride, width, height, channels, dst, dst_stride, dst_width, dst_height, row_begin,
                  row_end);
      return;
  }
}

}  // namespace s2s
