// Kernels of the network inputs (see preprocess_kernels.cu) and the host-side
// planning of their launches; a header so the CPU emulation test
// (tests/kernels_cuda) compiles the very same code.
//
// Both kernels read the frames where the producer left them (any of the 19
// formats, strides and plane offsets as FrameView has them) and compute the
// RGB of each source pixel they need on the fly with the conversion's
// shared math (rgb_from_yuv): a resize or a patch reads a source pixel
// through one function of (Y, U, V), so there is no RGB copy of the frame.
//
// The frames' plane pointers travel in the kernel arguments, at most
// kFramesPerLaunch per launch (1.5 KB of the 4 KB a launch may pass), marked
// __grid_constant__ so that indexing them by blockIdx reads the parameter
// bank instead of copying the arguments to every thread. Nothing needs
// device-side job arrays, scratch memory or an upload, and so nothing ever
// waits for the host.
#pragma once

#include "cuda_kernels.h"
#include "musiq_math.h"
#include "preprocess.h"
#include "resize_math.h"

#include <algorithm>
#include <climits>
#include <vector>

namespace s2s {
namespace cuda {
namespace detail {

constexpr int kPreBlockX = 32;
constexpr int kPreBlockY = 8;
constexpr int kPreThreads = kPreBlockX * kPreBlockY;
constexpr int kFramesPerLaunch = 32;
constexpr int kMaxMusiqScales = 8;  // rescaled ones plus the native one
static_assert(kPreThreads == 256, "the MUSIQ kernel fills its 256-entry table with one value per thread");
static_assert(kPreBlockX == kMusiqPatch, "a MUSIQ block's x threads are a patch row");

struct FramePlanes {
  const uint8_t *planes[3];
  int64_t strides[3];
};

struct SourceFormat {
  FormatLayout layout;
  YuvToRgb yuv;
  int width, height;
};

// RGB of source pixel (x, y): the conversion kernel's reads (nearest chroma
// sample, x >> shift_x, y >> shift_y) and its per-pixel math.
S2S_HD Rgb8 source_rgb(const FramePlanes &f, const SourceFormat &s, int x, int y) {
  const FormatLayout &l = s.layout;
  const uint8_t *row = f.planes[0] + static_cast<int64_t>(y) * f.strides[0];
  if (l.is_yuv) {
    const int64_t chroma_row = y >> l.chroma_shift_y;
    const int64_t chroma_col = static_cast<int64_t>(x >> l.chroma_shift_x) * l.uv_step;
    const int u = f.planes[l.u_plane][chroma_row * f.strides[l.u_plane] + chroma_col + l.u_offset];
    const int v = f.planes[l.v_plane][chroma_row * f.strides[l.v_plane] + chroma_col + l.v_offset];
    return rgb_from_yuv(s.yuv, row[x], u, v);
  }
  // GRAY8 has pixel_stride 1 and all offsets 0: R = G = B.
  const uint8_t *px = row + static_cast<int64_t>(x) * l.pixel_stride;
  Rgb8 out;
  out.r = px[l.r_offset];
  out.g = px[l.g_offset];
  out.b = px[l.b_offset];
  return out;
}

// ---------------------------------------------------------------------------
// LPIPS input: one thread per output pixel (all three channels), frames on
// gridDim.z.
// ---------------------------------------------------------------------------
struct LpipsArgs {
  FramePlanes frames[kFramesPerLaunch];
  SourceFormat src;
  int out_width, out_height;
  ResizeMode mode;
  double scale_x, scale_y;  // resize_scale() per axis (kLinear)
  float *dst;               // [frame][3][out_height][out_width], first frame of the launch
};

// Kernel arguments may take 4 KB on every architecture we build for.
constexpr size_t kMaxKernelArgs = 4096;
static_assert(sizeof(LpipsArgs) <= kMaxKernelArgs, "LPIPS kernel arguments too large: fewer frames per launch");

__global__ void __launch_bounds__(kPreThreads) lpips_input_kernel(const __grid_constant__ LpipsArgs a) {
  const int x = blockIdx.x * kPreBlockX + threadIdx.x;
  const int y = blockIdx.y * kPreBlockY + threadIdx.y;
  if (x >= a.out_width || y >= a.out_height) return;
  const FramePlanes &f = a.frames[blockIdx.z];
  uint8_t v[3];
  if (a.mode == ResizeMode::kCopy) {
    const Rgb8 p = source_rgb(f, a.src, x, y);
    v[0] = p.r;
    v[1] = p.g;
    v[2] = p.b;
  } else if (a.mode == ResizeMode::kHalf) {
    const Rgb8 p00 = source_rgb(f, a.src, 2 * x, 2 * y), p01 = source_rgb(f, a.src, 2 * x + 1, 2 * y);
    const Rgb8 p10 = source_rgb(f, a.src, 2 * x, 2 * y + 1), p11 = source_rgb(f, a.src, 2 * x + 1, 2 * y + 1);
    v[0] = resize_half_mean_u8(p00.r + p01.r + p10.r + p11.r, 3);
    v[1] = resize_half_mean_u8(p00.g + p01.g + p10.g + p11.g, 3);
    v[2] = resize_half_mean_u8(p00.b + p01.b + p10.b + p11.b, 3);
  } else {
    const ResizeTap tx = resize_linear_tap(x, a.src.width, a.scale_x, true);
    const ResizeTap ty = resize_linear_tap(y, a.src.height, a.scale_y, false);
    const Rgb8 p00 = source_rgb(f, a.src, tx.i0, ty.i0), p01 = source_rgb(f, a.src, tx.i1, ty.i0);
    const Rgb8 p10 = source_rgb(f, a.src, tx.i0, ty.i1), p11 = source_rgb(f, a.src, tx.i1, ty.i1);
    v[0] = resize_linear_u8_from(p00.r, p01.r, p10.r, p11.r, tx, ty);
    v[1] = resize_linear_u8_from(p00.g, p01.g, p10.g, p11.g, tx, ty);
    v[2] = resize_linear_u8_from(p00.b, p01.b, p10.b, p11.b, tx, ty);
  }
  const int64_t plane = static_cast<int64_t>(a.out_width) * a.out_height;
  float *out = a.dst + blockIdx.z * 3 * plane + static_cast<int64_t>(y) * a.out_width + x;
  out[0] = lpips_value_from_u8(v[0]);
  out[plane] = lpips_value_from_u8(v[1]);
  out[2 * plane] = lpips_value_from_u8(v[2]);
}

// ---------------------------------------------------------------------------
// MUSIQ tokens: one block per token (gridDim.x = token, gridDim.y = frame),
// thread (x, y) writing columns x of patch rows y, y + 8, ... in all three
// channels, so each warp stores whole 128-byte patch rows.
// ---------------------------------------------------------------------------
struct MusiqScaleArgs {
  MusiqScaleLayout layout;
  float scale_x, scale_y;  // musiq_cubic_scale() per axis (rescaled scales)
  int32_t scale_id;
  int32_t native;  // non-zero: the frame's own pixels, no resize
};

struct MusiqArgs {
  FramePlanes frames[kFramesPerLaunch];
  SourceFormat src;
  MusiqScaleArgs scales[kMaxMusiqScales];
  int scale_count;
  int grid;        // hashed position grid (hse_grid)
  int64_t tokens;  // per frame
  // First frame of the launch: [frame][token][3072] and [frame][token].
  float *values, *pos, *scale, *mask;
};

static_assert(sizeof(MusiqArgs) <= kMaxKernelArgs, "MUSIQ kernel arguments too large: fewer frames per launch");

__global__ void __launch_bounds__(kPreThreads) musiq_patches_kernel(const __grid_constant__ MusiqArgs a) {
  // [-1, 1] of each byte, by the CPU twin's function (its table holds the
  // same values); a division per source value would cost more than the rest.
  __shared__ float lut[256];
  const int tid = threadIdx.y * kPreBlockX + threadIdx.x;
  lut[tid] = musiq_value_from_u8(tid);
  __syncthreads();

  const int64_t token = blockIdx.x;
  int s = 0;
  for (int k = 0; k < a.scale_count; ++k) {
    const MusiqScaleLayout &l = a.scales[k].layout;
    if (token >= l.first && token < l.first + l.capacity) s = k;
  }
  const MusiqScaleArgs &sc = a.scales[s];
  const MusiqScaleLayout &l = sc.layout;
  const int64_t k = token - l.first;
  const int64_t at = static_cast<int64_t>(blockIdx.y) * a.tokens + token;
  float *out = a.values + at * kMusiqTokenValues;
  const bool real = k < l.patches;
  if (tid == 0) {
    a.pos[at] = real ? static_cast<float>(musiq_spatial_pos(static_cast<int>(k / l.cols), static_cast<int>(k % l.cols),
                                                            l.rows, l.cols, a.grid))
                     : 0.0f;
    a.scale[at] = real ? static_cast<float>(sc.scale_id) : 0.0f;
    a.mask[at] = real ? 1.0f : 0.0f;
  }
  constexpr int kPlane = kMusiqPatch * kMusiqPatch;
  const int kx = threadIdx.x;
  if (!real) {
    for (int ky = threadIdx.y; ky < kMusiqPatch; ky += kPreBlockY) {
      for (int c = 0; c < 3; ++c) out[c * kPlane + ky * kMusiqPatch + kx] = 0.0f;
    }
    return;
  }
  const FramePlanes &f = a.frames[blockIdx.y];
  const int patch_row = static_cast<int>(k / l.cols), patch_col = static_cast<int>(k % l.cols);
  const int x = patch_col * kMusiqPatch + kx - l.left;
  const bool x_inside = x >= 0 && x < l.width;
  MusiqCubicTap tx{};
  if (!sc.native && x_inside) tx = musiq_cubic_tap(x, a.src.width, sc.scale_x);
  const auto pixel = [&](int px, int py, float o[3]) {
    const Rgb8 p = source_rgb(f, a.src, px, py);
    o[0] = lut[p.r];
    o[1] = lut[p.g];
    o[2] = lut[p.b];
  };
  for (int ky = threadIdx.y; ky < kMusiqPatch; ky += kPreBlockY) {
    const int y = patch_row * kMusiqPatch + ky - l.top;
    float v[3] = {0.0f, 0.0f, 0.0f};  // TF 'SAME' padding
    if (x_inside && y >= 0 && y < l.height) {
      if (sc.native) {
        pixel(x, y, v);
      } else {
        const MusiqCubicTap ty = musiq_cubic_tap(y, a.src.height, sc.scale_y);
        musiq_cubic_pixel(pixel, tx, ty, v);
      }
    }
    for (int c = 0; c < 3; ++c) out[c * kPlane + ky * kMusiqPatch + kx] = v[c];
  }
}

// ---------------------------------------------------------------------------
// Host side: argument checks and launch plans, shared by the launchers of
// preprocess_kernels.cu and by the emulation. `launch(grid, block, args)`
// queues one kernel and returns its status.
// ---------------------------------------------------------------------------

// Bytes per row and planes a format's frame must have (chroma rounded up).
inline int source_planes(const FormatLayout &l, int width, int64_t row_bytes[3]) {
  if (!l.is_yuv) {
    row_bytes[0] = static_cast<int64_t>(width) * l.pixel_stride;
    return 1;
  }
  row_bytes[0] = width;
  const int64_t chroma_width = (static_cast<int64_t>(width) + (1 << l.chroma_shift_x) - 1) >> l.chroma_shift_x;
  if (l.uv_step == 2) {
    row_bytes[1] = 2 * chroma_width;
    return 2;
  }
  row_bytes[1] = row_bytes[2] = chroma_width;
  return 3;
}

// Every frame of the stream's format and size, with its planes and strides
// long enough: else cudaErrorInvalidValue, before anything is queued.
inline cudaError_t check_sources(const StreamFormat &format, const FrameView *frames, int n) {
  if (format.width < 1 || format.height < 1 || (n > 0 && !frames)) return cudaErrorInvalidValue;
  int64_t row_bytes[3];
  const int planes = source_planes(format_layout(format.format), format.width, row_bytes);
  for (int i = 0; i < n; ++i) {
    const FrameView &v = frames[i];
    if (v.format != format.format || v.width != format.width || v.height != format.height)
      return cudaErrorInvalidValue;
    for (int p = 0; p < planes; ++p) {
      if (!v.planes[p] || v.strides[p] < row_bytes[p]) return cudaErrorInvalidValue;
    }
  }
  return cudaSuccess;
}

inline SourceFormat source_format(const StreamFormat &format) {
  SourceFormat s;
  s.layout = format_layout(format.format);
  s.yuv = format.yuv;
  s.width = format.width;
  s.height = format.height;
  return s;
}

inline FramePlanes frame_planes(const FrameView &v) {
  FramePlanes f;
  for (int p = 0; p < 3; ++p) {
    f.planes[p] = v.planes[p];
    f.strides[p] = v.strides[p];
  }
  return f;
}

template <typename Launch>
cudaError_t plan_lpips_input(const StreamFormat &format, const FrameView *frames, int n, int out_width,
                             int out_height, float *dst, Launch &&launch) {
  if (n <= 0) return cudaSuccess;
  if (!dst || out_width < 1 || out_height < 1 || (out_height + kPreBlockY - 1) / kPreBlockY > 65535)
    return cudaErrorInvalidValue;
  const cudaError_t checked = check_sources(format, frames, n);
  if (checked != cudaSuccess) return checked;
  LpipsArgs a{};
  a.src = source_format(format);
  a.out_width = out_width;
  a.out_height = out_height;
  a.mode = resize_mode(format.width, format.height, out_width, out_height);
  a.scale_x = resize_scale(format.width, out_width);
  a.scale_y = resize_scale(format.height, out_height);
  const int64_t frame_floats = 3 * static_cast<int64_t>(out_width) * out_height;
  const dim3 block(kPreBlockX, kPreBlockY);
  for (int first = 0; first < n; first += kFramesPerLaunch) {
    const int count = std::min(n - first, kFramesPerLaunch);
    for (int i = 0; i < count; ++i) a.frames[i] = frame_planes(frames[first + i]);
    a.dst = dst + first * frame_floats;
    const dim3 grid((out_width + kPreBlockX - 1) / kPreBlockX, (out_height + kPreBlockY - 1) / kPreBlockY, count);
    const cudaError_t e = launch(grid, block, a);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// The scales of musiq_patches(), in its order: the rescaled ones by
// ascending longer side (ids 0, 1, ...), then the native one.
inline cudaError_t musiq_scales(const MusiqPatchConfig &config, int width, int height, MusiqArgs *a) {
  std::vector<int> sides = config.longer_sides;
  std::sort(sides.begin(), sides.end());
  if (sides.size() + 1 > static_cast<size_t>(kMaxMusiqScales)) return cudaErrorInvalidValue;
  int64_t first = 0;
  int id = 0;
  for (const int side : sides) {
    const MusiqSize size = musiq_scaled_size(height, width, side > 0 ? side : 1);
    MusiqScaleArgs &s = a->scales[id];
    s.layout = musiq_scale_layout(size.height, size.width, first, musiq_rescaled_capacity(side, kMusiqPatch),
                                  kMusiqPatch);
    s.scale_x = musiq_cubic_scale(width, size.width);
    s.scale_y = musiq_cubic_scale(height, size.height);
    s.scale_id = id;
    s.native = 0;
    first += s.layout.capacity;
    ++id;
  }
  MusiqScaleArgs &s = a->scales[id];
  s.layout = musiq_scale_layout(height, width, first, musiq_native_capacity(config.max_seq_len, height, width,
                                                                            kMusiqPatch),
                                kMusiqPatch);
  s.scale_x = s.scale_y = 1.0f;
  s.scale_id = id;
  s.native = 1;
  a->scale_count = id + 1;
  return cudaSuccess;
}

template <typename Launch>
cudaError_t plan_musiq_patches(const StreamFormat &format, const FrameView *frames, int n,
                               const MusiqPatchConfig &config, float *values, float *pos, float *scale, float *mask,
                               Launch &&launch) {
  if (n <= 0) return cudaSuccess;
  const cudaError_t checked = check_sources(format, frames, n);
  if (checked != cudaSuccess) return checked;
  const int64_t tokens = musiq_token_count(config, format.width, format.height);
  if (tokens <= 0) return cudaSuccess;
  if (!values || !pos || !scale || !mask || tokens > INT_MAX) return cudaErrorInvalidValue;
  MusiqArgs a{};
  a.src = source_format(format);
  const cudaError_t planned = musiq_scales(config, format.width, format.height, &a);
  if (planned != cudaSuccess) return planned;
  a.grid = config.hse_grid;
  a.tokens = tokens;
  const dim3 block(kPreBlockX, kPreBlockY);
  for (int first = 0; first < n; first += kFramesPerLaunch) {
    const int count = std::min(n - first, kFramesPerLaunch);
    for (int i = 0; i < count; ++i) a.frames[i] = frame_planes(frames[first + i]);
    const int64_t at = first * tokens;
    a.values = values + at * kMusiqTokenValues;
    a.pos = pos + at;
    a.scale = scale + at;
    a.mask = mask + at;
    const cudaError_t e = launch(dim3(static_cast<unsigned>(tokens), count), block, a);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace detail
}  // namespace cuda
}  // namespace s2s
