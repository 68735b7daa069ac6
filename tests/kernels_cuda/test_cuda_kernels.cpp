// Tests of the CUDA kernels and engine, without GStreamer.
//
// Part 1 runs everywhere (CI has no GPU): the shared Gaussian window math of
// s2s_math.h, which the GPU kernel calls, gives bitwise the CPU twin's window
// values; and make_cuda_pair_engine() fails cleanly, naming the device id and
// count, for a missing GPU or a bad id.
// Part 2 needs a device; without one the program prints "SKIP: no CUDA
// device (...)" and exits 77, which meson reports as SKIP. With one, the CUDA
// conversion and engine are compared with the CPU twin (bitwise: gray, RGB,
// MSE; SSIM to 1e-12 relative, only the summation order differs) and with the
// golden NumPy/scikit-image values of tests/reference, on all 19 formats,
// odd sizes, padded strides (sentinel bytes in the padding), batches of
// 1/16/64, chains across calls, and device-memory input.
//
// The same source, linked with cuda_emulation.cpp instead of cudart, runs
// part 2 on the CPU (test "cuda-kernels-emulated"): the kernels' own code, one
// block at a time, far slower than a GPU, so S2S_CUDA_TEST_MAX_PIXELS then
// leaves out the larger frames.
//
// The network-input kernels (LPIPS input, MUSIQ patches) have their suites
// in test_cuda_preprocess.cpp; main() runs them with these, in both parts.
//
// Check runs without forking (a forked child cannot use the parent's CUDA
// context); S2S_GOLDEN_DIR names the golden directory.
#include <cuda_runtime_api.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "convert.h"
#include "cuda_kernels.h"
#include "cuda_pair_engine.h"
#include "frame.h"
#include "pair_engine.h"
#include "pair_metrics_cpu.h"
#include "s2s_math.h"
#include "test_cuda_preprocess.h"

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

using Bytes = std::vector<uint8_t>;
using s2s::FrameView;
using s2s::PixelFormat;
using s2s::SsimWindow;

constexpr const auto &kAllFormats = s2s::kAllPixelFormats;
constexpr int kFormatCount = s2s::kPixelFormatCount;
const SsimWindow kWindows[] = {SsimWindow::kUniform7, SsimWindow::kGaussian11};
const char *window_name(SsimWindow w) { return w == SsimWindow::kUniform7 ? "uniform7" : "gaussian11"; }

constexpr uint8_t kSentinel = 0xAB;
constexpr double kCpuSsimRelTol = 1e-12;     // CUDA vs CPU twin: summation order only
constexpr double kGoldenSsimRelTol = 1e-9;   // vs scikit-image, as tests/kernels
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Relative tolerance, with an absolute floor for means near 0 (windows of
// both signs cancel there, and a different summation order then shows as a
// large relative difference of a tiny number).
constexpr double kSsimAbsFloor = 1e-13;

bool ssim_close(double got, double want, double rel) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  return std::fabs(got - want) <= rel * std::fabs(want) + kSsimAbsFloor;
}

// ---------------------------------------------------------------------------
// Frames in host memory: planes one after the other, each row followed by
// `pad` sentinel bytes (pad 0: tight), and a sentinel guard at the end.
// ---------------------------------------------------------------------------
struct PlaneShape {
  int64_t row_bytes, rows;
};

int plane_shapes(PixelFormat f, int w, int h, PlaneShape out[3]) {
  const s2s::FormatLayout l = s2s::format_layout(f);
  if (!l.is_yuv) {
    out[0] = {static_cast<int64_t>(w) * l.pixel_stride, h};
    return 1;
  }
  out[0] = {w, h};
  const int64_t cw = (w + (1 << l.chroma_shift_x) - 1) >> l.chroma_shift_x;
  const int64_t ch = (h + (1 << l.chroma_shift_y) - 1) >> l.chroma_shift_y;
  if (l.uv_step == 2) {
    out[1] = {2 * cw, ch};
    return 2;
  }
  out[1] = out[2] = {cw, ch};
  return 3;
}

struct TestFrame {
  Bytes data;
  FrameView view;
  int planes = 0;
  PlaneShape shape[3] = {};
  int64_t offset[3] = {0, 0, 0};
};

// fill(plane, row, dst) writes the row_bytes bytes of one row.
using RowFill = std::function<void(int, int64_t, uint8_t *)>;

std::unique_ptr<TestFrame> make_frame(PixelFormat f, int w, int h, int64_t pad, const RowFill &fill) {
  auto fr = std::make_unique<TestFrame>();
  fr->planes = plane_shapes(f, w, h, fr->shape);
  int64_t total = 0;
  for (int p = 0; p < fr->planes; ++p) {
    fr->offset[p] = total;
    total += (fr->shape[p].row_bytes + pad) * fr->shape[p].rows;
  }
  fr->data.assign(static_cast<size_t>(total + 64), kSentinel);
  fr->view.format = f;
  fr->view.width = w;
  fr->view.height = h;
  for (int p = 0; p < fr->planes; ++p) {
    const int64_t stride = fr->shape[p].row_bytes + pad;
    for (int64_t r = 0; r < fr->shape[p].rows; ++r) fill(p, r, fr->data.data() + fr->offset[p] + r * stride);
    fr->view.planes[p] = fr->data.data() + fr->offset[p];
    fr->view.strides[p] = stride;
  }
  return fr;
}

