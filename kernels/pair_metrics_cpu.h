// CPU twin of the pair-metric kernels: MSE and SSIM sums of two 8-bit gray
// images, over bands of rows so a frame can be split between threads.
//
// Each function returns a partial sum for its band; the final value is the
// sum over bands divided by the pixel (or window) count. A band's sum does not
// depend on where the other bands start, so results are the same for any
// split and any thread count.
#pragma once

#include <cstdint>

#include "s2s_math.h"

namespace s2s {

struct GrayImage {
  const uint8_t *data;
  int64_t stride;
  int width;
  int height;
};

// Sum over rows [row_begin, row_end) of (a - b)^2. Exact.
uint64_t sum_squared_difference(const GrayImage &a, const GrayImage &b, int row_begin, int row_end);

// Sum of the per-window SSIM over the output rows [row_begin, row_end) and
// the interior columns. Output rows and columns are those scikit-image
// averages: radius r = ssim_window_radius(w) pixels are cropped on each side,
// so valid rows are [r, height - r).
double sum_ssim(SsimWindow window, const GrayImage &a, const GrayImage &b, int row_begin, int row_end);

// Number of windows scikit-image averages for an image of this size.
int64_t ssim_window_count(SsimWindow window, int width, int height);

// The 11 taps of scikit-image's Gaussian window (sigma 1.5, truncate 3.5), as
// scipy.ndimage computes them: exp(-0.5 / sigma^2 * x^2) normalised to sum 1.
// Index 0 is the centre, index k the tap k pixels away.
void gaussian11_taps(double taps[6]);

}  // namespace s2s
