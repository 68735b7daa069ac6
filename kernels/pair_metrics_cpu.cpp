#include "pair_metrics_cpu.h"

#include <cmath>
#include <vector>

#include "simd.h"

namespace s2s {

S2S_SIMD_CLONES
uint64_t sum_squared_difference(const GrayImage &a, const GrayImage &b, int row_begin, int row_end) {
  uint64_t total = 0;
  for (int y = row_begin; y < row_end; ++y) {
    const uint8_t *pa = a.data + y * a.stride;
    const uint8_t *pb = b.data + y * b.stride;
    // One row of 8-bit differences fits easily in 32 bits (65025 * 2^16).
    uint32_t row = 0;
    for (int x = 0; x < a.width; ++x) {
      const int d = static_cast<int>(pa[x]) - static_cast<int>(pb[x]);
      row += static_cast<uint32_t>(d * d);
    }
    total += row;
  }
  return total;
}

int64_t ssim_window_count(SsimWindow window, int width, int height) {
  if (!ssim_defined_for(window, width, height)) return 0;
  const int r = ssim_window_radius(window);
  return static_cast<int64_t>(width - 2 * r) * (height - 2 * r);
}

namespace {

// Sum with four accumulators so the loop vectorizes; the order is fixed by
// the code, so the result is reproducible.
S2S_INLINE double sum_row(const double *v, int n) {
  double acc[4] = {0, 0, 0, 0};
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    acc[0] += v[i];
    acc[1] += v[i + 1];
    acc[2] += v[i + 2];
    acc[3] += v[i + 3];
  }
  for (; i < n; ++i) acc[0] += v[i];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// ---------------------------------------------------------------------------
// Uniform 7x7: exact integer window sums, then ssim_uniform7_from_sums.
//
// The formula needs Sx, Sy, Sxy and only the sum Sxx + Syy, so three running
// column sums suffice: x and y packed in one word (x + 65536 y: a window's
// Sx, Sy <= 49 * 255 = 12495 never carry into each other, and adding or
// removing rows keeps the word equal to that exact sum modulo 2^32), x^2 + y^2
// (<= 49 * 2 * 255^2, int32) and x*y. All sums are exact integers, so the
// values are the same as from five separate sums.
// ---------------------------------------------------------------------------
struct ColumnSums {
  std::vector<uint32_t> xy_packed;
  std::vector<int32_t> sq, cross;
  explicit ColumnSums(int w) : xy_packed(w, 0), sq(w, 0), cross(w, 0) {}
};

S2S_INLINE void add_row(ColumnSums &s, const uint8_t *__restrict a, const uint8_t *__restrict b, int w) {
  uint32_t *__restrict pk = s.xy_packed.data();
  int32_t *__restrict sq = s.sq.data();
  int32_t *__restrict cr = s.cross.data();
  for (int i = 0; i < w; ++i) {
    const int32_t p = a[i], q = b[i];
    pk[i] += static_cast<uint32_t>(p + (q << 16));
    sq[i] += p * p + q * q;
    cr[i] += p * q;
  }
}

// Adds row (a1, b1) and removes row (a0, b0) in one pass.
S2S_INLINE void slide_row(ColumnSums &s, const uint8_t *__restrict a1, const uint8_t *__restrict b1,
                          const uint8_t *__restrict a0, const uint8_t *__restrict b0, int w) {
  uint32_t *__restrict pk = s.xy_packed.data();
  int32_t *__restrict sq = s.sq.data();
  int32_t *__restrict cr = s.cross.data();
  for (int i = 0; i < w; ++i) {
    const int32_t p1 = a1[i], q1 = b1[i], p0 = a0[i], q0 = b0[i];
    pk[i] += static_cast<uint32_t>((p1 + (q1 << 16)) - (p0 + (q0 << 16)));
    sq[i] += (p1 * p1 + q1 * q1) - (p0 * p0 + q0 * q0);
    cr[i] += p1 * q1 - p0 * q0;
  }
}

// SSIM of the windows starting at columns [0, n) of the column sums (window
// i covers columns i .. i+6, i.e. output column i + 3).
S2S_INLINE void ssim_windows(const uint32_t *__restrict pk, const int32_t *__restrict sq,
                             const int32_t *__restrict cr, int n, double *__restrict out) {
  for (int i = 0; i < n; ++i) {
    const uint32_t w = pk[i] + pk[i + 1] + pk[i + 2] + pk[i + 3] + pk[i + 4] + pk[i + 5] + pk[i + 6];
    const int32_t s2 = sq[i] + sq[i + 1] + sq[i + 2] + sq[i + 3] + sq[i + 4] + sq[i + 5] + sq[i + 6];
    const int32_t sxy = cr[i] + cr[i + 1] + cr[i + 2] + cr[i + 3] + cr[i + 4] + cr[i + 5] + cr[i + 6];
    const int32_t sx = static_cast<int32_t>(w & 0xFFFFu);
    const int32_t sy = static_cast<int32_t>(w >> 16);
    out[i] = ssim_uniform7_from_sums(sx, sy, s2, 0, sxy);
  }
}

S2S_SIMD_CLONES
double sum_ssim_uniform7(const GrayImage &a, const GrayImage &b, int row_begin, int row_end) {
  const int w = a.width;
  const int n = w - 6;  // interior columns 3 .. w-4
  // Windows are evaluated in chunks that stay in L1; a multiple of 4, so
  // the four accumulators see the values in sum_row's order.
  constexpr int kChunk = 256;
  ColumnSums cols(w);
  double s[kChunk];
  double total = 0;
  for (int k = row_begin - 3; k <= row_begin + 3; ++k) add_row(cols, a.data + k * a.stride, b.data + k * b.stride, w);
  for (int y = row_begin; y < row_end; ++y) {
    if (y > row_begin)
      slide_row(cols, a.data + (y + 3) * a.stride, b.data + (y + 3) * b.stride, a.data + (y - 4) * a.stride,
                b.data + (y - 4) * b.stride, w);
    // sum_row over the row's n values: acc[j] += v[4m + j], the n % 4 last
    // values into acc[0], then (acc0 + acc1) + (acc2 + acc3).
    double acc[4] = {0, 0, 0, 0};
    for (int c0 = 0; c0 < n; c0 += kChunk) {
      const int len = n - c0 < kChunk ? n - c0 : kChunk;
      ssim_windows(cols.xy_packed.data() + c0, cols.sq.data() + c0, cols.cross.data() + c0, len, s);
      int i = 0;
      for (; i + 4 <= len; i += 4) {
        acc[0] += s[i];
        acc[1] += s[i + 1];
        acc[2] += s[i + 2];
        acc[3] += s[i + 3];
      }
      for (; i < len; ++i) acc[0] += s[i];
    }
    total += (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  return total;
}

// ---------------------------------------------------------------------------
// Gaussian 11: separable double filter in scipy.ndimage's order (axis 0, then
// axis 1; each output = centre * w0, then + (x[-k] + x[+k]) * w_k for
// k = 5 .. 1). Interior outputs only read pixels inside the image, so the
// reflected border never enters the cropped mean.
// ---------------------------------------------------------------------------
S2S_SIMD_CLONES
double sum_ssim_gaussian11(const GrayImage &a, const GrayImage &b, int row_begin, int row_end) {
  double t[6];
  gaussian11_taps(t);
  const int w = a.width;
  const int n = w - 10;
  std::vector<double> vx(w), vy(w), vxx(w), vyy(w), vxy(w);
  std::vector<double> s(n);
  double total = 0;
  for (int y = row_begin; y < row_end; ++y) {
    for (int i = 0; i < w; ++i) {
      auto px = [&](int dy) { return static_cast<double>(a.data[(y + dy) * a.stride + i]); };
      auto py = [&](int dy) { return static_cast<double>(b.data[(y + dy) * b.stride + i]); };
      double sx = px(0) * t[0], sy = py(0) * t[0];
      double sxx = px(0) * px(0) * t[0], syy = py(0) * py(0) * t[0], sxy = px(0) * py(0) * t[0];
      for (int k = 5; k >= 1; --k) {
        const double x0 = px(-k), x1 = px(k), y0 = py(-k), y1 = py(k);
        sx += (x0 + x1) * t[k];
        sy += (y0 + y1) * t[k];
        sxx += (x0 * x0 + x1 * x1) * t[k];
        syy += (y0 * y0 + y1 * y1) * t[k];
        sxy += (x0 * y0 + x1 * y1) * t[k];
      }
      vx[i] = sx;
      vy[i] = sy;
      vxx[i] = sxx;
      vyy[i] = syy;
      vxy[i] = sxy;
    }
    for (int j = 0; j < n; ++j) {
      const int c = j + 5;
      double ux = vx[c] * t[0], uy = vy[c] * t[0], uxx = vxx[c] * t[0], uyy = vyy[c] * t[0], uxy = vxy[c] * t[0];
      for (int k = 5; k >= 1; --k) {
        ux += (vx[c - k] + vx[c + k]) * t[k];
        uy += (vy[c - k] + vy[c + k]) * t[k];
        uxx += (vxx[c - k] + vxx[c + k]) * t[k];
        uyy += (vyy[c - k] + vyy[c + k]) * t[k];
        uxy += (vxy[c - k] + vxy[c + k]) * t[k];
      }
      s[j] = ssim_from_means(ux, uy, uxx, uyy, uxy, 1.0);
    }
    total += sum_row(s.data(), n);
  }
  return total;
}

}  // namespace

void gaussian11_taps(double taps[6]) {
  const double sigma = 1.5;
  const double coef = -0.5 / (sigma * sigma);
  double phi[11];
  for (int i = 0; i < 11; ++i) {
    const double x = i - 5;
    phi[i] = std::exp(coef * (x * x));
  }
  // numpy's sum of 11 values: eight accumulators, paired, then the rest.
  double sum = ((phi[0] + phi[1]) + (phi[2] + phi[3])) + ((phi[4] + phi[5]) + (phi[6] + phi[7]));
  sum += phi[8];
  sum += phi[9];
  sum += phi[10];
  for (int k = 0; k <= 5; ++k) taps[k] = phi[5 + k] / sum;
}

double sum_ssim(SsimWindow window, const GrayImage &a, const GrayImage &b, int row_begin, int row_end) {
  if (row_begin >= row_end) return 0.0;
  return window == SsimWindow::kUniform7 ? sum_ssim_uniform7(a, b, row_begin, row_end)
                                         : sum_ssim_gaussian11(a, b, row_begin, row_end);
}

}  // namespace s2s