// A sequence of frames whose neighbours are alike (each byte of frame k+1 is
// frame k's plus small noise), so SSIM values spread over (0, 1], plus full
// random bytes in frame 0.
std::vector<std::unique_ptr<TestFrame>> random_frames(PixelFormat f, int w, int h, int count, int64_t pad,
                                                      uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::unique_ptr<TestFrame>> frames;
  std::vector<Bytes> previous(3);
  for (int k = 0; k < count; ++k) {
    frames.push_back(make_frame(f, w, h, pad, [&](int p, int64_t r, uint8_t *dst) {
      PlaneShape s[3];
      plane_shapes(f, w, h, s);
      Bytes &prev = previous[static_cast<size_t>(p)];
      prev.resize(static_cast<size_t>(s[p].row_bytes * s[p].rows));
      uint8_t *row = prev.data() + r * s[p].row_bytes;
      for (int64_t x = 0; x < s[p].row_bytes; ++x) {
        const int v = k == 0 ? static_cast<int>(rng() & 255) : row[x] + static_cast<int>(rng() % 41) - 20;
        row[x] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
      }
      std::memcpy(dst, row, static_cast<size_t>(s[p].row_bytes));
    }));
  }
  return frames;
}

s2s::YuvToRgb bt601_limited() { return s2s::make_yuv_to_rgb(0.299, 0.114, false); }

s2s::StreamFormat stream_format(PixelFormat f, int w, int h, const s2s::YuvToRgb &yuv) {
  s2s::StreamFormat s;
  s.format = f;
  s.width = w;
  s.height = h;
  s.yuv = yuv;
  return s;
}

s2s::PairOptions options_for(SsimWindow w) {
  s2s::PairOptions o;
  o.window = w;
  return o;
}

// ---------------------------------------------------------------------------
// Device memory helpers
// ---------------------------------------------------------------------------
struct CudaFree {
  void operator()(void *p) const { cudaFree(p); }
};
using DevicePtr = std::unique_ptr<uint8_t, CudaFree>;

DevicePtr device_alloc(size_t bytes) {
  void *p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  ck_assert_msg(e == cudaSuccess, "cudaMalloc(%zu): %s", bytes, cudaGetErrorString(e));
  return DevicePtr(static_cast<uint8_t *>(p));
}

void ck_cuda(cudaError_t e, const char *what) { ck_assert_msg(e == cudaSuccess, "%s: %s", what, cudaGetErrorString(e)); }

// A copy of a host frame in device memory of exactly its size (padding and
// all): the view points at the device planes with the same strides.
struct DeviceFrame {
  DevicePtr memory;
  FrameView view;
};

DeviceFrame to_device(const TestFrame &f) {
  DeviceFrame d;
  d.memory = device_alloc(f.data.size());
  ck_cuda(cudaMemcpy(d.memory.get(), f.data.data(), f.data.size(), cudaMemcpyHostToDevice), "upload frame");
  d.view = f.view;
  for (int p = 0; p < f.planes; ++p) d.view.planes[p] = d.memory.get() + f.offset[p];
  return d;
}

// Converts a device frame to gray (channels 1) or RGB (3) with the CUDA
// kernel into rows `pad` bytes longer than needed; checks the padding is
// untouched and returns the tight image.
Bytes cuda_convert(const DeviceFrame &src, const s2s::YuvToRgb &yuv, int channels, int64_t pad) {
  const FrameView &v = src.view;
  const int64_t row = static_cast<int64_t>(v.width) * channels;
  const int64_t pitch = row + pad;
  const size_t bytes = static_cast<size_t>(pitch * v.height);
  DevicePtr out = device_alloc(bytes);
  ck_cuda(cudaMemset(out.get(), kSentinel, bytes), "cudaMemset");
  s2s::cuda::ConvertJob job{};
  for (int p = 0; p < 3; ++p) {
    job.planes[p] = v.planes[p];
    job.strides[p] = v.strides[p];
  }
  job.dst = out.get();
  DevicePtr jobs = device_alloc(sizeof job);
  ck_cuda(cudaMemcpy(jobs.get(), &job, sizeof job, cudaMemcpyHostToDevice), "upload job");
  s2s::cuda::ConvertParams params{};
  params.layout = s2s::format_layout(v.format);
  params.yuv = yuv;
  params.width = v.width;
  params.height = v.height;
  params.dst_pitch = pitch;
  const auto *device_jobs = reinterpret_cast<const s2s::cuda::ConvertJob *>(jobs.get());
  ck_cuda(channels == 1 ? s2s::cuda::launch_convert_to_gray(device_jobs, 1, params, nullptr)
                        : s2s::cuda::launch_convert_to_rgb(device_jobs, 1, params, nullptr),
          "conversion launch");
  ck_cuda(cudaDeviceSynchronize(), "conversion");
  Bytes padded(bytes);
  ck_cuda(cudaMemcpy(padded.data(), out.get(), bytes, cudaMemcpyDeviceToHost), "download");
  Bytes tight(static_cast<size_t>(row * v.height));
  int64_t touched = 0;
  for (int64_t y = 0; y < v.height; ++y) {
    for (int64_t x = row; x < pitch; ++x) touched += padded[static_cast<size_t>(y * pitch + x)] != kSentinel;
    std::memcpy(tight.data() + y * row, padded.data() + y * pitch, static_cast<size_t>(row));
  }
  ck_assert_msg(touched == 0, "%s %dx%d: CUDA conversion wrote %lld bytes of row padding",
                s2s::format_name(v.format), v.width, v.height, static_cast<long long>(touched));
  return tight;
}

