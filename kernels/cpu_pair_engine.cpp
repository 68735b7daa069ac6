// CPU engine: gray conversion and pair metrics split into row bands over a
// thread pool. Band boundaries are fixed (kBandRows), so the sums, and thus
// the results, do not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "convert.h"
#include "pair_engine.h"
#include "pair_metrics_cpu.h"
#include "thread_pool.h"

namespace s2s {

namespace {

constexpr int kBandRows = 64;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int band_count(int rows) { return (rows + kBandRows - 1) / kBandRows; }

class CpuPairEngine final : public PairEngine {
 public:
  explicit CpuPairEngine(int threads) : pool_(threads) {}

  const char *name() const override { return "cpu"; }

  bool configure(const StreamFormat &format, std::string *) override {
    format_ = format;
    reset_chain();
    return true;
  }

  void reset_chain() override { have_kept_ = false; }

  bool score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, const PairOptions &options,
             PairResult *results, std::string *error) override;

 private:
  // Gray view of batch frame i: the frame itself for GRAY8, else our copy.
  GrayImage gray_of(size_t i, const FrameView *frames) const;

  ThreadPool pool_;
  StreamFormat format_;
  std::vector<std::vector<uint8_t>> gray_;  // converted batch frames
  std::vector<uint8_t> kept_;               // gray of the last frame of the previous call
  bool have_kept_ = false;
};

GrayImage CpuPairEngine::gray_of(size_t i, const FrameView *frames) const {
  if (format_.format == PixelFormat::kGray8)
    return GrayImage{frames[i].planes[0], frames[i].strides[0], format_.width, format_.height};
  return GrayImage{gray_[i].data(), format_.width, format_.width, format_.height};
}

bool CpuPairEngine::score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                          const PairOptions &options, PairResult *results, std::string *error) {
  const int w = format_.width, h = format_.height;
  for (size_t i = 0; i < n; ++i) {
    if (frames[i].format != format_.format || frames[i].width != w || frames[i].height != h) {
      if (error) *error = "frame does not match the configured format";
      reset_chain();
      return false;
    }
  }
  if (n == 0) return true;

  const int bands = band_count(h);
  const bool convert = format_.format != PixelFormat::kGray8;
  if (convert) {
    if (gray_.size() < n) gray_.resize(n);
    for (size_t i = 0; i < n; ++i) gray_[i].resize(static_cast<size_t>(w) * h);
    pool_.parallel_for(n * bands, [&](size_t task) {
      const size_t f = task / bands;
      const int r0 = static_cast<int>(task % bands) * kBandRows;
      const int r1 = r0 + kBandRows < h ? r0 + kBandRows : h;
      convert_to_gray_rows(frames[f], format_.yuv, gray_[f].data(), w, r0, r1);
    });
  }

  const GrayImage kept{kept_.data(), w, w, h};
  auto previous_of = [&](size_t i) { return i == 0 ? kept : gray_of(i - 1, frames); };

  // Which frames have a pair: a frame 0 needs the kept frame.
  std::vector<size_t> paired;
  for (size_t i = 0; i < n; ++i) {
    results[i] = PairResult{kNaN, kNaN};
    if (pair_with_previous[i] && (i > 0 || have_kept_)) paired.push_back(i);
  }

  const bool ssim = options.ssim && ssim_defined_for(options.window, w, h);
  const int radius = ssim_window_radius(options.window);
  std::vector<uint64_t> sq(paired.size() * bands, 0);
  std::vector<double> ss(paired.size() * bands, 0.0);
  pool_.parallel_for(paired.size() * bands, [&](size_t task) {
    const size_t p = task / bands;
    const size_t i = paired[p];
    const int r0 = static_cast<int>(task % bands) * kBandRows;
    const int r1 = r0 + kBandRows < h ? r0 + kBandRows : h;
    const GrayImage a = previous_of(i), b = gray_of(i, frames);
    if (options.mse) sq[task] = sum_squared_difference(a, b, r0, r1);
    if (ssim) {
      const int s0 = r0 > radius ? r0 : radius;
      const int s1 = r1 < h - radius ? r1 : h - radius;
      ss[task] = sum_ssim(options.window, a, b, s0, s1);
    }
  });

  const double pixels = static_cast<double>(w) * h;
  const double windows = static_cast<double>(ssim_window_count(options.window, w, h));
  for (size_t p = 0; p < paired.size(); ++p) {
    uint64_t sq_total = 0;
    double ss_total = 0;
    for (int b = 0; b < bands; ++b) {
      sq_total += sq[p * bands + b];
      ss_total += ss[p * bands + b];
    }
    PairResult &r = results[paired[p]];
    if (options.mse) r.mse = static_cast<double>(sq_total) / pixels;
    if (ssim) r.ssim = ss_total / windows;
  }

  // Keep the last frame's gray for the next call.
  const GrayImage last = gray_of(n - 1, frames);
  kept_.resize(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    std::copy(last.data + y * last.stride, last.data + y * last.stride + w, kept_.data() + static_cast<size_t>(y) * w);
  have_kept_ = true;
  return true;
}

}  // namespace

std::unique_ptr<PairEngine> make_cpu_pair_engine(int threads) {
  return std::unique_ptr<PairEngine>(new CpuPairEngine(threads));
}

}  // namespace s2s
