// CUDA benchmark of the pair engine (MSE + inverse SSIM, scikit-image's 7x7
// uniform window, of consecutive frames), without GStreamer.
//
//   bench_cuda_pairs [DEVICE_ID]
//   meson test -C build --benchmark -v cuda-pairs
//
// Prints one table: pairs/s for NV12 1920x1080 and 3840x2160 frames already
// in device memory (score_device) at batch 1, 16 and 64, and at batch 16
// from host memory (pinned staging + upload); the bytes per second the pass
// moves at the least (NV12 read, gray written, both grays of the pair read:
// 4.5 bytes per pixel) as a fraction of a cudaMemcpyDeviceToDevice measured
// in the same run (counted as bytes read + written); and the CPU engine (all
// hardware threads, host NV12, batch 16) on the same frames.
//
// Frames are random and correlated (each a noisy copy of the previous one),
// never all zero; a cycle of 8 distinct frames keeps memory small. Each
// point: a warm-up (allocation, first launches), then REPS repetitions of at
// least 600 pairs; the median and the spread are printed. The engine waits
// for its results at the end of every call, so each repetition is timed on
// the host clock around whole calls; the copy is timed with CUDA events.
// Without a CUDA device it prints a SKIP line and exits 77.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "convert.h"
#include "cuda_pair_engine.h"
#include "frame.h"
#include "pair_engine.h"
#include "cuda_bench_frames.h"

namespace {

constexpr int kDistinctFrames = 8;
constexpr long kMinPairs = 600;
constexpr int kReps = 5;

struct Size {
  int width, height;
  const char *name;
};

using s2s_bench::cuda_ok;
using s2s_bench::Nv12Frames;

bool make_frames(int width, int height, Nv12Frames *f) {
  s2s_bench::nv12_frames_layout(width, height, kDistinctFrames, f);
  std::mt19937 rng(12345);
  for (size_t i = 0; i < f->frame_bytes; ++i) f->host[i] = static_cast<uint8_t>(16 + rng() % 224);
  for (int k = 1; k < kDistinctFrames; ++k) {
    const uint8_t *prev = f->host.data() + (k - 1) * f->frame_bytes;
    uint8_t *cur = f->host.data() + k * f->frame_bytes;
    for (size_t i = 0; i < f->frame_bytes; ++i) {
      const int v = prev[i] + static_cast<int>(rng() % 17) - 8;
      cur[i] = static_cast<uint8_t>(v < 1 ? 1 : (v > 254 ? 254 : v));
    }
  }
  return s2s_bench::nv12_frames_upload(f);
}

struct Point {
  double median = 0, low = 0, high = 0;  // pairs/s
  double mean_ssim = 0;                  // checksum: the work happened
  bool ok = false;
};

// Scores at least kMinPairs pairs per repetition in calls of `batch` frames,
// the chain running on across calls.
Point measure(s2s::PairEngine &engine, const Nv12Frames &f, const std::vector<s2s::FrameView> &views, int batch,
              bool device, int reps) {
  Point point;
  s2s::StreamFormat fmt;
  fmt.format = s2s::PixelFormat::kNv12;
  fmt.width = f.width;
  fmt.height = f.height;
  fmt.yuv = s2s::make_yuv_to_rgb(0.2126, 0.0722, false);  // BT.709 limited
  std::string error;
  if (!engine.configure(fmt, &error)) {
    std::fprintf(stderr, "configure: %s\n", error.c_str());
    return point;
  }
  s2s::PairOptions options;  // MSE + SSIM, uniform 7x7
  std::vector<s2s::FrameView> frames(static_cast<size_t>(batch));
  std::vector<uint8_t> flags(static_cast<size_t>(batch), 1);
  std::vector<s2s::PairResult> results(static_cast<size_t>(batch));
  size_t next = 0;
  double ssim_sum = 0;
  long ssim_count = 0;
  auto run = [&](long pairs) {
    for (long done = 0; done < pairs; done += batch) {
      for (int i = 0; i < batch; ++i) {
        frames[static_cast<size_t>(i)] = views[next];
        next = (next + 1) % views.size();
      }
      const bool ok = device ? engine.score_device(frames.data(), flags.data(), frames.size(), options, nullptr,
                                                   results.data(), &error)
                             : engine.score(frames.data(), flags.data(), frames.size(), options, results.data(), &error);
      if (!ok) {
        std::fprintf(stderr, "score: %s\n", error.c_str());
        return false;
      }
      for (const s2s::PairResult &r : results) {
        if (std::isfinite(r.ssim)) {
          ssim_sum += r.ssim;
          ++ssim_count;
        }
      }
    }
    return true;
  };
  const long per_rep = (kMinPairs + batch - 1) / batch * batch;
  if (!run(std::max<long>(4L * batch, 64))) return point;  // warm-up
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!run(per_rep)) return point;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(per_rep) / s);
  }
  std::sort(rates.begin(), rates.end());
  point.median = rates[rates.size() / 2];
  point.low = rates.front();
  point.high = rates.back();
  point.mean_ssim = ssim_count ? ssim_sum / static_cast<double>(ssim_count) : NAN;
  point.ok = true;
  return point;
}

}  // namespace