Bytes cpu_convert(const FrameView &v, const s2s::YuvToRgb &yuv, int channels) {
  Bytes out(static_cast<size_t>(v.width) * v.height * channels);
  if (channels == 1)
    s2s::convert_to_gray_rows(v, yuv, out.data(), v.width, 0, v.height);
  else
    s2s::convert_to_rgb_rows(v, yuv, out.data(), static_cast<int64_t>(v.width) * 3, 0, v.height);
  return out;
}

// ---------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------
int g_device = 0;
int64_t g_max_pixels = std::numeric_limits<int64_t>::max();  // S2S_CUDA_TEST_MAX_PIXELS

bool too_large(int w, int h, const char *what) {
  if (static_cast<int64_t>(w) * h <= g_max_pixels) return false;
  std::printf("stat: %s %dx%d left out (S2S_CUDA_TEST_MAX_PIXELS=%lld)\n", what, w, h,
              static_cast<long long>(g_max_pixels));
  return true;
}

std::unique_ptr<s2s::PairEngine> cuda_engine() {
  std::string error;
  auto e = s2s::make_cuda_pair_engine(g_device, &error);
  ck_assert_msg(e != nullptr, "make_cuda_pair_engine(%d): %s", g_device, error.c_str());
  return e;
}

// Scores `views` in calls of `batch` frames, every frame paired with its
// predecessor except the first; device: through score_device().
std::vector<s2s::PairResult> score_in_batches(s2s::PairEngine &e, const s2s::StreamFormat &fmt,
                                              const std::vector<FrameView> &views, size_t batch, SsimWindow w,
                                              bool device = false, cudaStream_t producer = nullptr) {
  std::string error;
  ck_assert_msg(e.configure(fmt, &error), "configure: %s", error.c_str());
  std::vector<s2s::PairResult> all(views.size());
  for (size_t first = 0; first < views.size(); first += batch) {
    const size_t n = views.size() - first < batch ? views.size() - first : batch;
    std::vector<uint8_t> flags(n, 1);
    if (first == 0) flags[0] = 0;
    const bool ok = device ? e.score_device(views.data() + first, flags.data(), n, options_for(w), producer,
                                            all.data() + first, &error)
                           : e.score(views.data() + first, flags.data(), n, options_for(w), all.data() + first, &error);
    ck_assert_msg(ok, "%s score: %s", e.name(), error.c_str());
  }
  return all;
}

std::vector<FrameView> views_of(const std::vector<std::unique_ptr<TestFrame>> &frames) {
  std::vector<FrameView> v;
  for (const auto &f : frames) v.push_back(f->view);
  return v;
}

// CUDA against the CPU twin: MSE bitwise, SSIM to kCpuSsimRelTol.
void assert_matches_cpu(const std::string &what, const std::vector<s2s::PairResult> &cuda,
                        const std::vector<s2s::PairResult> &cpu, double *worst) {
  ck_assert(cuda.size() == cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    ck_assert_msg(same_double(cuda[i].mse, cpu[i].mse), "%s: frame %zu: MSE %.17g, CPU %.17g", what.c_str(), i,
                  cuda[i].mse, cpu[i].mse);
    ck_assert_msg(ssim_close(cuda[i].ssim, cpu[i].ssim, kCpuSsimRelTol), "%s: frame %zu: SSIM %.17g, CPU %.17g",
                  what.c_str(), i, cuda[i].ssim, cpu[i].ssim);
    if (worst && !std::isnan(cpu[i].ssim) && cpu[i].ssim != 0) {
      const double rel = std::fabs(cuda[i].ssim - cpu[i].ssim) / std::fabs(cpu[i].ssim);
      *worst = rel > *worst ? rel : *worst;
    }
  }
}

