// MUSIQ multi-scale patching (Ke et al. 2021, as pyiqa's
// get_multiscale_patches computes it), CPU twin of the GPU kernel.
//
// A frame becomes a token sequence: for each longer side L (224, 384) the
// frame resized with aspect kept (bicubic A = -0.75, half-pixel centres, no
// antialiasing, no output clamping), then the frame at native resolution;
// each padded TF-'SAME' style to a multiple of 32 with 0 and cut into 32x32
// patches in row-major order. A token is 3*32*32 values in CHW order plus
// its hashed 10x10 spatial position, scale id and mask. Rescaled scales are
// padded with all-zero tokens (mask 0) to ceil(L/32)^2 tokens; the native
// scale has ceil(H/32)*ceil(W/32) tokens, or with max_seq_len >= 0 exactly
// max_seq_len of them (cut, or padded with zero tokens), as pyiqa does.
// The per-pixel math is in musiq_math.h so a CUDA kernel can share it.
#pragma once

#include <cstdint>
#include <vector>

namespace s2s {

constexpr int kMusiqPatch = 32;
constexpr int kMusiqTokenValues = 3 * kMusiqPatch * kMusiqPatch;  // 3072

struct MusiqPatchConfig {
  std::vector<int> longer_sides{224, 384};  // used sorted ascending
  int max_seq_len = -1;                     // native-resolution tokens: -1 all, else exactly this many
  int hse_grid = 10;
};

// Tokens of a width x height frame (1920x1080: 49 + 144 + 2040 = 2233).
int64_t musiq_token_count(const MusiqPatchConfig &config, int width, int height);

// rgb: packed 8-bit RGB, `stride` bytes per row. Values are mapped to
// [-1, 1] as pyiqa does ((v / 255 - 0.5) * 2, float32) before resizing.
// Outputs, for musiq_token_count() tokens: tokens [T][3072] float32, and
// pos, scale, mask [T] float32 (pyiqa passes them as floats too).
void musiq_patches(const uint8_t *rgb, int64_t stride, int width, int height, const MusiqPatchConfig &config,
                   float *tokens, float *pos, float *scale, float *mask);

}  // namespace s2s
