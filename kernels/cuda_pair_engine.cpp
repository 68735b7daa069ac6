// CUDA pair engine. Per call: frames are uploaded (host memory, through
// pinned staging, asynchronously) or read in place (device memory, after the
// producer's stream), converted to gray into device "slots", scored by the
// fused MSE+SSIM pass and reduced per pair; the per-pair sums come back into
// pinned memory and the call waits once, at its end, for them. The gray of
// the last frame stays in its slot for the next call, so each frame is
// converted once and serves both of its pairs.
#include "cuda_pair_engine.h"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <utility>
#include <vector>

#include "cuda/cuda_kernels.h"
#include "engine_error.h"
#include "pair_metrics_cpu.h"

namespace s2s {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kGrayPitchAlign = 128;  // whole cache lines per gray row

// Sticky errors leave the context unusable: every later call fails too.
EngineErrorKind kind_of(cudaError_t e) {
  switch (e) {
    case cudaErrorMemoryAllocation:
      return EngineErrorKind::kOutOfMemory;
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorNvlinkUncorrectable:
    case cudaErrorContextIsDestroyed:
    case cudaErrorDevicesUnavailable:
    case cudaErrorExternalDevice:
    case cudaErrorContained:
    case cudaErrorCudartUnloading:
    case cudaErrorNoDevice:
    case cudaErrorUnknown:
      return EngineErrorKind::kDeviceLost;
    default:
      return EngineErrorKind::kFailed;
  }
}

std::string describe(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

void check(cudaError_t e, int device, const char *what) {
  if (e == cudaSuccess) return;
  throw EngineError(kind_of(e), std::string("CUDA device ") + std::to_string(device) + ": " + what + " failed (" +
                                    describe(e) + ")");
}

// Owning handles; the engine frees them on its device after synchronizing.
struct DeviceMemory {
  void *ptr = nullptr;
  size_t bytes = 0;
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory &) = delete;
  DeviceMemory &operator=(const DeviceMemory &) = delete;
  ~DeviceMemory() { reset(); }
  void reset() {
    if (ptr) cudaFree(ptr);
    ptr = nullptr;
    bytes = 0;
  }
  void allocate(size_t size, int device, const char *what) {
    reset();
    if (size == 0) return;
    check(cudaMalloc(&ptr, size), device, what);
    bytes = size;
  }
  void swap(DeviceMemory &o) {
    std::swap(ptr, o.ptr);
    std::swap(bytes, o.bytes);
  }
  uint8_t *bytes_at(size_t offset) const { return static_cast<uint8_t *>(ptr) + offset; }
};

struct PinnedMemory {
  void *ptr = nullptr;
  size_t bytes = 0;
  PinnedMemory() = default;
  PinnedMemory(const PinnedMemory &) = delete;
  PinnedMemory &operator=(const PinnedMemory &) = delete;
  ~PinnedMemory() { reset(); }
  void reset() {
    if (ptr) cudaFreeHost(ptr);
    ptr = nullptr;
    bytes = 0;
  }
  void allocate(size_t size, int device, const char *what) {
    reset();
    if (size == 0) return;
    check(cudaMallocHost(&ptr, size), device, what);
    bytes = size;
  }
  void swap(PinnedMemory &o) {
    std::swap(ptr, o.ptr);
    std::swap(bytes, o.bytes);
  }
  uint8_t *bytes_at(size_t offset) const { return static_cast<uint8_t *>(ptr) + offset; }
};

// Rows and bytes per row a format's plane holds: what a host frame's plane
// is read as (never more), and the tight layout of its copy on the device.
struct PlaneExtent {
  int64_t row_bytes;
  int64_t rows;
};

int plane_extents(const FormatLayout &l, int width, int height, PlaneExtent out[3]) {
  if (!l.is_yuv) {
    out[0] = {static_cast<int64_t>(width) * l.pixel_stride, height};
    return 1;
  }
  out[0] = {width, height};
  // Chroma planes are rounded up for odd sizes.
  const int64_t chroma_width = (static_cast<int64_t>(width) + (1 << l.chroma_shift_x) - 1) >> l.chroma_shift_x;
  const int64_t chroma_rows = (static_cast<int64_t>(height) + (1 << l.chroma_shift_y) - 1) >> l.chroma_shift_y;
  if (l.uv_step == 2) {
    out[1] = {2 * chroma_width, chroma_rows};
    return 2;
  }
  out[1] = out[2] = {chroma_width, chroma_rows};
  return 3;
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

class CudaPairEngine final : public PairEngine {
 public:
  CudaPairEngine(int device, cudaStream_t stream, cudaEvent_t producer_ready)
      : device_(device), stream_(stream), producer_ready_(producer_ready) {
    gaussian11_taps(taps_);
  }

  ~CudaPairEngine() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    release_buffers();
    cudaEventDestroy(producer_ready_);
    cudaStreamDestroy(stream_);
  }

  const char *name() const override { return "cuda"; }

  bool configure(const StreamFormat &format, std::string *error) override;
  void reset_chain() override { have_kept_ = false; }

  bool score(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, const PairOptions &options,
             PairResult *results, std::string *error) override {
    return guarded(frames, pair_with_previous, n, options, nullptr, false, results, error);
  }

  bool score_device(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, const PairOptions &options,
                    void *producer_stream, PairResult *results, std::string *error) override {
    return guarded(frames, pair_with_previous, n, options, producer_stream, true, results, error);
  }

  EngineErrorKind last_error_kind() const override { return last_error_; }

 private:
  bool guarded(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, const PairOptions &options,
               void *producer_stream, bool device_frames, PairResult *results, std::string *error);
  void run_batch(const FrameView *frames, const uint8_t *pair_with_previous, size_t n, const PairOptions &options,
                 void *producer_stream, bool device_frames, PairResult *results);
  void check_frames(const FrameView *frames, size_t n, bool device_frames) const;
  void ensure_capacity(size_t n, bool device_frames);
  void release_buffers();
  void fail(EngineErrorKind kind, const std::string &message, std::string *error);
  uint8_t *slot(int index) const { return slots_.bytes_at(static_cast<size_t>(index) * gray_bytes_); }

  const int device_;
  cudaStream_t stream_;
  cudaEvent_t producer_ready_;
  double taps_[6];
  EngineErrorKind last_error_ = EngineErrorKind::kNone;
  bool lost_ = false;  // a sticky error: the context is unusable

  bool configured_ = false;
  StreamFormat format_;
  FormatLayout layout_{};
  PlaneExtent extents_[3] = {};
  int plane_count_ = 0;
  size_t plane_offsets_[3] = {0, 0, 0};  // in a tightly packed host frame
  size_t frame_bytes_ = 0;
  int64_t gray_pitch_ = 0;
  size_t gray_bytes_ = 0;
  int64_t partials_per_pair_ = 0;

  // Buffers sized for frame_capacity_ frames (slots: one more, for the kept
  // frame); they only grow, and are reused across calls.
  size_t frame_capacity_ = 0;
  size_t staging_capacity_ = 0;  // frames the upload buffers hold (host input)
  DeviceMemory slots_;
  DeviceMemory raw_;        // uploaded host frames, tightly packed
  PinnedMemory staging_;    // host frames on their way to raw_
  PinnedMemory host_jobs_;  // convert jobs, then pair jobs
  DeviceMemory device_jobs_;
  DeviceMemory partials_;
  DeviceMemory device_sums_;
  PinnedMemory host_sums_;

  bool have_kept_ = false;
  int kept_slot_ = 0;
};

void CudaPairEngine::fail(EngineErrorKind kind, const std::string &message, std::string *error) {
  last_error_ = kind;
  if (kind == EngineErrorKind::kDeviceLost) lost_ = true;
  if (error) *error = message;
  reset_chain();
  if (!lost_) {
    // Let queued copies finish before the pinned buffers are reused, and
    // clear a non-sticky error so the next call starts clean.
    cudaStreamSynchronize(stream_);
    cudaGetLastError();
  }
}

bool CudaPairEngine::configure(const StreamFormat &format, std::string *error) {
  try {
    if (lost_) throw EngineError(EngineErrorKind::kDeviceLost, "CUDA device " + std::to_string(device_) +
                                                                   " was lost earlier; the engine cannot be used");
    if (format.width <= 0 || format.height <= 0)
      throw EngineError(EngineErrorKind::kFailed, "bad frame size " + std::to_string(format.width) + "x" +
                                                      std::to_string(format.height));
    check(cudaSetDevice(device_), device_, "cudaSetDevice");
    check(cudaStreamSynchronize(stream_), device_, "cudaStreamSynchronize");
    release_buffers();
    format_ = format;
    layout_ = format_layout(format.format);
    plane_count_ = plane_extents(layout_, format.width, format.height, extents_);
    frame_bytes_ = 0;
    for (int p = 0; p < plane_count_; ++p) {
      plane_offsets_[p] = frame_bytes_;
      // Each plane starts 256-byte aligned in the upload buffers.
      frame_bytes_ += align_up(static_cast<size_t>(extents_[p].row_bytes * extents_[p].rows), 256);
    }
    gray_pitch_ = static_cast<int64_t>(align_up(static_cast<size_t>(format.width), kGrayPitchAlign));
    gray_bytes_ = align_up(static_cast<size_t>(gray_pitch_) * static_cast<size_t>(format.height), 256);
    partials_per_pair_ = cuda::pair_partials_per_pair(format.width, format.height);
    configured_ = true;
    reset_chain();
    last_error_ = EngineErrorKind::kNone;
    return true;
  } catch (const EngineError &e) {
    configured_ = false;
    fail(e.kind(), e.what(), error);
  } catch (const std::bad_alloc &) {
    configured_ = false;
    fail(EngineErrorKind::kFailed, "out of host memory", error);
  }
  return false;
}

void CudaPairEngine::release_buffers() {
  slots_.reset();
  raw_.reset();
  staging_.reset();
  host_jobs_.reset();
  device_jobs_.reset();
  partials_.reset();
  device_sums_.reset();
  host_sums_.reset();
  frame_capacity_ = 0;
  staging_capacity_ = 0;
  have_kept_ = false;
}

bool CudaPairEngine::guarded(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                             const PairOptions &options, void *producer_stream, bool device_frames,
                             PairResult *results, std::string *error) {
  try {
    if (lost_) throw EngineError(EngineErrorKind::kDeviceLost, "CUDA device " + std::to_string(device_) +
                                                                   " was lost earlier; the engine cannot be used");
    if (!configured_) throw EngineError(EngineErrorKind::kFailed, "the CUDA engine is not configured");
    run_batch(frames, pair_with_previous, n, options, producer_stream, device_frames, results);
    last_error_ = EngineErrorKind::kNone;
    return true;
  } catch (const EngineError &e) {
    fail(e.kind(), e.what(), error);
  } catch (const std::bad_alloc &) {
    fail(EngineErrorKind::kFailed, "out of host memory", error);
  } catch (const std::exception &e) {
    fail(EngineErrorKind::kFailed, e.what(), error);
  }
  return false;
}

void CudaPairEngine::check_frames(const FrameView *frames, size_t n, bool device_frames) const {
  for (size_t i = 0; i < n; ++i) {
    const FrameView &f = frames[i];
    if (f.format != format_.format || f.width != format_.width || f.height != format_.height)
      throw EngineError(EngineErrorKind::kFailed, "frame does not match the configured format");
    for (int p = 0; p < plane_count_; ++p) {
      if (!f.planes[p] || f.strides[p] < extents_[p].row_bytes)
        throw EngineError(EngineErrorKind::kFailed, std::string("frame ") + std::to_string(i) + ": plane " +
                                                        std::to_string(p) + " is missing or its stride is too small" +
                                                        (device_frames ? " (device frame)" : ""));
    }
  }
}

void CudaPairEngine::ensure_capacity(size_t n, bool device_frames) {
  const size_t jobs_bytes = align_up(n * sizeof(cuda::ConvertJob), 16) + n * sizeof(cuda::PairJob);
  if (n > frame_capacity_) {
    // Allocate everything first, so an out-of-memory failure leaves the old
    // buffers (and the kept frame) as they were.
    DeviceMemory slots, jobs, partials, sums;
    PinnedMemory host_jobs, host_sums;
    slots.allocate((n + 1) * gray_bytes_, device_, "cudaMalloc (gray frames)");
    jobs.allocate(jobs_bytes, device_, "cudaMalloc (jobs)");
    partials.allocate(n * static_cast<size_t>(partials_per_pair_) * sizeof(cuda::PairSums), device_,
                      "cudaMalloc (partial sums)");
    sums.allocate(n * sizeof(cuda::PairSums), device_, "cudaMalloc (sums)");
    host_jobs.allocate(jobs_bytes, device_, "cudaMallocHost (jobs)");
    host_sums.allocate(n * sizeof(cuda::PairSums), device_, "cudaMallocHost (sums)");
    if (have_kept_) {
      check(cudaMemcpyAsync(slots.bytes_at(0), slot(kept_slot_), gray_bytes_, cudaMemcpyDeviceToDevice, stream_),
            device_, "cudaMemcpyAsync (kept frame)");
      check(cudaStreamSynchronize(stream_), device_, "cudaStreamSynchronize");
      kept_slot_ = 0;
    }
    slots_.swap(slots);
    device_jobs_.swap(jobs);
    partials_.swap(partials);
    device_sums_.swap(sums);
    host_jobs_.swap(host_jobs);
    host_sums_.swap(host_sums);
    frame_capacity_ = n;
  }
  if (!device_frames && n > staging_capacity_) {
    DeviceMemory raw;
    PinnedMemory staging;
    raw.allocate(n * frame_bytes_, device_, "cudaMalloc (upload buffer)");
    staging.allocate(n * frame_bytes_, device_, "cudaMallocHost (staging buffer)");
    raw_.swap(raw);
    staging_.swap(staging);
    staging_capacity_ = n;
  }
}

void CudaPairEngine::run_batch(const FrameView *frames, const uint8_t *pair_with_previous, size_t n,
                               const PairOptions &options, void *producer_stream, bool device_frames,
                               PairResult *results) {
  check_frames(frames, n, device_frames);
  if (n == 0) return;
  if (n > static_cast<size_t>(std::numeric_limits<int>::max() / 2))
    throw EngineError(EngineErrorKind::kFailed, "batch too large");
  check(cudaSetDevice(device_), device_, "cudaSetDevice");
  ensure_capacity(n, device_frames);

  // Slots for this batch: every slot but the kept one, in order.
  std::vector<int> slot_of(n);
  for (size_t i = 0, s = 0; i < n; ++i, ++s) {
    if (have_kept_ && static_cast<int>(s) == kept_slot_) ++s;
    slot_of[i] = static_cast<int>(s);
  }

  auto *convert_jobs = reinterpret_cast<cuda::ConvertJob *>(host_jobs_.bytes_at(0));
  const size_t pair_jobs_offset = align_up(n * sizeof(cuda::ConvertJob), 16);
  auto *pair_jobs = reinterpret_cast<cuda::PairJob *>(host_jobs_.bytes_at(pair_jobs_offset));

  if (device_frames) {
    // Wait, on the device, for whatever the producer queued so far.
    check(cudaEventRecord(producer_ready_, static_cast<cudaStream_t>(producer_stream)), device_,
          "cudaEventRecord (producer stream)");
    check(cudaStreamWaitEvent(stream_, producer_ready_, 0), device_, "cudaStreamWaitEvent");
  }
  for (size_t i = 0; i < n; ++i) {
    cuda::ConvertJob &job = convert_jobs[i];
    job = cuda::ConvertJob{};
    job.dst = slot(slot_of[i]);
    if (device_frames) {
      for (int p = 0; p < plane_count_; ++p) {
        job.planes[p] = frames[i].planes[p];
        job.strides[p] = frames[i].strides[p];
      }
      continue;
    }
    // Pack the frame's planes into pinned staging (only the bytes of each
    // row, never the padding), then queue its upload while the next frame is
    // packed.
    uint8_t *staged = staging_.bytes_at(i * frame_bytes_);
    for (int p = 0; p < plane_count_; ++p) {
      const PlaneExtent &e = extents_[p];
      uint8_t *dst = staged + plane_offsets_[p];
      const uint8_t *src = frames[i].planes[p];
      if (frames[i].strides[p] == e.row_bytes) {
        std::memcpy(dst, src, static_cast<size_t>(e.row_bytes * e.rows));
      } else {
        for (int64_t r = 0; r < e.rows; ++r)
          std::memcpy(dst + r * e.row_bytes, src + r * frames[i].strides[p], static_cast<size_t>(e.row_bytes));
      }
      job.planes[p] = raw_.bytes_at(i * frame_bytes_ + plane_offsets_[p]);
      job.strides[p] = e.row_bytes;
    }
    check(cudaMemcpyAsync(raw_.bytes_at(i * frame_bytes_), staged, frame_bytes_, cudaMemcpyHostToDevice, stream_),
          device_, "cudaMemcpyAsync (frame upload)");
  }

  // Pairs: frame i with frame i - 1, or frame 0 with the kept frame.
  std::vector<size_t> paired;
  paired.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    results[i] = PairResult{kNaN, kNaN};
    if (!pair_with_previous[i] || (i == 0 && !have_kept_)) continue;
    pair_jobs[paired.size()] = cuda::PairJob{slot(i == 0 ? kept_slot_ : slot_of[i - 1]), slot(slot_of[i])};
    paired.push_back(i);
  }
  const int pair_count = static_cast<int>(paired.size());