void assert_same(const std::string &what, const std::vector<s2s::PairResult> &a,
                 const std::vector<s2s::PairResult> &b) {
  ck_assert(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ck_assert_msg(same_double(a[i].mse, b[i].mse) && same_double(a[i].ssim, b[i].ssim),
                  "%s: frame %zu: (%.17g, %.17g) vs (%.17g, %.17g)", what.c_str(), i, a[i].mse, a[i].ssim, b[i].mse,
                  b[i].ssim);
}

// ---------------------------------------------------------------------------
// Part 1 (no GPU needed): the shared window math equals the CPU twin.
// ---------------------------------------------------------------------------
Bytes random_gray(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes g(static_cast<size_t>(w) * h);
  for (auto &v : g) v = static_cast<uint8_t>(rng() & 255);
  return g;
}

// Frames exactly one window wide have one window per row, so the CPU twin's
// sum over a row is that window's value, whatever order it sums rows in: the
// shared functions the kernel calls must give it bitwise.
START_TEST(test_shared_window_math) {
  double taps[6];
  s2s::gaussian11_taps(taps);
  int windows = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    for (const SsimWindow window : kWindows) {
      const int radius = s2s::ssim_window_radius(window);
      const int w = 2 * radius + 1, h = 40;
      Bytes a = random_gray(w, h, seed), b = random_gray(w, h, seed + 100);
      // Correlated for most seeds, so SSIM takes values across its range.
      const int weight = static_cast<int>(seed % 4);
      for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>((a[i] * weight + b[i]) / (weight + 1));
      const s2s::GrayImage ga{a.data(), w, w, h}, gb{b.data(), w, w, h};
      for (int y = radius; y < h - radius; ++y) {
        double shared = 0;
        if (window == SsimWindow::kGaussian11) {
          // Vertical pass per column, then the horizontal pass, as the kernel
          // does from shared memory.
          double vx[11], vy[11], vxx[11], vyy[11], vxy[11];
          for (int x = 0; x < w; ++x) {
            const size_t centre = static_cast<size_t>(y) * w + x;
            const s2s::Moments5 m = s2s::gaussian11_pixel_pass(taps, a.data() + centre, b.data() + centre, w, w);
            vx[x] = m.x;
            vy[x] = m.y;
            vxx[x] = m.xx;
            vyy[x] = m.yy;
            vxy[x] = m.xy;
          }
          shared = s2s::ssim_gaussian11_from_columns(taps, vx + 5, vy + 5, vxx + 5, vyy + 5, vxy + 5);
        } else {
          int32_t sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
          for (int dy = -3; dy <= 3; ++dy) {
            for (int x = 0; x < w; ++x) {
              const int32_t p = a[static_cast<size_t>(y + dy) * w + x], q = b[static_cast<size_t>(y + dy) * w + x];
              sx += p;
              sy += q;
              sxx += p * p;
              syy += q * q;
              sxy += p * q;
            }
          }
          shared = s2s::ssim_uniform7_from_sums(sx, sy, sxx, syy, sxy);
        }
        const double twin = s2s::sum_ssim(window, ga, gb, y, y + 1);
        ck_assert_msg(same_double(shared, twin), "%s seed %u row %d: shared math %.17g, CPU twin %.17g",
                      window_name(window), seed, y, shared, twin);
        ++windows;
      }
    }
  }
  std::printf("stat: shared uniform7/gaussian11 window math bitwise equal to the CPU twin on %d windows\n", windows);
}
END_TEST

int g_device_count = 0;
std::string g_no_device_reason;  // empty when a device is usable

START_TEST(test_engine_creation_errors) {
  std::string error;
  if (!g_no_device_reason.empty()) {
    auto e = s2s::make_cuda_pair_engine(0, &error);
    ck_assert_msg(e == nullptr, "an engine without a device");
    ck_assert_msg(error.find("CUDA") != std::string::npos, "unclear error: '%s'", error.c_str());
    std::printf("stat: without a device make_cuda_pair_engine(0) says: %s\n", error.c_str());
    return;
  }
  for (const int bad : {g_device_count, g_device_count + 7, -1}) {
    error.clear();
    auto e = s2s::make_cuda_pair_engine(bad, &error);
    ck_assert_msg(e == nullptr, "an engine for device %d of %d", bad, g_device_count);
    ck_assert_msg(error.find(std::to_string(bad)) != std::string::npos &&
                      error.find(std::to_string(g_device_count) + " device") != std::string::npos,
                  "error does not name the id and the count: '%s'", error.c_str());
  }
  std::printf("stat: bad id: %s\n", error.c_str());
}
END_TEST

Suite *cpu_suite() {
  Suite *s = suite_create("cuda-kernels-cpu");
  TCase *tc = tcase_create("cpu");
  tcase_add_test(tc, test_shared_window_math);
  tcase_add_test(tc, test_engine_creation_errors);
  suite_add_tcase(s, tc);
  return s;
}

// ---------------------------------------------------------------------------
// Golden cases (tests/reference/make_golden.py writes cases.txt; only what
// these tests use is read here).
// ---------------------------------------------------------------------------
struct GoldenPair {
  int first, second;
  double mse, ssim[2];  // ssim[0] uniform7, ssim[1] gaussian11; NaN where null
};

struct GoldenCase {
  std::string name;
  PixelFormat format = PixelFormat::kGray8;
  int width = 0, height = 0;
  bool is_yuv = false, full_range = false, unambiguous = true;
  double kr = 0, kb = 0;
  int64_t frame_size = 0;
  std::vector<int64_t> plane_offsets, plane_strides, plane_rows;
  std::vector<std::string> files;
  std::vector<GoldenPair> pairs;
  s2s::YuvToRgb yuv() const { return is_yuv ? s2s::make_yuv_to_rgb(kr, kb, full_range) : s2s::YuvToRgb{}; }
};

std::string g_golden_dir;
std::vector<GoldenCase> g_cases;

double to_double(const std::string &s) {
  char *end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end) throw std::runtime_error("bad number '" + s + "'");
  return v;
}

