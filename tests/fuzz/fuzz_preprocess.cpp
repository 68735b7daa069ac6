// Fuzz target for the preprocessing kernels (kernels/): gray and RGB
// conversion of all 19 formats, the CPU pair engine (MSE, SSIM), the
// INTER_LINEAR resize that prepares LPIPS input (256x256) and MUSIQ's
// multi-scale patching, on frames of 1..256 x 1..256 pixels. For libFuzzer or
// tests/fuzz/standalone_driver.cpp; tests/fuzz/run_fuzz.sh builds and runs it
// with ASan + UBSan (docs: reliability rows 8, 9 and 12).
//
// Every plane is its own heap block of exactly the size the format needs
// with the chosen stride (the last row ends the block, no slack), so ASan
// reports any read outside a plane. Row padding holds bytes no pixel has, so
// a kernel that read it would disagree with the reference computed here.
//
// Promises checked (a broken one prints "broken promise" and traps):
//   - gray / RGB conversion equal the per-pixel math of s2s_math.h (nearest
//     chroma siting) for any split of the rows into bands;
//   - the pair engine: MSE equals the exact mean of squared gray
//     differences (finite, 0..65025), SSIM is finite and in [-1, 1] (1e-12
//     slack) where the window fits the frame and NaN exactly where it does
//     not, NaN where not requested or unpaired; identical frames give MSE 0
//     and SSIM 1; results do not depend on the thread count or on how the
//     frames are split between calls; a frame of the wrong size is refused;
//   - resize_linear_u8 (to 256x256 as LPIPS, and to a fuzzed size with 1 to
//     4 channels) equals the per-byte math of resize_math.h;
//   - musiq_patches writes every output value (the buffers start as NaN),
//     values stay within the bicubic overshoot bound, padding tokens are all
//     zero with mask, scale and position 0, real tokens carry their scale id
//     and a position in the grid, the native scale equals the source pixels
//     with TF 'SAME' zero padding, and a rescaled scale of the native size
//     equals the native patches.
//
// Input: a 20-byte header (missing bytes read as 0), then pixel bytes, used
// cyclically for every plane of every frame (a pattern if there are none):
//   0 format (mod 19)          1-2 width - 1 (mod 256)   3-4 height - 1
//   5-7 extra stride bytes of planes 0, 1, 2 (mod 65)
//   8 bits 0-1 matrix (601, 709, 2020), 2 full range, 3 Gaussian window,
//     4 three frames (else two), 5 frame 1 = frame 0, 6 no MSE, 7 no SSIM
//   9 bits 0-2 pair-with-previous flags, 3-4 where the second engine splits
//     the batch, 5 also score a frame of the wrong size
//   10 MUSIQ: bits 0-1 sides (0 default 224,384 on small frames, 1 one side,
//      2 two sides, 3 none), 2-3 max_seq_len (-1, 0, small, exact), 4-7 grid-1
//   11-12 MUSIQ sides (1..128)  13 max_seq_len   14-15 second resize size
//   16 band split of the conversions  17 band split of the resizes
//   18 extra stride bytes of the RGB image  19 second resize: channels
//
// Built with -DFUZZ_PREPROCESS_SEEDS, the file is instead a program that
// writes a seed corpus: fuzz_preprocess_seeds DIR.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "convert.h"
#include "frame.h"
#include "musiq_math.h"
#include "musiq_patches.h"
#include "pair_engine.h"
#include "pair_metrics_cpu.h"
#include "resize.h"
#include "resize_math.h"
#include "s2s_math.h"