  check(cudaMemcpyAsync(device_jobs_.ptr, host_jobs_.ptr, pair_jobs_offset + paired.size() * sizeof(cuda::PairJob),
                        cudaMemcpyHostToDevice, stream_),
        device_, "cudaMemcpyAsync (jobs)");

  cuda::ConvertParams convert{};
  convert.layout = layout_;
  convert.yuv = format_.yuv;
  convert.width = format_.width;
  convert.height = format_.height;
  convert.dst_pitch = gray_pitch_;
  const auto *device_convert_jobs = reinterpret_cast<const cuda::ConvertJob *>(device_jobs_.bytes_at(0));
  check(cuda::launch_convert_to_gray(device_convert_jobs, static_cast<int>(n), convert, stream_), device_,
        "gray conversion launch");

  const bool ssim = options.ssim && ssim_defined_for(options.window, format_.width, format_.height);
  const bool any_metric = options.mse || ssim;
  auto *host_sums = static_cast<cuda::PairSums *>(host_sums_.ptr);
  if (pair_count > 0 && any_metric) {
    cuda::PairSumsParams params{};
    params.width = format_.width;
    params.height = format_.height;
    params.pitch = gray_pitch_;
    params.with_mse = options.mse;
    params.with_ssim = ssim;
    params.window = options.window;
    for (int k = 0; k < 6; ++k) params.gaussian_taps[k] = taps_[k];
    const auto *device_pair_jobs = reinterpret_cast<const cuda::PairJob *>(device_jobs_.bytes_at(pair_jobs_offset));
    auto *partials = static_cast<cuda::PairSums *>(partials_.ptr);
    auto *sums = static_cast<cuda::PairSums *>(device_sums_.ptr);
    check(cuda::launch_pair_partial_sums(device_pair_jobs, pair_count, params, partials, stream_), device_,
          "MSE/SSIM launch");
    check(cuda::launch_reduce_pair_sums(partials, partials_per_pair_, pair_count, sums, stream_), device_,
          "reduction launch");
    check(cudaMemcpyAsync(host_sums, sums, paired.size() * sizeof(cuda::PairSums), cudaMemcpyDeviceToHost, stream_),
          device_, "cudaMemcpyAsync (results)");
  }
  // The one wait of the call: results, and the conversions (the kept frame,
  // the producer's buffers, the staging) are then done.
  check(cudaStreamSynchronize(stream_), device_, "CUDA work of the batch");

