// Tests of the network-input kernels (kernels/cuda/preprocess_kernels.cuh:
// LPIPS's resized [-1, 1] RGB planes, MUSIQ's multi-scale patches) against
// their CPU twins (kernels/preprocess.h), without GStreamer or LibTorch.
//
// CPU part (no device): the shared normalisation is the service's formula
// for every byte; the CPU twin of the LPIPS input is, byte for byte, what
// the LPIPS engine computed before it existed (conversion, resize, formula);
// the launchers refuse bad arguments before touching CUDA.
// GPU part (a device, or the emulation of cuda_emulation.cpp): every output
// float, position, scale id and mask bitwise equal to the CPU twin's, for
// all 19 formats at odd sizes with padded strides, LPIPS sizes 256, 64 and
// native, several MUSIQ configurations, batches larger than one launch, and
// nothing written outside the outputs (guard bytes after each buffer).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "convert.h"
#include "cuda_kernels.h"
#include "frame.h"
#include "musiq_patches.h"
#include "pair_engine.h"
#include "preprocess.h"
#include "resize.h"
#include "test_cuda_preprocess.h"

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

using Bytes = std::vector<uint8_t>;
using s2s::FrameView;
using s2s::PixelFormat;

constexpr const auto &kFormats = s2s::kAllPixelFormats;
constexpr int kFormatCount = s2s::kPixelFormatCount;

struct Size {
  int w, h;
};
const Size kSizes[] = {{1, 1}, {7, 5}, {33, 17}, {97, 255}, {1280, 720}};
const int kLpipsSizes[] = {256, 64, 0};  // 0: native resolution

constexpr uint8_t kSentinel = 0xAB;
constexpr size_t kGuardBytes = 256;  // after every output buffer

int64_t g_max_pixels = std::numeric_limits<int64_t>::max();

bool too_large(int w, int h, const std::string &what) {
  if (static_cast<int64_t>(w) * h <= g_max_pixels) return false;
  std::printf("stat: %s %dx%d left out (pixel cap %lld)\n", what.c_str(), w, h,
              static_cast<long long>(g_max_pixels));
  return true;
}

s2s::StreamFormat stream_format(PixelFormat f, int w, int h) {
  s2s::StreamFormat s;
  s.format = f;
  s.width = w;
  s.height = h;
  // Both conversions, by the parity of the size: the service's (swscale's
  // arithmetic, the default) and the colorimetry one (BT.709 limited).
  const bool service = ((w + h) & 1) != 0 && s2s::format_layout(f).is_yuv;
  s.yuv = service ? s2s::make_service_yuv_to_rgb(f, h, false) : s2s::make_yuv_to_rgb(0.2126, 0.0722, false);
  return s;
}

std::string describe(PixelFormat f, int w, int h) {
  return std::string(s2s::format_name(f)) + " " + std::to_string(w) + "x" + std::to_string(h);
}

// ---------------------------------------------------------------------------
// Frames: random bytes, each plane's rows followed by `pad` sentinel bytes.
// ---------------------------------------------------------------------------
struct HostFrame {
  Bytes data;
  FrameView view;
  int planes = 0;
  int64_t offsets[3] = {0, 0, 0};
};

int plane_shapes(PixelFormat f, int w, int h, int64_t row_bytes[3], int64_t rows[3]) {
  const s2s::FormatLayout l = s2s::format_layout(f);
  if (!l.is_yuv) {
    row_bytes[0] = static_cast<int64_t>(w) * l.pixel_stride;
    rows[0] = h;
    return 1;
  }
  row_bytes[0] = w;
  rows[0] = h;
  const int64_t cw = (w + (1 << l.chroma_shift_x) - 1) >> l.chroma_shift_x;
  const int64_t ch = (h + (1 << l.chroma_shift_y) - 1) >> l.chroma_shift_y;
  row_bytes[1] = row_bytes[2] = l.uv_step == 2 ? 2 * cw : cw;
  rows[1] = rows[2] = ch;
  return l.uv_step == 2 ? 2 : 3;
}