namespace {

using s2s::FormatLayout;
using s2s::FrameView;
using s2s::PixelFormat;

constexpr int kFormats = 19;
constexpr size_t kHeader = 20;
constexpr int kLpipsSize = 256;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char *g_case = "";  // the input's description, for reports

[[noreturn]] void broken(const char *what, const std::string &detail) {
  std::fprintf(stderr, "fuzz_preprocess: broken promise: %s: %s [%s]\n", what, detail.c_str(), g_case);
  std::fflush(stderr);
  __builtin_trap();
}

std::string at(int x, int y) { return "(" + std::to_string(x) + ", " + std::to_string(y) + ")"; }

// A heap block of exactly n bytes (at least 1, so that even an empty plane is
// a block of its own), which ASan surrounds with redzones.
struct Block {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
  explicit Block(size_t n = 0) : data(new uint8_t[n ? n : 1]), size(n) {}
};

int ceil_shift(int v, int shift) { return (v + (1 << shift) - 1) >> shift; }

// Bytes of one row and rows of plane p of a w x h frame.
void plane_geometry(PixelFormat f, int p, int w, int h, int64_t *row_bytes, int *rows) {
  const FormatLayout l = s2s::format_layout(f);
  if (p == 0) {
    *row_bytes = static_cast<int64_t>(w) * (l.is_yuv ? 1 : l.pixel_stride);
    *rows = h;
    return;
  }
  *row_bytes = static_cast<int64_t>(l.uv_step) * ceil_shift(w, l.chroma_shift_x);
  *rows = ceil_shift(h, l.chroma_shift_y);
}

int plane_count(PixelFormat f) {
  const FormatLayout l = s2s::format_layout(f);
  if (!l.is_yuv) return 1;
  return l.uv_step == 2 ? 2 : 3;
}

// One frame: its planes, each exactly stride * (rows - 1) + row_bytes long.
struct Frame {
  std::vector<Block> planes;
  FrameView view;
};

// Pixel bytes from the input, cyclically; a pattern when there are none.
class Filler {
 public:
  Filler(const uint8_t *data, size_t size) : data_(data), size_(size) {}
  uint8_t next() {
    const size_t i = pos_++;
    if (size_ == 0) return static_cast<uint8_t>((i * 37 + (i >> 8) * 11 + 5) & 255);
    return data_[i % size_];
  }