  const double pixels = static_cast<double>(format_.width) * format_.height;
  const double windows = static_cast<double>(ssim_window_count(options.window, format_.width, format_.height));
  if (any_metric) {
    for (size_t p = 0; p < paired.size(); ++p) {
      PairResult &r = results[paired[p]];
      if (options.mse) r.mse = static_cast<double>(host_sums[p].squared_difference) / pixels;
      if (ssim) r.ssim = host_sums[p].ssim / windows;
    }
  }
  kept_slot_ = slot_of[n - 1];
  have_kept_ = true;
}

}  // namespace

std::unique_ptr<PairEngine> make_cuda_pair_engine(int device_id, std::string *error) {
  auto set_error = [error](const std::string &message) {
    if (error) *error = message;
  };
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    set_error("no usable CUDA device: cudaGetDeviceCount failed (" + describe(e) + ")");
    return nullptr;
  }
  if (count <= 0) {
    set_error("no CUDA device (cudaGetDeviceCount reports 0 devices)");
    return nullptr;
  }
  if (device_id < 0 || device_id >= count) {
    set_error("CUDA device " + std::to_string(device_id) + " does not exist: " + std::to_string(count) +
              " device(s) present, ids 0.." + std::to_string(count - 1));
    return nullptr;
  }
  const std::string which = "CUDA device " + std::to_string(device_id);
  if ((e = cudaSetDevice(device_id)) != cudaSuccess) {
    set_error(which + ": cudaSetDevice failed (" + describe(e) + ")");
    return nullptr;
  }
  if ((e = cuda::check_kernel_image()) != cudaSuccess) {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, device_id);
    cudaGetLastError();
    set_error(which + " (" + prop.name + ", compute capability " + std::to_string(prop.major) + "." +
              std::to_string(prop.minor) + "): this build has no kernel code for it (" + describe(e) + ")");
    return nullptr;
  }
  cudaStream_t stream = nullptr;
  if ((e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) != cudaSuccess) {
    set_error(which + ": cudaStreamCreateWithFlags failed (" + describe(e) + ")");
    return nullptr;
  }
  cudaEvent_t event = nullptr;
  if ((e = cudaEventCreateWithFlags(&event, cudaEventDisableTiming)) != cudaSuccess) {
    cudaStreamDestroy(stream);
    set_error(which + ": cudaEventCreateWithFlags failed (" + describe(e) + ")");
    return nullptr;
  }
  try {
    return std::unique_ptr<PairEngine>(new CudaPairEngine(device_id, stream, event));
  } catch (const std::bad_alloc &) {
    cudaEventDestroy(event);
    cudaStreamDestroy(stream);
    set_error(which + ": out of host memory");
    return nullptr;
  }
}

}  // namespace s2s