std::unique_ptr<HostFrame> random_frame(PixelFormat f, int w, int h, int64_t pad, std::mt19937 &rng) {
  auto fr = std::make_unique<HostFrame>();
  int64_t row_bytes[3], rows[3], total = 0;
  fr->planes = plane_shapes(f, w, h, row_bytes, rows);
  for (int p = 0; p < fr->planes; ++p) {
    fr->offsets[p] = total;
    total += (row_bytes[p] + pad) * rows[p];
  }
  fr->data.assign(static_cast<size_t>(total), kSentinel);
  fr->view.format = f;
  fr->view.width = w;
  fr->view.height = h;
  for (int p = 0; p < fr->planes; ++p) {
    const int64_t stride = row_bytes[p] + pad;
    for (int64_t r = 0; r < rows[p]; ++r) {
      uint8_t *row = fr->data.data() + fr->offsets[p] + r * stride;
      for (int64_t x = 0; x < row_bytes[p]; ++x) row[x] = static_cast<uint8_t>(rng() & 255);
    }
    fr->view.planes[p] = fr->data.data() + fr->offsets[p];
    fr->view.strides[p] = stride;
  }
  return fr;
}

// ---------------------------------------------------------------------------
// Device memory
// ---------------------------------------------------------------------------
void ck_cuda(cudaError_t e, const std::string &what) {
  ck_assert_msg(e == cudaSuccess, "%s: %s", what.c_str(), cudaGetErrorString(e));
}

struct DeviceBuffer {
  void *ptr = nullptr;
  explicit DeviceBuffer(size_t bytes) { ck_cuda(cudaMalloc(&ptr, bytes ? bytes : 1), "cudaMalloc"); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { cudaFree(ptr); }
  template <typename T>
  T *as() const {
    return static_cast<T *>(ptr);
  }
};

// A device copy of a host frame, padding and all, viewed with its strides.
struct DeviceFrame {
  std::unique_ptr<DeviceBuffer> memory;
  FrameView view;
};

DeviceFrame upload(const HostFrame &f) {
  DeviceFrame d;
  d.memory = std::make_unique<DeviceBuffer>(f.data.size());
  ck_cuda(cudaMemcpy(d.memory->ptr, f.data.data(), f.data.size(), cudaMemcpyHostToDevice), "frame upload");
  d.view = f.view;
  for (int p = 0; p < f.planes; ++p) d.view.planes[p] = d.memory->as<uint8_t>() + f.offsets[p];
  return d;
}

// An output buffer of `count` floats followed by guard bytes, all preset to
// the sentinel.
struct DeviceOutput {
  size_t count;
  DeviceBuffer buffer;
  explicit DeviceOutput(size_t n) : count(n), buffer(n * sizeof(float) + kGuardBytes) {
    ck_cuda(cudaMemset(buffer.ptr, kSentinel, n * sizeof(float) + kGuardBytes), "cudaMemset");
  }
  float *get() const { return buffer.as<float>(); }
  // The floats, after checking the guard bytes are untouched.
  std::vector<float> download(const std::string &what) const {
    Bytes raw(count * sizeof(float) + kGuardBytes);
    ck_cuda(cudaMemcpy(raw.data(), buffer.ptr, raw.size(), cudaMemcpyDeviceToHost), "download");
    for (size_t i = count * sizeof(float); i < raw.size(); ++i)
      ck_assert_msg(raw[i] == kSentinel, "%s: byte %zu past the end of the output was written", what.c_str(),
                    i - count * sizeof(float));
    std::vector<float> out(count);
    if (count) std::memcpy(out.data(), raw.data(), count * sizeof(float));
    return out;
  }
};

struct Stream {
  cudaStream_t stream = nullptr;
  Stream() { ck_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
  ~Stream() { cudaStreamDestroy(stream); }
};

// Bitwise, with the first difference named (element `unit`-sized groups:
// 3072 values per MUSIQ token, a plane per LPIPS channel).
void assert_same_floats(const std::string &what, const std::vector<float> &got, const std::vector<float> &want,
                        size_t unit, const char *unit_name) {
  ck_assert_msg(got.size() == want.size(), "%s: %zu values, CPU %zu", what.c_str(), got.size(), want.size());
  if (got.empty() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0) return;
  size_t bad = 0, first = got.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      ++bad;
      if (first == got.size()) first = i;
    }
  }
  ck_abort_msg("%s: %zu of %zu values differ; first: %s %zu value %zu: CUDA %.9g, CPU %.9g", what.c_str(), bad,
               got.size(), unit_name, first / unit, first % unit, got[first], want[first]);
}

