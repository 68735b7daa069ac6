// CUDA benchmark of the network inputs (kernels/cuda/preprocess_kernels.cuh),
// without GStreamer or LibTorch.
//
//   bench_cuda_preprocess [DEVICE_ID]
//   meson test -C build --benchmark -v cuda-preprocess
//
// Prints frames/s for NV12 1920x1080 frames already in device memory at
// batch 1, 16 and 64 of: the LPIPS input at 256x256 and at native size, and
// MUSIQ's patches with the default scales (224, 384 + native: 2233 tokens,
// 27 MB per frame). Beside each row: the bytes per second the kernel moves
// at the least (its output written, plus the NV12 frame read where it reads
// all of it) as a fraction of a device-to-device copy measured in the same
// run (counted as bytes read + written), and the CPU twin
// (kernels/preprocess.h, one thread per frame as the engines run it, host
// frames) on the same frames.
//
// The launches do not synchronize, so each repetition queues whole batches
// of at least kMinFrames frames on one stream and is timed with CUDA events
// around them; a warm-up comes first and the median of kReps repetitions is
// printed with the spread. The last batch of every row is then compared
// with the CPU twin, bit for bit (its first and last frame), so the figures
// are for correct output at 1080p, a size the emulated tests leave out.
// Without a CUDA device it prints "SKIP: not run: no GPU (...)" and exits 77.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "convert.h"
#include "cuda_bench_frames.h"
#include "cuda_kernels.h"
#include "frame.h"
#include "musiq_patches.h"
#include "pair_engine.h"
#include "preprocess.h"

