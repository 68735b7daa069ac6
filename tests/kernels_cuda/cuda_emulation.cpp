// A CPU stand-in for the CUDA runtime and for the GPU, for machines without
// one (CI): the calls the engine and test_cuda_kernels.cpp make are served
// from host memory, and the kernel launches run the very kernel code of
// kernels/cuda/*.cuh, compiled by the host compiler, one block at a time.
//
// Each CUDA thread of a block is a fiber (ucontext) on one OS thread.
// __syncthreads() returns to the scheduler, which runs every fiber of the
// block up to its next barrier before any goes on, so shared memory sees the
// same ordering guarantees as on the GPU, and a barrier not reached by all
// threads of a block aborts the run. Warp shuffles go through a block-wide
// exchange (all of a block's threads shuffle together in our kernels).
//
// This proves the index math, the tiling, the reductions and the engine's
// bookkeeping on every CI run; it says nothing about timing, memory
// ordering between streams or the device compiler (the GPU suite does).
#include <cuda_runtime_api.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

// The CUDA keywords as plain C++: __shared__ arrays become function statics,
// shared by the fibers of the block being run.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __shared__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __grid_constant__

// Built-in variables of the running fiber.
uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace emulation {

constexpr size_t kFiberStack = 64 * 1024;

struct Fiber {
  ucontext_t context;
  std::vector<char> stack;
  uint3 index;
  bool done = false;
  bool at_barrier = false;
  unsigned shuffles = 0;  // warp shuffles done so far in this block
};

std::vector<Fiber> g_fibers;
ucontext_t g_scheduler;
size_t g_current = 0;
std::function<void()> g_block_body;

void fiber_main() {
  g_block_body();
  g_fibers[g_current].done = true;  // returning resumes g_scheduler (uc_link)
}

void syncthreads() {
  Fiber &f = g_fibers[g_current];
  f.at_barrier = true;
  swapcontext(&f.context, &g_scheduler);
}

void start_fiber(Fiber &f, uint3 index) {
  if (f.stack.empty()) f.stack.resize(kFiberStack);
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack.data();
  f.context.uc_stack.ss_size = f.stack.size();
  f.context.uc_link = &g_scheduler;
  makecontext(&f.context, fiber_main, 0);
  f.index = index;
  f.done = false;
  f.shuffles = 0;
}

// Runs one block of `block` threads through `body`.
void run_block(dim3 block, const std::function<void()> &body) {
  const size_t count = static_cast<size_t>(block.x) * block.y * block.z;
  if (g_fibers.size() < count) g_fibers.resize(count);
  g_block_body = body;
  size_t i = 0;
  for (unsigned z = 0; z < block.z; ++z)
    for (unsigned y = 0; y < block.y; ++y)
      for (unsigned x = 0; x < block.x; ++x) start_fiber(g_fibers[i++], uint3{x, y, z});
  for (;;) {
    size_t finished = 0, waiting = 0;
    for (i = 0; i < count; ++i) {
      Fiber &f = g_fibers[i];
      if (f.done) {
        ++finished;
        continue;
      }
      g_current = i;
      threadIdx = f.index;
      f.at_barrier = false;
      swapcontext(&g_scheduler, &f.context);
      if (f.done) ++finished;
      if (f.at_barrier) ++waiting;
    }
    if (finished == count) return;
    if (finished != 0 && waiting != 0) {
      std::fprintf(stderr, "emulation: __syncthreads() not reached by every thread of block (%u, %u, %u)\n",
                   blockIdx.x, blockIdx.y, blockIdx.z);
      std::abort();
    }
  }
}

// Every block of the grid, in order.
void launch(dim3 grid, dim3 block, const std::function<void()> &body) {
  gridDim = grid;
  blockDim = block;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = uint3{x, y, z};
        run_block(block, body);
      }
}

// Two exchange buffers used alternately: a thread writes buffer k % 2 again
// only after the barrier of shuffle k + 1, which every thread passes after
// its read of shuffle k, so one barrier per shuffle suffices.
template <typename T>
T shuffle_down(T value, int offset) {
  static std::vector<T> exchange[2];
  const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const size_t count = static_cast<size_t>(blockDim.x) * blockDim.y * blockDim.z;
  std::vector<T> &buffer = exchange[g_fibers[g_current].shuffles++ % 2];
  if (buffer.size() < count) buffer.resize(count);
  buffer[tid] = value;
  syncthreads();
  const unsigned lane = tid & 31;
  return lane + static_cast<unsigned>(offset) < 32 ? buffer[tid + offset] : value;
}

}  // namespace emulation

#define __syncthreads() emulation::syncthreads()
template <typename T>
T __shfl_down_sync(unsigned, T value, int offset) {
  return emulation::shuffle_down(value, offset);
}

#include "convert_kernels.cuh"
#include "pair_kernels.cuh"
#include "preprocess_kernels.cuh"