// ---------------------------------------------------------------------------
// LPIPS input
// ---------------------------------------------------------------------------
std::vector<float> cpu_lpips(const s2s::StreamFormat &fmt, const std::vector<FrameView> &frames, int out_w,
                             int out_h) {
  const size_t frame_floats = static_cast<size_t>(3) * out_w * out_h;
  std::vector<float> out(frames.size() * frame_floats);
  s2s::PreprocessScratch scratch;
  for (size_t i = 0; i < frames.size(); ++i)
    s2s::lpips_input(frames[i], fmt.yuv, out_w, out_h, out.data() + i * frame_floats, &scratch);
  return out;
}

// `batch` frames per call, all calls queued before one synchronisation.
std::vector<float> cuda_lpips(const s2s::StreamFormat &fmt, const std::vector<FrameView> &frames, int out_w,
                              int out_h, size_t batch, const std::string &what) {
  const size_t frame_floats = static_cast<size_t>(3) * out_w * out_h;
  DeviceOutput out(frames.size() * frame_floats);
  Stream stream;
  for (size_t first = 0; first < frames.size(); first += batch) {
    const size_t n = std::min(batch, frames.size() - first);
    ck_cuda(s2s::cuda::launch_lpips_input(fmt, frames.data() + first, static_cast<int>(n), out_w, out_h,
                                          out.get() + first * frame_floats, stream.stream),
            what + ": launch_lpips_input");
  }
  ck_cuda(cudaStreamSynchronize(stream.stream), what + ": LPIPS input kernels");
  return out.download(what);
}

struct Frames {
  std::vector<std::unique_ptr<HostFrame>> host;
  std::vector<DeviceFrame> device;
  std::vector<FrameView> host_views, device_views;
};

// count frames, frame i with 3 + 4 * i bytes of padding after every row.
Frames make_frames(PixelFormat f, int w, int h, int count, uint32_t seed) {
  std::mt19937 rng(seed);
  Frames fr;
  for (int i = 0; i < count; ++i) {
    fr.host.push_back(random_frame(f, w, h, 3 + 4 * i, rng));
    fr.device.push_back(upload(*fr.host.back()));
    fr.host_views.push_back(fr.host.back()->view);
    fr.device_views.push_back(fr.device.back().view);
  }
  return fr;
}

void check_lpips(const s2s::StreamFormat &fmt, const Frames &fr, int out_w, int out_h, size_t batch,
                 const std::string &what) {
  const std::string name = what + " -> " + std::to_string(out_w) + "x" + std::to_string(out_h);
  assert_same_floats(name, cuda_lpips(fmt, fr.device_views, out_w, out_h, batch, name),
                     cpu_lpips(fmt, fr.host_views, out_w, out_h), static_cast<size_t>(out_w) * out_h,
                     "channel plane");
}

// ---------------------------------------------------------------------------
// MUSIQ patches
// ---------------------------------------------------------------------------
struct Tokens {
  std::vector<float> values, pos, scale, mask;
};

