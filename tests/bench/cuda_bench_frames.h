// What the CUDA benchmarks share: error reporting, NV12 frames held on the
// host and in device memory with views of both, and the device-to-device
// copy bandwidth they report their own traffic against.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "frame.h"

namespace s2s_bench {

inline bool cuda_ok(cudaError_t e, const char *what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
  return false;
}

// `count` tight NV12 frames: the caller fills `host` (sized by
// nv12_frames_layout), nv12_frames_upload copies it to the device and makes
// the views.
struct Nv12Frames {
  int width = 0, height = 0, count = 0;
  size_t y_bytes = 0, uv_stride = 0, uv_rows = 0, frame_bytes = 0;
  std::vector<uint8_t> host;
  uint8_t *device = nullptr;
  std::vector<s2s::FrameView> host_views, device_views;
};

inline void nv12_frames_layout(int width, int height, int count, Nv12Frames *f) {
  f->width = width;
  f->height = height;
  f->count = count;
  f->y_bytes = static_cast<size_t>(width) * height;
  f->uv_stride = static_cast<size_t>((width + 1) / 2) * 2;
  f->uv_rows = static_cast<size_t>((height + 1) / 2);
  f->frame_bytes = f->y_bytes + f->uv_stride * f->uv_rows;
  f->host.assign(f->frame_bytes * count, 0);
}

inline bool nv12_frames_upload(Nv12Frames *f) {
  void *device = nullptr;
  if (!cuda_ok(cudaMalloc(&device, f->host.size()), "cudaMalloc frames")) return false;
  f->device = static_cast<uint8_t *>(device);
  if (!cuda_ok(cudaMemcpy(f->device, f->host.data(), f->host.size(), cudaMemcpyHostToDevice), "upload frames"))
    return false;
  for (int k = 0; k < f->count; ++k) {
    for (int on_device = 0; on_device < 2; ++on_device) {
      s2s::FrameView v;
      v.format = s2s::PixelFormat::kNv12;
      v.width = f->width;
      v.height = f->height;
      uint8_t *base = (on_device ? f->device : f->host.data()) + k * f->frame_bytes;
      v.planes[0] = base;
      v.strides[0] = f->width;
      v.planes[1] = base + f->y_bytes;
      v.strides[1] = static_cast<int64_t>(f->uv_stride);
      (on_device ? f->device_views : f->host_views).push_back(v);
    }
  }
  return true;
}

// Device-to-device copy bandwidth, bytes read + written per second (median).
inline double copy_bandwidth() {
  const size_t bytes = size_t(512) << 20;
  void *a = nullptr, *b = nullptr;
  if (!cuda_ok(cudaMalloc(&a, bytes), "cudaMalloc copy") || !cuda_ok(cudaMalloc(&b, bytes), "cudaMalloc copy"))
    return 0;
  cudaMemset(a, 1, bytes);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> rates;
  for (int r = 0; r < 12; ++r) {
    cudaEventRecord(start);
    cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (r >= 2) rates.push_back(2.0 * static_cast<double>(bytes) / (ms * 1e-3));  // first two: warm-up
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(a);
  cudaFree(b);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace s2s_bench
