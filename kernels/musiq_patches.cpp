// CPU twin of MUSIQ's multi-scale patching; the arithmetic is musiq_math.h's.
//
// Layout of the output, as pyiqa's get_multiscale_patches returns it (one
// crop): for each longer side in ascending order, ceil(L/32)^2 tokens (the
// rescaled image's patches in row-major order, then all-zero tokens), then
// the native-resolution patches. With max_seq_len >= 0 the native scale is
// padded with all-zero tokens or cut to exactly max_seq_len tokens (pyiqa's
// _pad_or_cut_to_max_seq_len); with -1 it has all ceil(H/32)*ceil(W/32).
//
// One pass over the source rows converts each row to [-1, 1] once, stores it
// into the native tokens and computes the width sums every rescaled scale
// needs from it; then each rescaled scale sums along the height. The width
// sums of a row do not depend on the output row, so this separable order
// gives exactly what ATen's non-separable kernel computes pixel by pixel.
// Every output element is written once (padding included), without a
// clearing pass.
#include "musiq_patches.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "musiq_math.h"

namespace s2s {

namespace {

constexpr int kPlane = kMusiqPatch * kMusiqPatch;  // values per channel in a token

int64_t rescaled_capacity(int longer_side) { return musiq_rescaled_capacity(longer_side, kMusiqPatch); }

int64_t native_capacity(const MusiqPatchConfig &config, int width, int height) {
  return musiq_native_capacity(config.max_seq_len, height, width, kMusiqPatch);
}

// The per-pixel loops. They are compiled twice on x86-64: for CPUs with FMA
// (fmaf becomes one instruction and the height sums vectorize, about 3x
// faster) and for the others (fmaf is a libm call). fmaf is exact either
// way, so both give the same bits.
#if defined(__GNUC__)
#define S2S_MUSIQ_INLINE __attribute__((always_inline)) inline
#else
#define S2S_MUSIQ_INLINE inline
#endif

S2S_MUSIQ_INLINE void sum_width_body(const float *p, const MusiqCubicTap *tx, int w, float *o) {
  for (int x = 0; x < w; ++x) {
    const MusiqCubicTap &t = tx[x];
    o[x] = musiq_cubic_sum(p[t.idx[0]], p[t.idx[1]], p[t.idx[2]], p[t.idx[3]], t.w);
  }
}

S2S_MUSIQ_INLINE void sum_height_body(const float *r0, const float *r1, const float *r2, const float *r3,
                                      const float *weights, int w, float *o) {
  const float wt[4] = {weights[0], weights[1], weights[2], weights[3]};  // not reloaded through `o`
  for (int x = 0; x < w; ++x) o[x] = musiq_cubic_sum(r0[x], r1[x], r2[x], r3[x], wt);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define S2S_MUSIQ_FMA_CLONES 1
__attribute__((target("fma"))) void sum_width_fma(const float *p, const MusiqCubicTap *tx, int w, float *o) {
  sum_width_body(p, tx, w, o);
}

__attribute__((target("fma"))) void sum_height_fma(const float *r0, const float *r1, const float *r2, const float *r3,
                                                   const float *weights, int w, float *o) {
  sum_height_body(r0, r1, r2, r3, weights, w, o);
}

bool have_fma() {
  static const bool fma = (__builtin_cpu_init(), __builtin_cpu_supports("fma"));
  return fma;
}
#endif

void sum_width(const float *p, const MusiqCubicTap *tx, int w, float *o) {
#if defined(S2S_MUSIQ_FMA_CLONES)
  if (have_fma()) return sum_width_fma(p, tx, w, o);
#endif
  sum_width_body(p, tx, w, o);
}

void sum_height(const float *r0, const float *r1, const float *r2, const float *r3, const float *weights, int w,
                float *o) {
#if defined(S2S_MUSIQ_FMA_CLONES)
  if (have_fma()) return sum_height_fma(r0, r1, r2, r3, weights, w, o);
#endif
  sum_height_body(r0, r1, r2, r3, weights, w, o);
}

// One scale image and where its tokens go (musiq_scale_layout: the CUDA
// kernel places tokens by the same function).
class ScaleWriter {
 public:
  ScaleWriter(float *tokens, int64_t first, int64_t capacity, int height, int width)
      : ScaleWriter(tokens, musiq_scale_layout(height, width, first, capacity, kMusiqPatch)) {}

  ScaleWriter(float *tokens, const MusiqScaleLayout &l)
      : tokens_(tokens + l.first * kMusiqTokenValues),
        first_(l.first),
        capacity_(l.capacity),
        patches_(l.patches),
        height_(l.height),
        width_(l.width),
        rows_(l.rows),
        cols_(l.cols),
        top_(l.top),
        left_(l.left),
        padded_width_(cols_ * kMusiqPatch),
        row_(3 * static_cast<size_t>(padded_width_), 0.0f) {
    // Patch rows holding at least one kept token.
    kept_rows_ = capacity_ <= 0 ? 0 : static_cast<int>(std::min<int64_t>(rows_, (capacity_ + cols_ - 1) / cols_));
  }

  int height() const { return height_; }
  int width() const { return width_; }

  // Image rows [0, used_rows()) land in kept tokens; the rest are cut.
  int used_rows() const {
    const int end = kept_rows_ * kMusiqPatch - top_;
    return std::max(0, std::min(height_, end));
  }

  // Channel c of the current image row: width() values to fill (the padding
  // around them stays 0).
  float *row(int c) { return row_.data() + static_cast<size_t>(c) * padded_width_ + left_; }

  // Stores the current image row as row y of the image.
  void store(int y) { store_padded(y + top_); }

  // The padding rows, all-zero tokens and metadata; call once all rows are stored.
  void finish(int scale_id, int grid, float *pos, float *scale, float *mask) {
    std::fill(row_.begin(), row_.end(), 0.0f);
    for (int py = 0; py < top_; ++py) store_padded(py);
    for (int py = top_ + height_; py < kept_rows_ * kMusiqPatch; ++py) store_padded(py);
    const int64_t patches = patches_;
    if (capacity_ > patches) {
      std::memset(tokens_ + patches * kMusiqTokenValues, 0,
                  sizeof(float) * static_cast<size_t>(capacity_ - patches) * kMusiqTokenValues);
    }
    for (int64_t k = 0; k < capacity_; ++k) {
      const bool real = k < patches;
      const int64_t t = first_ + k;
      pos[t] = real ? static_cast<float>(musiq_spatial_pos(static_cast<int>(k / cols_), static_cast<int>(k % cols_),
                                                           rows_, cols_, grid))
                    : 0.0f;
      scale[t] = real ? static_cast<float>(scale_id) : 0.0f;
      mask[t] = real ? 1.0f : 0.0f;
    }
  }

 private:
  void store_padded(int py) {
    const int patch_row = py / kMusiqPatch;
    const int ky = py % kMusiqPatch;
    for (int pc = 0; pc < cols_; ++pc) {
      const int64_t k = static_cast<int64_t>(patch_row) * cols_ + pc;
      if (k >= capacity_) return;
      float *token = tokens_ + k * kMusiqTokenValues + ky * kMusiqPatch;
      for (int c = 0; c < 3; ++c) {
        std::memcpy(token + c * kPlane, row_.data() + static_cast<size_t>(c) * padded_width_ + pc * kMusiqPatch,
                    sizeof(float) * kMusiqPatch);
      }
    }
  }

  float *tokens_;
  int64_t first_, capacity_, patches_;
  int height_, width_, rows_, cols_, top_, left_, padded_width_, kept_rows_;
  std::vector<float> row_;  // one padded image row, channel-planar
};

// A rescaled scale: its taps and the width sums of the source rows it reads.
struct Rescaled {
  ScaleWriter out;
  std::vector<MusiqCubicTap> tx, ty;
  int used_rows;
  std::vector<int> slot;          // per source row: its width sums' place in `wide`, or -1
  std::unique_ptr<float[]> wide;  // [slot][channel][out width]

  Rescaled(ScaleWriter writer, int src_width, int src_height)
      : out(std::move(writer)), tx(out.width()), ty(out.height()), used_rows(out.used_rows()), slot(src_height, -1) {
    const float scale_x = musiq_cubic_scale(src_width, out.width());
    const float scale_y = musiq_cubic_scale(src_height, out.height());
    for (int d = 0; d < out.width(); ++d) tx[d] = musiq_cubic_tap(d, src_width, scale_x);
    for (int d = 0; d < out.height(); ++d) ty[d] = musiq_cubic_tap(d, src_height, scale_y);
    for (int y = 0; y < used_rows; ++y) {
      for (int j = 0; j < 4; ++j) slot[ty[y].idx[j]] = 0;
    }
    int slots = 0;
    for (int &s : slot) {
      if (s == 0) s = slots++;
    }
    wide.reset(new float[static_cast<size_t>(slots) * 3 * out.width()]);
  }

  int last_needed_row() const {
    for (int r = static_cast<int>(slot.size()) - 1; r >= 0; --r) {
      if (slot[r] >= 0) return r;
    }
    return -1;
  }

  // Source row r, channel-planar.
  void add_source_row(int r, const float *const src[3]) {
    if (slot[r] < 0) return;
    const int w = out.width();
    float *dst = wide.get() + static_cast<size_t>(slot[r]) * 3 * w;
    for (int c = 0; c < 3; ++c) sum_width(src[c], tx.data(), w, dst + static_cast<size_t>(c) * w);
  }

  void sum_heights() {
    const int w = out.width();
    const size_t stride = 3 * static_cast<size_t>(w);
    for (int y = 0; y < used_rows; ++y) {
      const MusiqCubicTap &t = ty[y];
      for (int c = 0; c < 3; ++c) {
        const float *r0 = wide.get() + slot[t.idx[0]] * stride + c * w;
        const float *r1 = wide.get() + slot[t.idx[1]] * stride + c * w;
        const float *r2 = wide.get() + slot[t.idx[2]] * stride + c * w;
        const float *r3 = wide.get() + slot[t.idx[3]] * stride + c * w;
        sum_height(r0, r1, r2, r3, t.w, w, out.row(c));
      }
      out.store(y);
    }
  }
};

}  // namespace

int64_t musiq_token_count(const MusiqPatchConfig &config, int width, int height) {
  if (width < 1 || height < 1) return 0;
  int64_t total = 0;
  for (int side : config.longer_sides) total += rescaled_capacity(side);
  return total + native_capacity(config, width, height);
}

void musiq_patches(const uint8_t *rgb, int64_t stride, int width, int height, const MusiqPatchConfig &config,
                   float *tokens, float *pos, float *scale, float *mask) {
  if (musiq_token_count(config, width, height) <= 0) return;

  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = musiq_value_from_u8(v);

  std::vector<int> sides = config.longer_sides;
  std::sort(sides.begin(), sides.end());
  std::vector<Rescaled> rescaled;
  rescaled.reserve(sides.size());
  int64_t first = 0;
  for (int side : sides) {
    const MusiqSize size = musiq_scaled_size(height, width, side > 0 ? side : 1);
    rescaled.emplace_back(ScaleWriter(tokens, first, rescaled_capacity(side), size.height, size.width), width, height);
    first += rescaled_capacity(side);
  }
  ScaleWriter native(tokens, first, native_capacity(config, width, height), height, width);

  // Source rows: to [-1, 1] once, into the native tokens and the width sums.
  const int native_rows = native.used_rows();
  int last_row = native_rows - 1;
  for (const Rescaled &s : rescaled) last_row = std::max(last_row, s.last_needed_row());
  std::vector<float> planar(3 * static_cast<size_t>(width));
  for (int r = 0; r <= last_row; ++r) {
    float *ch[3];
    for (int c = 0; c < 3; ++c)
      ch[c] = r < native_rows ? native.row(c) : planar.data() + static_cast<size_t>(c) * width;
    const uint8_t *src = rgb + static_cast<int64_t>(r) * stride;
    for (int x = 0; x < width; ++x) {
      ch[0][x] = lut[src[3 * x + 0]];
      ch[1][x] = lut[src[3 * x + 1]];
      ch[2][x] = lut[src[3 * x + 2]];
    }
    if (r < native_rows) native.store(r);
    for (Rescaled &s : rescaled) s.add_source_row(r, ch);
  }

  int scale_id = 0;
  for (Rescaled &s : rescaled) {
    s.sum_heights();
    s.out.finish(scale_id++, config.hse_grid, pos, scale, mask);
  }
  native.finish(scale_id, config.hse_grid, pos, scale, mask);
}

}  // namespace s2s