namespace {

constexpr int kWidth = 1920, kHeight = 1080;
constexpr int kDistinctFrames = 8;
constexpr long kMinFrames = 640;
constexpr int kReps = 5;
constexpr double kMinCpuSeconds = 1.0;

using s2s_bench::cuda_ok;
using Frames = s2s_bench::Nv12Frames;

// kDistinctFrames random NV12 frames, tight, on the host and on the device.
bool make_frames(Frames *f) {
  s2s_bench::nv12_frames_layout(kWidth, kHeight, kDistinctFrames, f);
  std::mt19937 rng(2024);
  for (auto &b : f->host) b = static_cast<uint8_t>(16 + rng() % 224);
  return s2s_bench::nv12_frames_upload(f);
}

// One workload: how to queue a batch of n frames into one output buffer,
// where frame i's outputs lie in it (runs of floats, in the order the CPU
// twin writes them into one frame's buffer), and the CPU twin of one frame.
struct Span {
  size_t offset, count;
};

struct Workload {
  const char *name;
  size_t floats_per_frame;  // all outputs of a frame
  bool reads_whole_frame;   // every source byte read at least once
  std::function<cudaError_t(const s2s::FrameView *, int, float *, cudaStream_t)> queue;
  std::function<std::vector<Span>(int n, int i)> frame_spans;
  std::function<void(const s2s::FrameView &, float *)> cpu;
};

struct Point {
  double median = 0, low = 0, high = 0;  // frames/s
  bool ok = false, matches_cpu = false;
};

Point measure(const Workload &w, const Frames &f, int batch) {
  Point point;
  const size_t batch_floats = w.floats_per_frame * static_cast<size_t>(batch);
  void *out = nullptr;
  if (!cuda_ok(cudaMalloc(&out, batch_floats * sizeof(float)), "cudaMalloc output")) return point;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<s2s::FrameView> frames(static_cast<size_t>(batch));
  size_t next = 0;
  auto queue = [&](long count) {
    for (long done = 0; done < count; done += batch) {
      for (auto &v : frames) {
        v = f.device_views[next];
        next = (next + 1) % f.device_views.size();
      }
      if (!cuda_ok(w.queue(frames.data(), batch, static_cast<float *>(out), stream), w.name)) return false;
    }
    return true;
  };
  const long per_rep = (kMinFrames + batch - 1) / batch * batch;
  bool ok = queue(std::max<long>(4L * batch, 64)) && cuda_ok(cudaStreamSynchronize(stream), "warm-up");
  std::vector<double> rates;
  for (int r = 0; ok && r < kReps; ++r) {
    cudaEventRecord(start, stream);
    ok = queue(per_rep);
    cudaEventRecord(stop, stream);
    ok = ok && cuda_ok(cudaEventSynchronize(stop), "timed batches");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    rates.push_back(static_cast<double>(per_rep) / (ms * 1e-3));
  }
  if (ok) {
    // The last batch's first and last frames against the CPU twin.
    point.matches_cpu = true;
    std::vector<float> got(w.floats_per_frame), want(w.floats_per_frame);
    for (const int i : {0, batch - 1}) {
      size_t at = 0;
      for (const Span &span : w.frame_spans(batch, i)) {
        ok = ok && cuda_ok(cudaMemcpy(got.data() + at, static_cast<float *>(out) + span.offset,
                                      span.count * sizeof(float), cudaMemcpyDeviceToHost),
                           "download");
        at += span.count;
      }
      // The host copy of the device frame the batch held at i.
      const uint8_t *plane = frames[static_cast<size_t>(i)].planes[0];
      const size_t k = static_cast<size_t>(plane - f.device) / f.frame_bytes;
      w.cpu(f.host_views[k], want.data());
      point.matches_cpu =
          point.matches_cpu && at == got.size() && std::memcmp(got.data(), want.data(), at * sizeof(float)) == 0;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
  cudaFree(out);
  if (!ok) return point;
  std::sort(rates.begin(), rates.end());
  point.median = rates[rates.size() / 2];
  point.low = rates.front();
  point.high = rates.back();
  point.ok = true;
  return point;
}

// CPU twin, frames one after the other for at least kMinCpuSeconds.
double cpu_rate(const Workload &w, const Frames &f) {
  std::vector<float> out(w.floats_per_frame);
  w.cpu(f.host_views[0], out.data());  // warm-up (allocations)
  long frames = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double s = 0;
  do {
    w.cpu(f.host_views[static_cast<size_t>(frames) % f.host_views.size()], out.data());
    ++frames;
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (s < kMinCpuSeconds || frames < 3);
  return static_cast<double>(frames) / s;
}

}  // namespace

int main(int argc, char **argv) {
  const int device_id = argc > 1 ? std::atoi(argv[1]) : 0;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0 || device_id < 0 || device_id >= count) {
    std::printf("SKIP: not run: no GPU (%s)\n",
                e != cudaSuccess ? cudaGetErrorString(e)
                                 : (count == 0 ? "0 devices" : "no such device id"));
    return 77;
  }
  if (!cuda_ok(cudaSetDevice(device_id), "cudaSetDevice")) return 1;
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, device_id);
  const double copy = s2s_bench::copy_bandwidth();
  Frames f;
  if (!make_frames(&f)) return 1;

  s2s::StreamFormat fmt;
  fmt.format = s2s::PixelFormat::kNv12;
  fmt.width = kWidth;
  fmt.height = kHeight;
  fmt.yuv = s2s::make_yuv_to_rgb(0.2126, 0.0722, false);  // BT.709 limited
  const s2s::MusiqPatchConfig musiq;                     // 224, 384 + native
  const size_t tokens = static_cast<size_t>(s2s::musiq_token_count(musiq, kWidth, kHeight));
  s2s::PreprocessScratch scratch;

  auto lpips = [&](const char *name, int side) {
    const int ow = side > 0 ? side : kWidth, oh = side > 0 ? side : kHeight;
    const size_t floats = static_cast<size_t>(3) * ow * oh;
    return Workload{name, floats, side <= 0,
                    [=](const s2s::FrameView *v, int n, float *out, cudaStream_t stream) {
                      return s2s::cuda::launch_lpips_input(fmt, v, n, ow, oh, out, stream);
                    },
                    [=](int, int i) { return std::vector<Span>{{static_cast<size_t>(i) * floats, floats}}; },
                    [=, &scratch](const s2s::FrameView &v, float *out) {
                      s2s::lpips_input(v, fmt.yuv, ow, oh, out, &scratch);
                    }};
  };
  // MUSIQ's batch buffer: all frames' values, then all positions, scale ids
  // and masks; one frame's CPU buffer: its values, position, scale, mask.
  const size_t values = tokens * s2s::kMusiqTokenValues;
  const Workload musiq_workload{
      "musiq 224,384+native", values + 3 * tokens, true,
      [&](const s2s::FrameView *v, int n, float *out, cudaStream_t stream) {
        float *pos = out + static_cast<size_t>(n) * values;
        float *scale = pos + static_cast<size_t>(n) * tokens;
        float *mask = scale + static_cast<size_t>(n) * tokens;
        return s2s::cuda::launch_musiq_patches(fmt, v, n, musiq, out, pos, scale, mask, stream);
      },
      [&](int n, int i) {
        const size_t meta = static_cast<size_t>(n) * values + static_cast<size_t>(i) * tokens;
        const size_t all = static_cast<size_t>(n) * tokens;
        return std::vector<Span>{
            {static_cast<size_t>(i) * values, values}, {meta, tokens}, {meta + all, tokens}, {meta + 2 * all, tokens}};
      },
      [&](const s2s::FrameView &v, float *out) {
        s2s::musiq_frame_patches(v, fmt.yuv, musiq, out, out + values, out + values + tokens,
                                 out + values + 2 * tokens, &scratch);
      }};
  const Workload workloads[] = {lpips("lpips 256x256", 256), lpips("lpips native", 0), musiq_workload};

  std::printf("device %d: %s, %d SMs; device-to-device copy %.0f GB/s (read + written)\n", device_id, prop.name,
              prop.multiProcessorCount, copy * 1e-9);
  std::printf("NV12 %dx%d BT.709 frames in device memory; frames/s: median of %d reps of >= %ld frames [min-max];\n"
              "GB/s: output written + NV12 read where the kernel reads every byte; cpu twin: one thread, host "
              "frames; exact: the last batch's first and last frames equal the cpu twin's, bit for bit\n",
              kWidth, kHeight, kReps, kMinFrames);
  std::printf("%-22s %5s %11s %21s %8s %8s %11s %9s %6s\n", "input", "batch", "frames/s", "spread", "GB/s", "of copy",
              "cpu twin/s", "speed-up", "exact");
  bool all_exact = true;
  for (const Workload &w : workloads) {
    const double cpu = cpu_rate(w, f);
    const double bytes = static_cast<double>(w.floats_per_frame) * sizeof(float) +
                         (w.reads_whole_frame ? static_cast<double>(f.frame_bytes) : 0.0);
    for (const int batch : {1, 16, 64}) {
      const Point p = measure(w, f, batch);
      if (!p.ok) return 1;
      char spread[48];
      std::snprintf(spread, sizeof spread, "[%.0f-%.0f]", p.low, p.high);
      std::printf("%-22s %5d %11.0f %21s %8.1f %7.1f%% %11.1f %8.0fx %6s\n", w.name, batch, p.median, spread,
                  p.median * bytes * 1e-9, 100.0 * p.median * bytes / copy, cpu, p.median / cpu,
                  p.matches_cpu ? "yes" : "NO");
      std::fflush(stdout);
      all_exact = all_exact && p.matches_cpu;
    }
  }
  cudaFree(f.device);
  if (!all_exact) {
    std::printf("FAIL: CUDA output differs from the CPU twin\n");
    return 1;
  }
  return 0;
}