int64_t to_int(const std::string &s) {
  char *end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end) throw std::runtime_error("bad integer '" + s + "'");
  return v;
}

void load_golden(const std::string &dir) {
  std::ifstream in(dir + "/cases.txt");
  if (!in) throw std::runtime_error("cannot open " + dir + "/cases.txt");
  std::string line;
  GoldenCase *c = nullptr;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::vector<std::string> f;
    for (std::string t; ss >> t;) f.push_back(t);
    if (f.empty() || f[0][0] == '#') continue;
    if (f[0] == "case" && f.size() == 13) {
      g_cases.emplace_back();
      c = &g_cases.back();
      c->name = f[1];
      bool known = false;
      for (PixelFormat p : kAllFormats) {
        if (f[2] == s2s::format_name(p)) {
          c->format = p;
          known = true;
        }
      }
      if (!known) throw std::runtime_error("unknown format " + f[2]);
      c->is_yuv = s2s::format_layout(c->format).is_yuv;
      c->width = static_cast<int>(to_int(f[3]));
      c->height = static_cast<int>(to_int(f[4]));
      if (c->is_yuv) {
        c->kr = to_double(f[7]);
        c->kb = to_double(f[8]);
        c->full_range = to_int(f[9]) != 0;
      }
      c->frame_size = to_int(f[11]);
      c->unambiguous = to_int(f[12]) != 0;
    } else if (!c) {
      if (f[0] != "taps") throw std::runtime_error("record outside a case: " + line);
    } else if (f[0] == "plane" && f.size() == 5) {
      c->plane_offsets.push_back(to_int(f[2]));
      c->plane_strides.push_back(to_int(f[3]));
      c->plane_rows.push_back(to_int(f[4]));
    } else if (f[0] == "frame" && f.size() == 6) {
      c->files.push_back(f[2]);
    } else if (f[0] == "pair" && f.size() == 6) {
      c->pairs.push_back({static_cast<int>(to_int(f[1])), static_cast<int>(to_int(f[2])), to_double(f[3]),
                          {to_double(f[4]), to_double(f[5])}});
    } else if (f[0] == "end") {
      c = nullptr;
    } else {
      throw std::runtime_error("unexpected record: " + line);
    }
  }
  if (g_cases.empty()) throw std::runtime_error("no golden cases");
}

// Golden frames, re-laid out with `pad` sentinel bytes after every row.
std::vector<std::unique_ptr<TestFrame>> golden_frames(const GoldenCase &c, int64_t pad) {
  std::vector<std::unique_ptr<TestFrame>> frames;
  for (const std::string &file : c.files) {
    std::ifstream in(g_golden_dir + "/" + file, std::ios::binary);
    ck_assert_msg(static_cast<bool>(in), "cannot open %s", file.c_str());
    const Bytes raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ck_assert_msg(static_cast<int64_t>(raw.size()) == c.frame_size, "%s: wrong size", file.c_str());
    PlaneShape shapes[3];
    const int planes = plane_shapes(c.format, c.width, c.height, shapes);
    ck_assert_msg(planes == static_cast<int>(c.plane_offsets.size()), "%s: plane count", c.name.c_str());
    for (int p = 0; p < planes; ++p)
      ck_assert_msg(shapes[p].row_bytes == c.plane_strides[p] && shapes[p].rows == c.plane_rows[p],
                    "%s: plane %d is not laid out as expected", c.name.c_str(), p);
    frames.push_back(make_frame(c.format, c.width, c.height, pad, [&](int p, int64_t r, uint8_t *dst) {
      std::memcpy(dst, raw.data() + c.plane_offsets[p] + r * c.plane_strides[p],
                  static_cast<size_t>(c.plane_strides[p]));
    }));
  }
  return frames;
}