// ---------------------------------------------------------------------------
// The launchers of kernels/cuda/*.cu, with the same grids.
// ---------------------------------------------------------------------------
namespace s2s {
namespace cuda {

using namespace detail;

cudaError_t launch_convert_to_gray(const ConvertJob *jobs, int job_count, const ConvertParams &params, cudaStream_t) {
  if (job_count <= 0 || params.width <= 0 || params.height <= 0) return cudaSuccess;
  const dim3 grid((params.width + kBlockX - 1) / kBlockX, (params.height + kBlockY - 1) / kBlockY, job_count);
  emulation::launch(grid, dim3(kBlockX, kBlockY), [&] { convert_kernel<false>(jobs, params); });
  return cudaSuccess;
}

cudaError_t launch_convert_to_rgb(const ConvertJob *jobs, int job_count, const ConvertParams &params, cudaStream_t) {
  if (job_count <= 0 || params.width <= 0 || params.height <= 0) return cudaSuccess;
  const dim3 grid((params.width + kBlockX - 1) / kBlockX, (params.height + kBlockY - 1) / kBlockY, job_count);
  emulation::launch(grid, dim3(kBlockX, kBlockY), [&] { convert_kernel<true>(jobs, params); });
  return cudaSuccess;
}

int64_t pair_partials_per_pair(int width, int height) { return partials_per_pair(width, height); }

cudaError_t launch_pair_partial_sums(const PairJob *jobs, int pair_count, const PairSumsParams &params,
                                     PairSums *partials, cudaStream_t) {
  if (pair_count <= 0 || params.width <= 0 || params.height <= 0) return cudaSuccess;
  const dim3 grid((params.width + kTileW - 1) / kTileW, (params.height + kTileH - 1) / kTileH, pair_count);
  const dim3 block(kThreadsX, kThreadsY);
  if (!params.with_ssim)
    emulation::launch(grid, block, [&] { pair_sums_kernel<SsimMode::kNone>(jobs, params, partials); });
  else if (params.window == SsimWindow::kUniform7)
    emulation::launch(grid, block, [&] { pair_sums_kernel<SsimMode::kUniform7>(jobs, params, partials); });
  else
    emulation::launch(grid, block, [&] { pair_sums_kernel<SsimMode::kGaussian11>(jobs, params, partials); });
  return cudaSuccess;
}

cudaError_t launch_reduce_pair_sums(const PairSums *partials, int64_t per_pair, int pair_count, PairSums *sums,
                                    cudaStream_t) {
  if (pair_count <= 0) return cudaSuccess;
  emulation::launch(dim3(pair_count), dim3(kReduceThreads),
                    [&] { reduce_pair_sums_kernel(partials, per_pair, sums); });
  return cudaSuccess;
}

cudaError_t check_kernel_image() { return cudaSuccess; }

// The network-input launchers plan their launches in the kernels' header;
// only the launch itself differs.
cudaError_t launch_lpips_input(const StreamFormat &format, const FrameView *frames, int n, int out_width,
                               int out_height, float *dst, cudaStream_t) {
  return plan_lpips_input(format, frames, n, out_width, out_height, dst,
                          [](const dim3 &grid, const dim3 &block, const LpipsArgs &args) {
                            emulation::launch(grid, block, [&] { lpips_input_kernel(args); });
                            return cudaSuccess;
                          });
}

cudaError_t launch_musiq_patches(const StreamFormat &format, const FrameView *frames, int n,
                                 const MusiqPatchConfig &config, float *values, float *pos, float *scale,
                                 float *mask, cudaStream_t) {
  return plan_musiq_patches(format, frames, n, config, values, pos, scale, mask,
                            [](const dim3 &grid, const dim3 &block, const MusiqArgs &args) {
                              emulation::launch(grid, block, [&] { musiq_patches_kernel(args); });
                              return cudaSuccess;
                            });
}

}  // namespace cuda
}  // namespace s2s

// ---------------------------------------------------------------------------
// The runtime calls used, on host memory; everything completes at once, so
// streams and events only need to exist.
// ---------------------------------------------------------------------------
extern "C" {

cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int) {
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "CPU emulation of the CUDA kernels");
  return cudaSuccess;
}
const char *cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaError (emulated)"; }
const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int) {
  *stream = reinterpret_cast<cudaStream_t>(new char);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete reinterpret_cast<char *>(stream);
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int) {
  *event = reinterpret_cast<cudaEvent_t>(new char);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete reinterpret_cast<char *>(event);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned int) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

// An emulated device of 64 GiB: larger requests fail as on a GPU, whatever
// the host's overcommit policy would allow.
constexpr size_t kEmulatedDeviceBytes = size_t(64) << 30;

cudaError_t cudaMalloc(void **ptr, size_t size) {
  *ptr = size <= kEmulatedDeviceBytes ? std::malloc(size ? size : 1) : nullptr;
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void *ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void **ptr, size_t size) { return cudaMalloc(ptr, size); }
cudaError_t cudaFreeHost(void *ptr) { return cudaFree(ptr); }
cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind) {
  std::memcpy(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind, cudaStream_t) {
  std::memcpy(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaMemset(void *ptr, int value, size_t count) {
  std::memset(ptr, value, count);
  return cudaSuccess;
}

}  // extern "C"