 private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
};

Frame make_frame(PixelFormat f, int w, int h, const int pad[3], Filler *fill, uint8_t padding_byte) {
  Frame fr;
  fr.view.format = f;
  fr.view.width = w;
  fr.view.height = h;
  const int n = plane_count(f);
  for (int p = 0; p < n; ++p) {
    int64_t row_bytes;
    int rows;
    plane_geometry(f, p, w, h, &row_bytes, &rows);
    const int64_t stride = row_bytes + pad[p];
    const size_t size = static_cast<size_t>(stride * (rows - 1) + row_bytes);
    fr.planes.emplace_back(size);
    uint8_t *d = fr.planes.back().data.get();
    for (int y = 0; y < rows; ++y) {
      for (int64_t x = 0; x < row_bytes; ++x) d[y * stride + x] = fill->next();
      if (y + 1 < rows) std::memset(d + y * stride + row_bytes, padding_byte, static_cast<size_t>(pad[p]));
    }
    fr.view.planes[p] = d;
    fr.view.strides[p] = stride;
  }
  return fr;
}

// Reference gray and RGB of pixel (x, y), straight from the layout.
s2s::Rgb8 ref_rgb(const FrameView &v, const FormatLayout &l, const s2s::YuvToRgb &m, int x, int y) {
  if (l.is_yuv) {
    const uint8_t Y = v.planes[0][y * v.strides[0] + x];
    const int cx = (x >> l.chroma_shift_x) * l.uv_step, cy = y >> l.chroma_shift_y;
    const uint8_t U = v.planes[l.u_plane][cy * v.strides[l.u_plane] + cx + l.u_offset];
    const uint8_t V = v.planes[l.v_plane][cy * v.strides[l.v_plane] + cx + l.v_offset];
    return s2s::rgb_from_yuv(m, Y, U, V);
  }
  const uint8_t *p = v.planes[0] + y * v.strides[0] + static_cast<int64_t>(x) * l.pixel_stride;
  if (l.is_gray) return s2s::Rgb8{p[0], p[0], p[0]};
  return s2s::Rgb8{p[l.r_offset], p[l.g_offset], p[l.b_offset]};
}

uint8_t ref_gray(const FrameView &v, const FormatLayout &l, const s2s::YuvToRgb &m, int x, int y) {
  if (l.is_gray) return v.planes[0][y * v.strides[0] + x];
  if (l.is_yuv) {
    const uint8_t Y = v.planes[0][y * v.strides[0] + x];
    const int cx = (x >> l.chroma_shift_x) * l.uv_step, cy = y >> l.chroma_shift_y;
    const uint8_t U = v.planes[l.u_plane][cy * v.strides[l.u_plane] + cx + l.u_offset];
    const uint8_t V = v.planes[l.v_plane][cy * v.strides[l.v_plane] + cx + l.v_offset];
    return s2s::gray_from_yuv(m, Y, U, V);
  }
  const s2s::Rgb8 c = ref_rgb(v, l, m, x, y);
  return s2s::gray_from_rgb(c.r, c.g, c.b);
}

// Up to three band boundaries in [0, rows], from one byte.
std::vector<int> bands(uint8_t b, int rows) {
  std::vector<int> cuts{0};
  const int k = b & 3;  // 0: one band, 1..3: that many cuts
  for (int i = 0; i < k; ++i) {
    const int c = rows * (((b >> (2 + 2 * i)) & 3) + 1 + i) / 8;
    if (c > cuts.back() && c < rows) cuts.push_back(c);
  }
  cuts.push_back(rows);
  return cuts;
}

// Converts with convert_*_rows band by band into an exact block; checks it.
Block convert_checked(const FrameView &v, const s2s::YuvToRgb &m, bool gray, uint8_t split, int extra_stride) {
  const FormatLayout l = s2s::format_layout(v.format);
  const int cn = gray ? 1 : 3;
  const int64_t row = static_cast<int64_t>(v.width) * cn, stride = row + extra_stride;
  Block out(static_cast<size_t>(stride * (v.height - 1) + row));
  std::memset(out.data.get(), 0xEE, out.size);
  const std::vector<int> cuts = bands(split, v.height);
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    if (gray)
      s2s::convert_to_gray_rows(v, m, out.data.get(), stride, cuts[i], cuts[i + 1]);
    else
      s2s::convert_to_rgb_rows(v, m, out.data.get(), stride, cuts[i], cuts[i + 1]);
  }
  for (int y = 0; y < v.height; ++y) {
    const uint8_t *o = out.data.get() + y * stride;
    for (int x = 0; x < v.width; ++x) {
      if (gray) {
        if (o[x] != ref_gray(v, l, m, x, y)) broken("gray conversion differs from the per-pixel math", at(x, y));
      } else {
        const s2s::Rgb8 c = ref_rgb(v, l, m, x, y);
        if (o[3 * x] != c.r || o[3 * x + 1] != c.g || o[3 * x + 2] != c.b)
          broken("RGB conversion differs from the per-pixel math", at(x, y));
      }
    }
    if (y + 1 < v.height)
      for (int64_t k = row; k < stride; ++k)
        if (o[k] != 0xEE) broken("conversion wrote into the row padding", at(static_cast<int>(k), y));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Pair engine
// ---------------------------------------------------------------------------
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void check_pairs(const std::vector<Frame> &frames, const std::vector<Block> &grays, const s2s::StreamFormat &sf,
                 const s2s::PairOptions &opt, const uint8_t *pair, int split, bool wrong_size) {
  const size_t n = frames.size();
  const int w = sf.width, h = sf.height;
  std::vector<FrameView> views;
  for (const Frame &f : frames) views.push_back(f.view);
  std::string error;

  // Engines made per input (their pools started and joined each time), so
  // that a run frees all it allocates and leak checks stay meaningful.
  // Engine a: one thread, one call.
  const std::unique_ptr<s2s::PairEngine> engine_a = s2s::make_cpu_pair_engine(1);
  s2s::PairEngine &a = *engine_a;
  if (!a.configure(sf, &error)) broken("configure failed", error);
  std::vector<s2s::PairResult> ra(n, s2s::PairResult{-1, -1});
  if (!a.score(views.data(), pair, n, opt, ra.data(), &error)) broken("score failed", error);

  // Engine b: two threads, the batch split in two calls.
  const std::unique_ptr<s2s::PairEngine> engine_b = s2s::make_cpu_pair_engine(2);
  s2s::PairEngine &b = *engine_b;
  if (!b.configure(sf, &error)) broken("configure failed", error);
  std::vector<s2s::PairResult> rb(n, s2s::PairResult{-2, -2});
  const size_t s = static_cast<size_t>(split) % (n + 1);
  if (!b.score(views.data(), pair, s, opt, rb.data(), &error)) broken("score failed (first part)", error);
  if (!b.score(views.data() + s, pair + s, n - s, opt, rb.data() + s, &error))
    broken("score failed (second part)", error);

  const bool ssim_defined = s2s::ssim_defined_for(opt.window, w, h);
  for (size_t i = 0; i < n; ++i) {
    const std::string which = "frame " + std::to_string(i);
    if (!same(ra[i].mse, rb[i].mse) || !same(ra[i].ssim, rb[i].ssim))
      broken("results depend on the thread count or the batch split", which);
    const bool paired = pair[i] && i > 0;
    if (!paired) {
      if (!std::isnan(ra[i].mse) || !std::isnan(ra[i].ssim)) broken("an unpaired frame has a result", which);
      continue;
    }
    const uint8_t *ga = grays[i - 1].data.get(), *gb = grays[i].data.get();
    uint64_t sq = 0;
    bool identical = true;
    for (size_t k = 0; k < static_cast<size_t>(w) * h; ++k) {
      const int d = ga[k] - gb[k];
      sq += static_cast<uint64_t>(d * d);
      identical = identical && d == 0;
    }
    if (opt.mse) {
      const double ref = static_cast<double>(sq) / (static_cast<double>(w) * h);
      if (!std::isfinite(ra[i].mse) || ra[i].mse < 0 || ra[i].mse > 65025.0)
        broken("MSE not finite or out of [0, 65025]", which + ": " + std::to_string(ra[i].mse));
      if (ra[i].mse != ref) broken("MSE differs from the exact mean", which + ": " + std::to_string(ra[i].mse));
    } else if (!std::isnan(ra[i].mse)) {
      broken("MSE given though not requested", which);
    }
    if (opt.ssim && ssim_defined) {
      const double v = ra[i].ssim;
      if (!std::isfinite(v) || v > 1.0 + 1e-12 || v < -1.0 - 1e-12)
        broken("SSIM not finite or out of [-1, 1]", which + ": " + std::to_string(v));
      if (identical && std::fabs(v - 1.0) > 1e-12) broken("SSIM of identical frames is not 1", which);
    } else if (!std::isnan(ra[i].ssim)) {
      broken(opt.ssim ? "SSIM given for a frame smaller than the window" : "SSIM given though not requested",
             which);
    }
  }

  // A chain reset: the next frame has no predecessor.
  b.reset_chain();
  const uint8_t yes = 1;
  s2s::PairResult r{-3, -3};
  if (!b.score(&views[n - 1], &yes, 1, opt, &r, &error)) broken("score failed after reset_chain", error);
  if (!std::isnan(r.mse) || !std::isnan(r.ssim)) broken("a frame after reset_chain has a result", "");

  if (wrong_size) {
    FrameView bad = views[0];
    bad.width = w == 1 ? 2 : w - 1;
    error.clear();
    if (b.score(&bad, &yes, 1, opt, &r, &error)) broken("a frame of the wrong size was scored", "");
    if (error.empty()) broken("refused frame without an error message", "");
    // The chain was reset: a good frame now has no pair.
    if (!b.score(&views[0], &yes, 1, opt, &r, &error)) broken("score failed after a refused frame", error);
    if (!std::isnan(r.mse) || !std::isnan(r.ssim)) broken("the chain survived a refused frame", "");
  }
}

// ---------------------------------------------------------------------------
// Resize
// ---------------------------------------------------------------------------
void resize_checked(const uint8_t *src, int64_t src_stride, int w, int h, int cn, int dw, int dh, uint8_t split,
                    const char *what) {
  const int64_t row = static_cast<int64_t>(dw) * cn;
  Block out(static_cast<size_t>(row * dh));
  std::memset(out.data.get(), 0xEE, out.size);
  std::vector<int> cuts = bands(split, dh);
  cuts.back() = dh + (split >> 7);  // row_end past the image is clamped
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    s2s::resize_linear_u8(src, src_stride, w, h, cn, out.data.get(), row, dw, dh, cuts[i], cuts[i + 1]);

  const s2s::ResizeMode mode = s2s::resize_mode(w, h, dw, dh);
  const double sx = s2s::resize_scale(w, dw), sy = s2s::resize_scale(h, dh);
  std::vector<s2s::ResizeTap> tx(static_cast<size_t>(dw));
  for (int x = 0; x < dw; ++x) tx[static_cast<size_t>(x)] = s2s::resize_linear_tap(x, w, sx, true);
  for (int y = 0; y < dh; ++y) {
    const s2s::ResizeTap ty = s2s::resize_linear_tap(y, h, sy, false);
    const uint8_t *o = out.data.get() + y * row;
    for (int x = 0; x < dw; ++x) {
      for (int c = 0; c < cn; ++c) {
        uint8_t ref;
        if (mode == s2s::ResizeMode::kCopy)
          ref = src[y * src_stride + static_cast<int64_t>(x) * cn + c];
        else if (mode == s2s::ResizeMode::kHalf)
          ref = s2s::resize_half_u8_at(src, src_stride, cn, x, y, c);
        else
          ref = s2s::resize_linear_u8_at(src, src_stride, cn, tx[static_cast<size_t>(x)], ty, c);
        if (o[static_cast<int64_t>(x) * cn + c] != ref)
          broken(what, "output " + at(x, y) + " channel " + std::to_string(c) + " of " + std::to_string(dw) + "x" +
                           std::to_string(dh) + "x" + std::to_string(cn));
      }
    }
  }
}

// ---------------------------------------------------------------------------
// MUSIQ
// ---------------------------------------------------------------------------
void musiq_checked(const uint8_t *rgb, int64_t stride, int w, int h, const s2s::MusiqPatchConfig &config) {
  const int64_t tokens = s2s::musiq_token_count(config, w, h);
  if (tokens < 0) broken("negative MUSIQ token count", std::to_string(tokens));
  if (tokens == 0) {
    // Only with no rescaled scale and max_seq_len 0; then nothing is written.
    if (!config.longer_sides.empty() || config.max_seq_len != 0) broken("no MUSIQ tokens", "");
    s2s::musiq_patches(rgb, stride, w, h, config, nullptr, nullptr, nullptr, nullptr);
    return;
  }
  const size_t t = static_cast<size_t>(tokens), values = t * s2s::kMusiqTokenValues;
  const float nanf = std::numeric_limits<float>::quiet_NaN();
  std::unique_ptr<float[]> tok(new float[values]), pos(new float[t]), scale(new float[t]), mask(new float[t]);
  std::fill(tok.get(), tok.get() + values, nanf);
  std::fill(pos.get(), pos.get() + t, nanf);
  std::fill(scale.get(), scale.get() + t, nanf);
  std::fill(mask.get(), mask.get() + t, nanf);
  s2s::musiq_patches(rgb, stride, w, h, config, tok.get(), pos.get(), scale.get(), mask.get());

  const int grid = config.hse_grid;
  for (size_t k = 0; k < t; ++k) {
    const std::string which = "token " + std::to_string(k);
    const float *v = tok.get() + k * s2s::kMusiqTokenValues;
    if (!(mask[k] == 0.0f || mask[k] == 1.0f)) broken("MUSIQ mask not 0 or 1", which);
    if (!std::isfinite(pos[k]) || !std::isfinite(scale[k])) broken("MUSIQ position or scale not written", which);
    if (mask[k] == 0.0f) {
      if (pos[k] != 0.0f || scale[k] != 0.0f) broken("MUSIQ padding token with a position or scale", which);
      for (int i = 0; i < s2s::kMusiqTokenValues; ++i)
        if (v[i] != 0.0f) broken("MUSIQ padding token not all zero", which + " value " + std::to_string(i));
    } else {
      if (pos[k] < 0.0f || pos[k] >= static_cast<float>(grid * grid) || pos[k] != std::floor(pos[k]))
        broken("MUSIQ position outside the grid", which + ": " + std::to_string(pos[k]));
      for (int i = 0; i < s2s::kMusiqTokenValues; ++i)
        if (!std::isfinite(v[i]) || std::fabs(v[i]) > 1.9f)
          broken("MUSIQ value not written or beyond the bicubic bound", which + " value " + std::to_string(i));
    }
  }

  // Native patches, straight from the pixels.
  const int rows = s2s::musiq_patch_count(h, s2s::kMusiqPatch), cols = s2s::musiq_patch_count(w, s2s::kMusiqPatch);
  const int top = s2s::musiq_pad_before(h, s2s::kMusiqPatch), left = s2s::musiq_pad_before(w, s2s::kMusiqPatch);
  auto native_value = [&](int64_t k, int i) -> float {
    const int c = i / (s2s::kMusiqPatch * s2s::kMusiqPatch), r = i % (s2s::kMusiqPatch * s2s::kMusiqPatch);
    const int y = static_cast<int>(k / cols) * s2s::kMusiqPatch + r / s2s::kMusiqPatch - top;
    const int x = static_cast<int>(k % cols) * s2s::kMusiqPatch + r % s2s::kMusiqPatch - left;
    if (x < 0 || y < 0 || x >= w || y >= h) return 0.0f;
    return s2s::musiq_value_from_u8(rgb[y * stride + 3 * x + c]);
  };
  auto check_section = [&](int64_t first, int64_t capacity, int sh, int sw, int id, bool exact, const char *name) {
    const int64_t real = std::min<int64_t>(capacity, static_cast<int64_t>(s2s::musiq_patch_count(sh, 32)) *
                                                         s2s::musiq_patch_count(sw, 32));
    for (int64_t k = 0; k < capacity; ++k) {
      const size_t g = static_cast<size_t>(first + k);
      const std::string which = std::string(name) + " token " + std::to_string(k);
      if ((mask[g] == 1.0f) != (k < real)) broken("MUSIQ mask does not match the scale's patch count", which);
      if (k < real && scale[g] != static_cast<float>(id)) broken("MUSIQ scale id", which);
      if (!exact || k >= real) continue;
      const float *v = tok.get() + g * s2s::kMusiqTokenValues;
      for (int i = 0; i < s2s::kMusiqTokenValues; ++i)
        if (v[i] != native_value(k, i)) broken("MUSIQ patch differs from the source pixels", which);
    }
  };
  std::vector<int> sides = config.longer_sides;
  std::sort(sides.begin(), sides.end());
  int64_t first = 0;
  int id = 0;
  for (int side : sides) {
    const int64_t n = s2s::musiq_patch_count(side, 32);
    const s2s::MusiqSize sz = s2s::musiq_scaled_size(h, w, side);
    check_section(first, n * n, sz.height, sz.width, id++, sz.height == h && sz.width == w, "rescaled");
    first += n * n;
  }
  const int64_t native = config.max_seq_len >= 0 ? config.max_seq_len : static_cast<int64_t>(rows) * cols;
  if (first + native != tokens) broken("MUSIQ token count", std::to_string(tokens));
  check_section(first, native, h, w, id, true, "native");
}

// ---------------------------------------------------------------------------
// One input
// ---------------------------------------------------------------------------
void run(const uint8_t *data, size_t size) {
  uint8_t hd[kHeader] = {};
  std::memcpy(hd, data, size < kHeader ? size : kHeader);
  const uint8_t *pixels = size > kHeader ? data + kHeader : nullptr;
  const size_t npixels = size > kHeader ? size - kHeader : 0;

  const PixelFormat format = static_cast<PixelFormat>(hd[0] % kFormats);
  const int w = ((hd[1] | hd[2] << 8) % 256) + 1, h = ((hd[3] | hd[4] << 8) % 256) + 1;
  const int pad[3] = {hd[5] % 65, hd[6] % 65, hd[7] % 65};
  static const double kMatrices[4][2] = {{0.299, 0.114}, {0.2126, 0.0722}, {0.2627, 0.0593}, {0.299, 0.114}};
  const s2s::YuvToRgb m = s2s::make_yuv_to_rgb(kMatrices[hd[8] & 3][0], kMatrices[hd[8] & 3][1], hd[8] & 4);
  s2s::PairOptions opt;
  opt.window = hd[8] & 8 ? s2s::SsimWindow::kGaussian11 : s2s::SsimWindow::kUniform7;
  opt.mse = !(hd[8] & 64);
  opt.ssim = !(hd[8] & 128);
  const size_t nframes = hd[8] & 16 ? 3 : 2;

  char desc[160];
  std::snprintf(desc, sizeof desc, "%s %dx%d pad %d/%d/%d, %zu frames, %s, %s range", s2s::format_name(format), w,
                h, pad[0], pad[1], pad[2], nframes, opt.window == s2s::SsimWindow::kUniform7 ? "uniform7" : "gauss11",
                hd[8] & 4 ? "full" : "limited");
  g_case = desc;

  // Frames: consecutive runs of the pixel bytes; padding a byte of its own.
  Filler fill(pixels, npixels);
  std::vector<Frame> frames;
  for (size_t i = 0; i < nframes; ++i) {
    if (i == 1 && (hd[8] & 32)) {
      Filler again(pixels, npixels);
      frames.push_back(make_frame(format, w, h, pad, &again, static_cast<uint8_t>(0x5A + i)));
    } else {
      frames.push_back(make_frame(format, w, h, pad, &fill, static_cast<uint8_t>(0x5A + i)));
    }
  }

  // Conversions, checked pixel by pixel.
  std::vector<Block> grays;
  for (const Frame &f : frames) grays.push_back(convert_checked(f.view, m, true, hd[16], 0));
  const int rgb_pad = hd[18] % 17;
  Block rgb = convert_checked(frames[0].view, m, false, static_cast<uint8_t>(hd[16] >> 1 | hd[16] << 7), rgb_pad);
  const int64_t rgb_stride = static_cast<int64_t>(w) * 3 + rgb_pad;

  // Pair engine.
  s2s::StreamFormat sf;
  sf.format = format;
  sf.width = w;
  sf.height = h;
  sf.yuv = m;
  uint8_t pair[3];
  for (int i = 0; i < 3; ++i) pair[i] = (hd[9] >> i) & 1;
  check_pairs(frames, grays, sf, opt, pair, (hd[9] >> 3) & 3, hd[9] & 32);

  // LPIPS preprocessing: RGB to 256x256.
  resize_checked(rgb.data.get(), rgb_stride, w, h, 3, kLpipsSize, kLpipsSize, hd[17], "resize to 256x256 differs");

  // A second resize: 1 to 4 channels (gray, gray+R, RGB, RGB+gray) to a
  // fuzzed size, the exact 2x downscale and the same size included.
  {
    const int cn = (hd[19] & 3) + 1;
    const int spad = (hd[19] >> 2) % 9;
    const int64_t srow = static_cast<int64_t>(w) * cn, sstride = srow + spad;
    Block src(static_cast<size_t>(sstride * (h - 1) + srow));
    for (int y = 0; y < h; ++y) {
      uint8_t *o = src.data.get() + y * sstride;
      const uint8_t *g = grays[0].data.get() + static_cast<int64_t>(y) * w;
      const uint8_t *c = rgb.data.get() + y * rgb_stride;
      for (int x = 0; x < w; ++x) {
        uint8_t *p = o + static_cast<int64_t>(x) * cn;
        if (cn == 1) p[0] = g[x];
        if (cn == 2) p[0] = g[x], p[1] = c[3 * x];
        if (cn >= 3) p[0] = c[3 * x], p[1] = c[3 * x + 1], p[2] = c[3 * x + 2];
        if (cn == 4) p[3] = g[x];
      }
      if (y + 1 < h) std::memset(o + srow, 0xC3, static_cast<size_t>(spad));
    }
    int dw, dh;
    switch (hd[14] & 3) {
      case 0: dw = w / 2 > 0 ? w / 2 : 1, dh = h / 2 > 0 ? h / 2 : 1; break;
      case 1: dw = w, dh = h; break;
      default: dw = 1 + (hd[14] >> 2) * 5, dh = 1 + hd[15] % 200; break;
    }
    resize_checked(src.data.get(), sstride, w, h, cn, dw, dh, static_cast<uint8_t>(hd[17] ^ 0x55),
                   "resize to a fuzzed size differs");
  }

  // MUSIQ patching. pyiqa's sides (224, 384) on small frames only: larger
  // ones use sides up to 128, which keeps a run within a few milliseconds.
  {
    s2s::MusiqPatchConfig config;
    const int sa = 1 + hd[11] % 128, sb = 1 + hd[12] % 128;
    switch (hd[10] & 3) {
      case 0: config.longer_sides = w * h <= 64 * 64 ? std::vector<int>{224, 384} : std::vector<int>{sa, 128}; break;
      case 1: config.longer_sides = {sa}; break;
      case 2: config.longer_sides = {sb, sa}; break;
      default: config.longer_sides = {}; break;
    }
    const int64_t all = static_cast<int64_t>(s2s::musiq_patch_count(w, 32)) * s2s::musiq_patch_count(h, 32);
    switch ((hd[10] >> 2) & 3) {
      case 0: config.max_seq_len = -1; break;
      case 1: config.max_seq_len = 0; break;
      case 2: config.max_seq_len = hd[13] % 12; break;
      default: config.max_seq_len = static_cast<int>(all); break;
    }
    config.hse_grid = 1 + (hd[10] >> 4);
    musiq_checked(rgb.data.get(), rgb_stride, w, h, config);
  }
  g_case = "";
}

}  // namespace

#if !defined(FUZZ_PREPROCESS_SEEDS)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size);
  return 0;
}