// ---------------------------------------------------------------------------
// Part 2 (GPU): golden cases
// ---------------------------------------------------------------------------
START_TEST(test_golden_case) {
  const GoldenCase &c = g_cases[static_cast<size_t>(_i)];
  if (too_large(c.width, c.height, c.name.c_str())) return;
  const auto tight = golden_frames(c, 0);
  const auto padded = golden_frames(c, 13);
  const s2s::StreamFormat fmt = stream_format(c.format, c.width, c.height, c.yuv());

  // Conversion: bitwise the CPU twin's gray and RGB, from padded device frames.
  for (const auto &f : padded) {
    const DeviceFrame d = to_device(*f);
    ck_assert_msg(cuda_convert(d, c.yuv(), 1, 7) == cpu_convert(f->view, c.yuv(), 1), "%s: gray differs from CPU",
                  c.name.c_str());
    ck_assert_msg(cuda_convert(d, c.yuv(), 3, 5) == cpu_convert(f->view, c.yuv(), 3), "%s: RGB differs from CPU",
                  c.name.c_str());
  }

  auto cuda = cuda_engine();
  auto cpu = s2s::make_cpu_pair_engine(1);
  double worst_cpu = 0, worst_golden[2] = {0, 0};
  for (int wi = 0; wi < 2; ++wi) {
    const SsimWindow w = kWindows[wi];
    const auto want = score_in_batches(*cpu, fmt, views_of(tight), 64, w);
    const auto got = score_in_batches(*cuda, fmt, views_of(tight), 64, w);
    assert_matches_cpu(c.name + " " + window_name(w), got, want, &worst_cpu);
    assert_same(c.name + ": padded host frames", got, score_in_batches(*cuda, fmt, views_of(padded), 64, w));
    // Against NumPy/scikit-image where our gray equals theirs (unambiguous
    // cases; ambiguous ones are bounded by tests/kernels on the CPU twin,
    // which the line above ties the GPU to).
    if (!c.unambiguous) continue;
    for (const GoldenPair &p : c.pairs) {
      const s2s::PairResult &r = got[static_cast<size_t>(p.second)];
      ck_assert_msg(r.mse == p.mse, "%s: pair %d-%d: MSE %.17g, NumPy %.17g", c.name.c_str(), p.first, p.second,
                    r.mse, p.mse);
      ck_assert_msg(ssim_close(r.ssim, p.ssim[wi], kGoldenSsimRelTol), "%s: pair %d-%d: SSIM %s %.17g, skimage %.17g",
                    c.name.c_str(), p.first, p.second, window_name(w), r.ssim, p.ssim[wi]);
      if (!std::isnan(p.ssim[wi]) && p.ssim[wi] != 0) {
        const double rel = std::fabs(r.ssim - p.ssim[wi]) / std::fabs(p.ssim[wi]);
        worst_golden[wi] = rel > worst_golden[wi] ? rel : worst_golden[wi];
      }
    }
  }
  std::printf("stat: cuda %-34s SSIM vs CPU %.3g, vs scikit-image uniform7 %.3g gaussian11 %.3g\n", c.name.c_str(),
              worst_cpu, worst_golden[0], worst_golden[1]);
}
END_TEST

// ---------------------------------------------------------------------------
// Part 2 (GPU): every format at odd sizes, padded strides
// ---------------------------------------------------------------------------
struct Size {
  int w, h;
};
const Size kOddSizes[] = {{1, 1}, {3, 5}, {67, 45}, {641, 359}, {1919, 1079}, {1921, 1081}};

START_TEST(test_formats_odd_sizes) {
  const PixelFormat f = kAllFormats[_i];
  const s2s::YuvToRgb yuv = bt601_limited();
  auto cuda = cuda_engine();
  auto cpu = s2s::make_cpu_pair_engine(0);
  double worst = 0;
  for (const Size s : kOddSizes) {
    if (too_large(s.w, s.h, s2s::format_name(f))) continue;
    const auto frames = random_frames(f, s.w, s.h, 3, 11, 1000u + static_cast<uint32_t>(_i) * 31u + s.w);
    const std::string what = std::string(s2s::format_name(f)) + " " + std::to_string(s.w) + "x" + std::to_string(s.h);
    const DeviceFrame d = to_device(*frames[1]);
    ck_assert_msg(cuda_convert(d, yuv, 1, 3) == cpu_convert(frames[1]->view, yuv, 1), "%s: gray differs", what.c_str());
    ck_assert_msg(cuda_convert(d, yuv, 3, 9) == cpu_convert(frames[1]->view, yuv, 3), "%s: RGB differs", what.c_str());
    // The service conversion (swscale's arithmetic), limited and full range.
    for (int full = 0; full < 2 && s2s::format_layout(f).is_yuv; ++full) {
      const s2s::YuvToRgb svc = s2s::make_service_yuv_to_rgb(f, s.h, full != 0);
      ck_assert_msg(cuda_convert(d, svc, 1, 3) == cpu_convert(frames[1]->view, svc, 1), "%s: service gray differs",
                    what.c_str());
      ck_assert_msg(cuda_convert(d, svc, 3, 9) == cpu_convert(frames[1]->view, svc, 3), "%s: service RGB differs",
                    what.c_str());
    }
    const s2s::StreamFormat fmt = stream_format(f, s.w, s.h, yuv);
    for (const SsimWindow w : kWindows) {
      const auto want = score_in_batches(*cpu, fmt, views_of(frames), 3, w);
      assert_matches_cpu(what + " " + window_name(w), score_in_batches(*cuda, fmt, views_of(frames), 3, w), want,
                         &worst);
    }
    // The frames' padding is untouched (the engine only reads).
    for (const auto &fr : frames) {
      for (int p = 0; p < fr->planes; ++p) {
        for (int64_t r = 0; r < fr->shape[p].rows; ++r) {
          const uint8_t *pad = fr->data.data() + fr->offset[p] + r * fr->view.strides[p] + fr->shape[p].row_bytes;
          for (int k = 0; k < 11; ++k) ck_assert_msg(pad[k] == kSentinel, "%s: padding changed", what.c_str());
        }
      }
    }
  }
  std::printf("stat: cuda %-6s odd sizes: SSIM vs CPU worst relative %.3g\n", s2s::format_name(f), worst);
}
END_TEST