Tokens cpu_musiq(const s2s::StreamFormat &fmt, const std::vector<FrameView> &frames,
                 const s2s::MusiqPatchConfig &config) {
  const size_t t = static_cast<size_t>(s2s::musiq_token_count(config, fmt.width, fmt.height));
  Tokens out;
  out.values.resize(frames.size() * t * s2s::kMusiqTokenValues);
  out.pos.resize(frames.size() * t);
  out.scale.resize(frames.size() * t);
  out.mask.resize(frames.size() * t);
  s2s::PreprocessScratch scratch;
  for (size_t i = 0; i < frames.size(); ++i)
    s2s::musiq_frame_patches(frames[i], fmt.yuv, config, out.values.data() + i * t * s2s::kMusiqTokenValues,
                             out.pos.data() + i * t, out.scale.data() + i * t, out.mask.data() + i * t, &scratch);
  return out;
}

Tokens cuda_musiq(const s2s::StreamFormat &fmt, const std::vector<FrameView> &frames,
                  const s2s::MusiqPatchConfig &config, size_t batch, const std::string &what) {
  const size_t t = static_cast<size_t>(s2s::musiq_token_count(config, fmt.width, fmt.height));
  const size_t n = frames.size();
  DeviceOutput values(n * t * s2s::kMusiqTokenValues), pos(n * t), scale(n * t), mask(n * t);
  Stream stream;
  for (size_t first = 0; first < n; first += batch) {
    const size_t count = std::min(batch, n - first);
    ck_cuda(s2s::cuda::launch_musiq_patches(fmt, frames.data() + first, static_cast<int>(count), config,
                                            values.get() + first * t * s2s::kMusiqTokenValues, pos.get() + first * t,
                                            scale.get() + first * t, mask.get() + first * t, stream.stream),
            what + ": launch_musiq_patches");
  }
  ck_cuda(cudaStreamSynchronize(stream.stream), what + ": MUSIQ kernels");
  Tokens out;
  out.values = values.download(what + " values");
  out.pos = pos.download(what + " positions");
  out.scale = scale.download(what + " scale ids");
  out.mask = mask.download(what + " mask");
  return out;
}

std::string config_name(const s2s::MusiqPatchConfig &c) {
  std::string s = "sides";
  for (int side : c.longer_sides) s += " " + std::to_string(side);
  return s + " max-seq-len " + std::to_string(c.max_seq_len) + " grid " + std::to_string(c.hse_grid);
}

void check_musiq(const s2s::StreamFormat &fmt, const Frames &fr, const s2s::MusiqPatchConfig &config, size_t batch,
                 const std::string &what) {
  const std::string name = what + " (" + config_name(config) + ")";
  const Tokens want = cpu_musiq(fmt, fr.host_views, config);
  const Tokens got = cuda_musiq(fmt, fr.device_views, config, batch, name);
  assert_same_floats(name + " values", got.values, want.values, s2s::kMusiqTokenValues, "token");
  assert_same_floats(name + " positions", got.pos, want.pos, 1, "token");
  assert_same_floats(name + " scale ids", got.scale, want.scale, 1, "token");
  assert_same_floats(name + " mask", got.mask, want.mask, 1, "token");
}

s2s::MusiqPatchConfig musiq_config(std::vector<int> sides, int max_seq_len, int grid = 10) {
  s2s::MusiqPatchConfig c;
  c.longer_sides = std::move(sides);
  c.max_seq_len = max_seq_len;
  c.hse_grid = grid;
  return c;
}

// ---------------------------------------------------------------------------
// CPU part
// ---------------------------------------------------------------------------

// The shared normalisation is the service's expression, for every byte.
START_TEST(test_lpips_value_math) {
  for (int v = 0; v < 256; ++v) {
    const float want = static_cast<float>(v) / 255.0f * 2.0f - 1.0f;
    const float got = s2s::lpips_value_from_u8(v);
    ck_assert_msg(std::memcmp(&got, &want, sizeof got) == 0, "byte %d: %.9g, expected %.9g", v, got, want);
  }
  ck_assert(s2s::lpips_value_from_u8(0) == -1.0f && s2s::lpips_value_from_u8(255) == 1.0f);
}
END_TEST

