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
// ---------------------------------------------------------------------------
struct ColumnSums {
  std::vector<int32_t> x, y, xx, yy, xy;
  explicit ColumnSums(int w) : x(w, 0), y(w, 0), xx(w, 0), yy(w, 0), xy(w, 0) {}
};

// Adds (sign +1) or removes (sign -1) one image row from the column sums.
template <int kSign>
S2S_INLINE void accumulate_row(ColumnSums &s, const uint8_t *a, const uint8_t *b, int w) {
  int32_t *sx = s.x.data(), *sy = s.y.data(), *sxx = s.xx.data(), *syy = s.yy.data(), *sxy = s.xy.data();
  for (int i = 0; i < w; ++i) {
    const int32_t p = a[i], q = b[i];
    sx[i] += kSign * p;
    sy[i] += kSign * q;
    sxx[i] += kSign * p * p;
    syy[i] += kSign * q * q;
    sxy[i] += kSign * p * q;
  }
}

// 7-tap horizontal sum of a column-sum row: out[i] = sum of in[i .. i+6].
S2S_INLINE void window7(const int32_t *in, int32_t *out, int n) {
  for (int i = 0; i < n; ++i)
    out[i] = in[i] + in[i + 1] + in[i + 2] + in[i + 3] + in[i + 4] + in[i + 5] + in[i + 6];
}

S2S_SIMD_CLONES
double sum_ssim_uniform7(const GrayImage &a, const GrayImage &b, int row_begin, int row_end) {
  const int w = a.width;
  const int n = w - 6;  // interior columns 3 .. w-4
  ColumnSums cols(w);
  std::vector<int32_t> hx(n), hy(n), hxx(n), hyy(n), hxy(n);
  std::vector<double> s(n);
  double total = 0;
  for (int k = row_begin - 3; k <= row_begin + 3; ++k)
    accumulate_row<1>(cols, a.data + k * a.stride, b.data + k * b.stride, w);
  for (int y = row_begin; y < row_end; ++y) {
    if (y > row_begin) {
      accumulate_row<1>(cols, a.data + (y + 3) * a.stride, b.data + (y + 3) * b.stride, w);
      accumulate_row<-1>(cols, a.data + (y - 4) * a.stride, b.data + (y - 4) * b.stride, w);
    }
    window7(cols.x.data(), hx.data(), n);
    window7(cols.y.data(), hy.data(), n);
    window7(cols.xx.data(), hxx.data(), n);
    window7(cols.yy.data(), hyy.data(), n);
    window7(cols.xy.data(), hxy.data(), n);
    for (int i = 0; i < n; ++i) s[i] = ssim_uniform7_from_sums(hx[i], hy[i], hxx[i], hyy[i], hxy[i]);
    total += sum_row(s.data(), n);
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