// ---------------------------------------------------------------------------
// Part 2 (GPU): batches, chains, device input
// ---------------------------------------------------------------------------
START_TEST(test_batches_chain_device_input) {
  const PixelFormat f = PixelFormat::kNv12;
  // 641x359 spans many tiles in both directions; 97x61 (7 tiles) where
  // large frames are left out.
  const bool small = static_cast<int64_t>(641) * 359 > g_max_pixels;
  const int w = small ? 97 : 641, h = small ? 61 : 359;
  const s2s::YuvToRgb yuv = bt601_limited();
  const s2s::StreamFormat fmt = stream_format(f, w, h, yuv);
  const auto frames = random_frames(f, w, h, small ? 70 : 130, 5, 42);
  const std::vector<FrameView> views = views_of(frames);
  auto cuda = cuda_engine();
  auto cpu = s2s::make_cpu_pair_engine(0);
  for (const SsimWindow sw : kWindows) {
    const std::string name = window_name(sw);
    const auto batch1 = score_in_batches(*cuda, fmt, views, 1, sw);
    assert_matches_cpu(name + " batch 1 vs CPU", batch1, score_in_batches(*cpu, fmt, views, 64, sw), nullptr);
    assert_same(name + " batch 16 vs 1", score_in_batches(*cuda, fmt, views, 16, sw), batch1);
    assert_same(name + " batch 64 vs 1", score_in_batches(*cuda, fmt, views, 64, sw), batch1);
    assert_same(name + " batch 7 vs 1", score_in_batches(*cuda, fmt, views, 7, sw), batch1);

    // Device frames (padded strides), ready after work on a producer stream.
    std::vector<DeviceFrame> device;
    std::vector<FrameView> device_views;
    for (const auto &fr : frames) {
      device.push_back(to_device(*fr));
      device_views.push_back(device.back().view);
    }
    cudaStream_t producer = nullptr;
    ck_cuda(cudaStreamCreateWithFlags(&producer, cudaStreamNonBlocking), "producer stream");
    assert_same(name + " device input vs host, batch 16",
                score_in_batches(*cuda, fmt, device_views, 16, sw, true, producer), batch1);
    assert_same(name + " device input vs host, batch 1 (legacy stream)",
                score_in_batches(*cuda, fmt, device_views, 1, sw, true, nullptr), batch1);
    cudaStreamDestroy(producer);

    // Host and device calls may alternate; the chain runs through them.
    std::string error;
    ck_assert(cuda->configure(fmt, &error));
    std::vector<s2s::PairResult> mixed(views.size());
    for (size_t i = 0; i < views.size(); ++i) {
      const uint8_t flag = i > 0;
      const bool ok = i % 2 ? cuda->score_device(&device_views[i], &flag, 1, options_for(sw), nullptr, &mixed[i], &error)
                            : cuda->score(&views[i], &flag, 1, options_for(sw), &mixed[i], &error);
      ck_assert_msg(ok, "mixed: %s", error.c_str());
    }
    assert_same(name + " alternating host/device calls", mixed, batch1);

    // reset_chain(), configure() and a zero flag break the chain.
    ck_assert(cuda->configure(fmt, &error));
    s2s::PairResult r[2];
    const uint8_t ones[2] = {1, 1};
    ck_assert(cuda->score(&views[0], ones, 1, options_for(sw), r, &error));
    ck_assert_msg(std::isnan(r[0].mse) && std::isnan(r[0].ssim), "first frame after configure has a pair");
    cuda->reset_chain();
    ck_assert(cuda->score(&views[1], ones, 2, options_for(sw), r, &error));
    ck_assert_msg(std::isnan(r[0].mse) && std::isnan(r[0].ssim), "pair across reset_chain()");
    ck_assert_msg(same_double(r[1].mse, batch1[2].mse) && same_double(r[1].ssim, batch1[2].ssim), "after reset");
    const uint8_t zero_then_one[2] = {0, 1};
    ck_assert(cuda->score(&views[3], zero_then_one, 2, options_for(sw), r, &error));
    ck_assert_msg(std::isnan(r[0].mse), "flag 0 scored");
    ck_assert_msg(same_double(r[1].mse, batch1[4].mse) && same_double(r[1].ssim, batch1[4].ssim), "after flag 0");

    // MSE only and SSIM only give the same numbers.
    s2s::PairOptions only_mse = options_for(sw), only_ssim = options_for(sw);
    only_mse.ssim = false;
    only_ssim.mse = false;
    ck_assert(cuda->configure(fmt, &error));
    std::vector<s2s::PairResult> a(views.size()), b(views.size());
    std::vector<uint8_t> chain(views.size(), 1);
    chain[0] = 0;
    ck_assert(cuda->score(views.data(), chain.data(), views.size(), only_mse, a.data(), &error));
    ck_assert(cuda->configure(fmt, &error));
    ck_assert(cuda->score(views.data(), chain.data(), views.size(), only_ssim, b.data(), &error));
    for (size_t i = 0; i < views.size(); ++i) {
      ck_assert_msg(same_double(a[i].mse, batch1[i].mse) && std::isnan(a[i].ssim), "MSE-only frame %zu", i);
      ck_assert_msg(same_double(b[i].ssim, batch1[i].ssim) && std::isnan(b[i].mse), "SSIM-only frame %zu", i);
    }
  }

  // A frame of another size fails cleanly, as a plain failure.
  std::string error;
  ck_assert(cuda->configure(fmt, &error));
  FrameView wrong = views[0];
  wrong.width = w - 1;
  const uint8_t flag = 0;
  s2s::PairResult r;
  ck_assert(!cuda->score(&wrong, &flag, 1, options_for(SsimWindow::kUniform7), &r, &error));
  ck_assert(cuda->last_error_kind() == s2s::EngineErrorKind::kFailed);
  ck_assert(cuda->score(&views[0], &flag, 1, options_for(SsimWindow::kUniform7), &r, &error));
  ck_assert(cuda->last_error_kind() == s2s::EngineErrorKind::kNone);
}
END_TEST