// The CPU twin gives what the LPIPS engine computed before it was factored
// out (RGB conversion, cv2-exact resize unless the size is the same, then
// the formula), so moving the engine onto it changed no result.
START_TEST(test_lpips_cpu_twin_is_the_engine_path) {
  std::mt19937 rng(7);
  const Size sizes[] = {{1, 1}, {33, 17}, {97, 61}, {256, 256}, {512, 512}};
  for (const PixelFormat f : {PixelFormat::kRgb, PixelFormat::kBgrx, PixelFormat::kGray8, PixelFormat::kNv12,
                              PixelFormat::kI420}) {
    for (const Size s : sizes) {
      const auto frame = random_frame(f, s.w, s.h, 5, rng);
      const s2s::StreamFormat fmt = stream_format(f, s.w, s.h);
      for (const int size : kLpipsSizes) {
        const int ow = size > 0 ? size : s.w, oh = size > 0 ? size : s.h;
        Bytes rgb(static_cast<size_t>(s.w) * s.h * 3), resized(static_cast<size_t>(ow) * oh * 3);
        s2s::convert_to_rgb_rows(frame->view, fmt.yuv, rgb.data(), static_cast<int64_t>(s.w) * 3, 0, s.h);
        const uint8_t *src = rgb.data();
        if (ow != s.w || oh != s.h) {
          s2s::resize_linear_u8(rgb.data(), static_cast<int64_t>(s.w) * 3, s.w, s.h, 3, resized.data(),
                                static_cast<int64_t>(ow) * 3, ow, oh, 0, oh);
          src = resized.data();
        }
        const size_t plane = static_cast<size_t>(ow) * oh;
        std::vector<float> want(3 * plane);
        for (size_t i = 0; i < plane; ++i)
          for (int c = 0; c < 3; ++c) want[c * plane + i] = static_cast<float>(src[3 * i + c]) / 255.0f * 2.0f - 1.0f;
        std::vector<float> got(3 * plane);
        s2s::PreprocessScratch scratch;
        s2s::lpips_input(frame->view, fmt.yuv, ow, oh, got.data(), &scratch);
        assert_same_floats(describe(f, s.w, s.h) + " CPU twin", got, want, plane, "channel plane");
      }
    }
  }
}
END_TEST

// Bad arguments fail with cudaErrorInvalidValue before any CUDA call (so
// this runs without a device); an empty batch queues nothing.
START_TEST(test_launch_argument_checks) {
  Bytes memory(4096, 0);
  FrameView v;
  v.format = PixelFormat::kNv12;
  v.width = 16;
  v.height = 8;
  v.planes[0] = memory.data();
  v.planes[1] = memory.data() + 1024;
  v.strides[0] = v.strides[1] = 16;
  const s2s::StreamFormat fmt = stream_format(PixelFormat::kNv12, 16, 8);
  float *out = reinterpret_cast<float *>(memory.data());  // never written: every call below fails or is empty
  const s2s::MusiqPatchConfig config;
  using s2s::cuda::launch_lpips_input;
  using s2s::cuda::launch_musiq_patches;
  const cudaError_t invalid = cudaErrorInvalidValue;

  ck_assert(launch_lpips_input(fmt, &v, 0, 256, 256, out, nullptr) == cudaSuccess);
  ck_assert(launch_musiq_patches(fmt, &v, 0, config, out, out, out, out, nullptr) == cudaSuccess);
  ck_assert(launch_lpips_input(fmt, nullptr, 1, 256, 256, out, nullptr) == invalid);
  ck_assert(launch_lpips_input(fmt, &v, 1, 0, 256, out, nullptr) == invalid);
  ck_assert(launch_lpips_input(fmt, &v, 1, 256, 256, nullptr, nullptr) == invalid);
  ck_assert(launch_musiq_patches(fmt, &v, 1, config, out, nullptr, out, out, nullptr) == invalid);

  // Frames that do not match the stream: size, format, a missing plane, a
  // stride shorter than a row.
  FrameView bad[5] = {v, v, v, v, v};
  bad[0].width = 15;
  bad[1].format = PixelFormat::kNv21;
  bad[2].planes[1] = nullptr;
  bad[3].strides[1] = 15;
  bad[4].strides[0] = 8;
  for (int i = 0; i < 5; ++i) {
    const FrameView batch[2] = {v, bad[i]};  // the good first frame is not queued either
    ck_assert_msg(launch_lpips_input(fmt, batch, 2, 64, 64, out, nullptr) == invalid, "LPIPS bad frame %d", i);
    ck_assert_msg(launch_musiq_patches(fmt, batch, 2, config, out, out, out, out, nullptr) == invalid,
                  "MUSIQ bad frame %d", i);
  }
  s2s::StreamFormat empty = fmt;
  empty.width = 0;
  ck_assert(launch_lpips_input(empty, &v, 1, 64, 64, out, nullptr) == invalid);

  // Eight longer sides make nine scales, one more than a launch carries.
  const s2s::MusiqPatchConfig too_many = musiq_config({32, 64, 96, 128, 160, 192, 224, 256}, -1);
  ck_assert(launch_musiq_patches(fmt, &v, 1, too_many, out, out, out, out, nullptr) == invalid);
}
END_TEST