#else

// Seed corpus: every format at a few sizes (odd, 1-pixel, the SSIM window's
// edges, MUSIQ's patch edges, 256), each with a different set of options.
#include <sys/stat.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  ::mkdir(argv[1], 0755);
  struct Size {
    int w, h;
  };
  static const Size kSizes[] = {{1, 1}, {7, 7}, {6, 11}, {11, 11}, {33, 17}, {64, 31}, {97, 255}, {256, 256}};
  int written = 0;
  for (int f = 0; f < kFormats; ++f) {
    for (int s = 0; s < 8; ++s) {
      if ((f + s) % 3 != 0 && s != 0 && s != 4) continue;  // a sample: every format, every size
      const Size z = kSizes[s];
      std::vector<uint8_t> in(kHeader + 64 + 13 * f + 7 * s);
      const int k = f * 8 + s;
      in[0] = static_cast<uint8_t>(f);
      in[1] = static_cast<uint8_t>((z.w - 1) & 255), in[2] = static_cast<uint8_t>((z.w - 1) >> 8);
      in[3] = static_cast<uint8_t>((z.h - 1) & 255), in[4] = static_cast<uint8_t>((z.h - 1) >> 8);
      in[5] = static_cast<uint8_t>(k % 5 == 0 ? 0 : k % 65);
      in[6] = static_cast<uint8_t>((k * 7) % 65);
      in[7] = static_cast<uint8_t>((k * 13) % 65);
      in[8] = static_cast<uint8_t>((k * 29) & 0x3F);  // both metrics on
      in[9] = static_cast<uint8_t>(0x07 | ((k & 3) << 3) | (k % 4 == 1 ? 32 : 0));
      in[10] = static_cast<uint8_t>((k % 4) | ((k / 4) % 4) << 2 | ((k % 10) << 4));
      in[11] = static_cast<uint8_t>(31 + k), in[12] = static_cast<uint8_t>(95 + 3 * k), in[13] = static_cast<uint8_t>(k);
      in[14] = static_cast<uint8_t>(k * 5), in[15] = static_cast<uint8_t>(k * 3);
      in[16] = static_cast<uint8_t>(k * 11), in[17] = static_cast<uint8_t>(k * 17);
      in[18] = static_cast<uint8_t>(k), in[19] = static_cast<uint8_t>(k * 3);
      for (size_t i = kHeader; i < in.size(); ++i) in[i] = static_cast<uint8_t>((i * 73 + k * 31) ^ (i >> 3));
      char path[512];
      std::snprintf(path, sizeof path, "%s/%s-%dx%d", argv[1], s2s::format_name(static_cast<PixelFormat>(f)), z.w,
                    z.h);
      FILE *out = std::fopen(path, "wb");
      if (!out || std::fwrite(in.data(), 1, in.size(), out) != in.size() || std::fclose(out) != 0) {
        std::fprintf(stderr, "cannot write %s\n", path);
        return 1;
      }
      run(in.data(), in.size());  // every seed passes
      ++written;
    }
  }
  std::printf("%d seeds written to %s\n", written, argv[1]);
  return 0;
}

#endif