// A batch too large for the device fails as out-of-memory, before any frame
// is read, and leaves the engine usable: the element retries smaller.
START_TEST(test_out_of_memory) {
  const int w = 7680, h = 4320;  // 8K GRAY8: 33 MB per gray frame
  const size_t huge = 8192;      // ~270 GB of gray slots
  const s2s::StreamFormat fmt = stream_format(PixelFormat::kGray8, w, h, s2s::YuvToRgb{});
  Bytes pixels(static_cast<size_t>(w) * h, 100);
  FrameView v;
  v.format = PixelFormat::kGray8;
  v.width = w;
  v.height = h;
  v.planes[0] = pixels.data();
  v.strides[0] = w;
  auto cuda = cuda_engine();
  std::string error;
  ck_assert(cuda->configure(fmt, &error));
  std::vector<FrameView> views(huge, v);
  std::vector<uint8_t> flags(huge, 1);
  std::vector<s2s::PairResult> results(huge);
  ck_assert_msg(!cuda->score(views.data(), flags.data(), huge, options_for(SsimWindow::kUniform7), results.data(),
                             &error),
                "a batch of %zu 8K frames fit in device memory", huge);
  ck_assert_msg(cuda->last_error_kind() == s2s::EngineErrorKind::kOutOfMemory, "kind %s: %s",
                s2s::engine_error_kind_name(cuda->last_error_kind()), error.c_str());
  std::printf("stat: out of memory reported as: %s\n", error.c_str());
  // Smaller batches still work, and pair up again.
  if (too_large(w, h, "out-of-memory retry")) return;
  ck_assert_msg(cuda->score(views.data(), flags.data(), 2, options_for(SsimWindow::kUniform7), results.data(), &error),
                "after out-of-memory: %s", error.c_str());
  ck_assert(std::isnan(results[0].mse) && results[1].mse == 0.0 && results[1].ssim == 1.0);
}
END_TEST

Suite *gpu_suite() {
  Suite *s = suite_create("cuda-kernels-gpu");
  TCase *golden = tcase_create("golden");
  tcase_set_timeout(golden, 600);
  tcase_add_loop_test(golden, test_golden_case, 0, static_cast<int>(g_cases.size()));
  suite_add_tcase(s, golden);
  TCase *formats = tcase_create("formats");
  tcase_set_timeout(formats, 600);
  tcase_add_loop_test(formats, test_formats_odd_sizes, 0, kFormatCount);
  suite_add_tcase(s, formats);
  TCase *engine = tcase_create("engine");
  tcase_set_timeout(engine, 600);
  tcase_add_test(engine, test_batches_chain_device_input);
  tcase_add_test(engine, test_out_of_memory);
  suite_add_tcase(s, engine);
  return s;
}

int run_suite(Suite *suite) {
  SRunner *sr = srunner_create(suite);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed;
}

}  // namespace

int main() {
  const cudaError_t e = cudaGetDeviceCount(&g_device_count);
  if (e != cudaSuccess)
    g_no_device_reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
  else if (g_device_count == 0)
    g_no_device_reason = "cudaGetDeviceCount reports 0 devices";
  cudaGetLastError();

  if (run_suite(cpu_suite()) + run_suite(preprocess_cpu_suite()) != 0) return EXIT_FAILURE;
  if (!g_no_device_reason.empty()) {
    std::printf("SKIP: no CUDA device (%s); the GPU tests did not run\n", g_no_device_reason.c_str());
    return 77;
  }

  const char *max_pixels = std::getenv("S2S_CUDA_TEST_MAX_PIXELS");
  if (max_pixels && *max_pixels) g_max_pixels = std::atoll(max_pixels);
  const char *id = std::getenv("S2S_CUDA_DEVICE");
  g_device = id && *id ? std::atoi(id) : 0;
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, g_device);
  std::printf("device %d: %s (compute capability %d.%d)\n", g_device, prop.name, prop.major, prop.minor);

  const char *dir = std::getenv("S2S_GOLDEN_DIR");
  if (!dir || !*dir) {
    std::fprintf(stderr, "S2S_GOLDEN_DIR is not set (the directory holding cases.txt)\n");
    return EXIT_FAILURE;
  }
  try {
    g_golden_dir = dir;
    load_golden(dir);
  } catch (const std::exception &ex) {
    std::fprintf(stderr, "cannot load the golden cases: %s\n", ex.what());
    return EXIT_FAILURE;
  }
  std::printf("golden: %zu cases from %s\n", g_cases.size(), dir);
  std::fflush(stdout);
  const int failed = run_suite(gpu_suite()) + run_suite(preprocess_gpu_suite(g_max_pixels));
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