// ---------------------------------------------------------------------------
// GPU part
// ---------------------------------------------------------------------------

// Every format at odd sizes (padded strides, two frames of different
// strides per call): LPIPS input at 256, 64 and native size, and MUSIQ's
// default configuration.
START_TEST(test_formats_odd_sizes) {
  const PixelFormat f = kFormats[_i];
  const s2s::MusiqPatchConfig musiq_default;
  for (const Size s : kSizes) {
    const std::string what = describe(f, s.w, s.h);
    if (too_large(s.w, s.h, what)) continue;
    const Frames fr = make_frames(f, s.w, s.h, 2, 100u + static_cast<uint32_t>(_i) * 7u + static_cast<uint32_t>(s.w));
    const s2s::StreamFormat fmt = stream_format(f, s.w, s.h);
    for (const int size : kLpipsSizes) {
      const int ow = size > 0 ? size : s.w, oh = size > 0 ? size : s.h;
      check_lpips(fmt, fr, ow, oh, 2, what);
    }
    check_musiq(fmt, fr, musiq_default, 2, what);
  }
  std::printf("stat: cuda preprocess %-6s bitwise equal to the CPU twin (LPIPS 256/64/native, MUSIQ default)\n",
              s2s::format_name(f));
}
END_TEST

// Each of OpenCV's paths, and sizes that are not square: the exact 2x
// downscale (a 2x2 mean), a same-size copy, upscales, one axis 2x only.
START_TEST(test_lpips_resize_paths) {
  struct Case {
    PixelFormat f;
    int w, h, ow, oh;
  };
  const Case cases[] = {
      {PixelFormat::kNv12, 66, 34, 33, 17},   {PixelFormat::kRgba, 128, 128, 64, 64},
      {PixelFormat::kI420, 128, 64, 64, 64},  {PixelFormat::kBgr, 40, 30, 40, 30},
      {PixelFormat::kY444, 5, 3, 256, 256},   {PixelFormat::kNv21, 97, 255, 40, 30},
      {PixelFormat::kGray8, 33, 17, 7, 300},  {PixelFormat::kNv16, 512, 512, 256, 256},
      {PixelFormat::kXbgr, 1920, 1080, 256, 256},
  };
  for (const Case &c : cases) {
    const std::string what = describe(c.f, c.w, c.h);
    if (too_large(c.w, c.h, what)) continue;
    const Frames fr = make_frames(c.f, c.w, c.h, 3, static_cast<uint32_t>(c.w * 31 + c.h));
    check_lpips(stream_format(c.f, c.w, c.h), fr, c.ow, c.oh, 3, what);
  }
}
END_TEST