int main(int argc, char **argv) {
  const int device_id = argc > 1 ? std::atoi(argv[1]) : 0;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("SKIP: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 77;
  }
  std::string error;
  auto engine = s2s::make_cuda_pair_engine(device_id, &error);
  if (!engine) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  cudaSetDevice(device_id);
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, device_id);
  const double copy = s2s_bench::copy_bandwidth();
  auto cpu = s2s::make_cpu_pair_engine(0);
  const unsigned cpu_threads = std::max(1u, std::thread::hardware_concurrency());

  std::printf("device %d: %s, %d SMs; device-to-device copy %.0f GB/s (read + written)\n", device_id, prop.name,
              prop.multiProcessorCount, copy * 1e-9);
  std::printf("MSE + InvSSIM (7x7 uniform), NV12 BT.709; pairs/s median of %d reps of >= %ld pairs [min-max]\n",
              kReps, kMinPairs);
  std::printf("%-10s %-6s %-6s %5s %12s %23s %9s %8s %9s\n", "engine", "input", "size", "batch", "pairs/s",
              "spread", "GB/s", "of copy", "mean SSIM");
  const Size sizes[] = {{1920, 1080, "1080p"}, {3840, 2160, "2160p"}};
  for (const Size &s : sizes) {
    Nv12Frames f;
    if (!make_frames(s.width, s.height, &f)) return 1;
    // Least traffic per pair: NV12 read (1.5 B/px), gray written (1), the
    // pair's two grays read (2).
    const double bytes_per_pair = 4.5 * s.width * s.height;
    auto row = [&](const char *name, const char *input, int batch, const Point &p) {
      char spread[64];
      std::snprintf(spread, sizeof spread, "[%.0f-%.0f]", p.low, p.high);
      std::printf("%-10s %-6s %-6s %5d %12.0f %23s %9.1f %7.1f%% %9.6f\n", name, input, s.name, batch, p.median,
                  spread, p.median * bytes_per_pair * 1e-9, 100.0 * p.median * bytes_per_pair / copy, p.mean_ssim);
      std::fflush(stdout);
    };
    for (const int batch : {1, 16, 64}) {
      const Point p = measure(*engine, f, f.device_views, batch, true, kReps);
      if (!p.ok) return 1;
      row("cuda", "device", batch, p);
    }
    const Point host = measure(*engine, f, f.host_views, 16, false, kReps);
    if (!host.ok) return 1;
    row("cuda", "host", 16, host);
    const Point c = measure(*cpu, f, f.host_views, 16, false, 3);
    if (!c.ok) return 1;
    char name[32];
    std::snprintf(name, sizeof name, "cpu x%u", cpu_threads);
    row(name, "host", 16, c);
    cudaFree(f.device);
  }
  return 0;
}