// MUSIQ configurations: the native scale cut, padded and empty
// (max-seq-len), one longer side, unsorted sides smaller than a patch and
// larger than the frame (an upscale), seven sides (the most a launch
// carries), another hash grid, portrait and extreme aspect ratios.
START_TEST(test_musiq_configs) {
  struct Case {
    PixelFormat f;
    int w, h;
  };
  const Case frames[] = {{PixelFormat::kNv12, 97, 61}, {PixelFormat::kRgb, 45, 77}, {PixelFormat::kI420, 300, 3}};
  const s2s::MusiqPatchConfig configs[] = {
      musiq_config({224, 384}, -1), musiq_config({224, 384}, 0),  musiq_config({224, 384}, 3),
      musiq_config({224, 384}, 50), musiq_config({32}, -1),       musiq_config({500, 16, 64}, 5),
      musiq_config({32, 40, 64, 70, 96, 100, 128}, -1),           musiq_config({64, 96}, -1, 4),
  };
  for (const Case &c : frames) {
    const std::string what = describe(c.f, c.w, c.h);
    if (too_large(c.w, c.h, what)) continue;
    const Frames fr = make_frames(c.f, c.w, c.h, 2, static_cast<uint32_t>(c.w + c.h));
    for (const s2s::MusiqPatchConfig &config : configs) check_musiq(stream_format(c.f, c.w, c.h), fr, config, 2, what);
  }
}
END_TEST

// Batches of 1, 16, 64 and all frames in one call (more than one launch
// carries), each frame with its own strides: every frame's output equals
// the CPU twin's, wherever it sits in a batch.
START_TEST(test_batches) {
  const bool small = static_cast<int64_t>(641) * 359 > g_max_pixels;
  const int w = small ? 97 : 641, h = small ? 61 : 359, count = small ? 40 : 70;
  const int lpips_size = small ? 64 : 256;
  const s2s::MusiqPatchConfig config = small ? musiq_config({32, 64}, -1) : s2s::MusiqPatchConfig{};
  const s2s::StreamFormat fmt = stream_format(PixelFormat::kNv12, w, h);
  const Frames fr = make_frames(PixelFormat::kNv12, w, h, count, 4242);
  const std::string what = describe(PixelFormat::kNv12, w, h) + " x" + std::to_string(count);
  for (const size_t batch : {size_t{1}, size_t{16}, size_t{64}, static_cast<size_t>(count)}) {
    const std::string name = what + " batch " + std::to_string(batch);
    check_lpips(fmt, fr, lpips_size, lpips_size, batch, name);
    check_musiq(fmt, fr, config, batch, name);
  }
}
END_TEST

}  // namespace

Suite *preprocess_cpu_suite() {
  Suite *s = suite_create("cuda-preprocess-cpu");
  TCase *tc = tcase_create("cpu");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_lpips_value_math);
  tcase_add_test(tc, test_lpips_cpu_twin_is_the_engine_path);
  tcase_add_test(tc, test_launch_argument_checks);
  suite_add_tcase(s, tc);
  return s;
}

Suite *preprocess_gpu_suite(int64_t max_pixels) {
  // The emulation's cost here hardly grows with the frame (MUSIQ's rescaled
  // scales and LPIPS's 256x256 output do not depend on it), so its own cap
  // can let 97x255 in where the pair tests stop earlier.
  const char *own = std::getenv("S2S_CUDA_PREPROCESS_MAX_PIXELS");
  g_max_pixels = own && *own ? std::atoll(own) : max_pixels;
  Suite *s = suite_create("cuda-preprocess-gpu");
  TCase *formats = tcase_create("formats");
  tcase_set_timeout(formats, 600);
  tcase_add_loop_test(formats, test_formats_odd_sizes, 0, kFormatCount);
  suite_add_tcase(s, formats);
  TCase *paths = tcase_create("paths");
  tcase_set_timeout(paths, 600);
  tcase_add_test(paths, test_lpips_resize_paths);
  tcase_add_test(paths, test_musiq_configs);
  tcase_add_test(paths, test_batches);
  suite_add_tcase(s, paths);
  return s;
}
