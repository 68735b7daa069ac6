#include "preprocess.h"

#include <cstddef>

#include "convert.h"
#include "resize.h"

namespace s2s {

void lpips_input(const FrameView &frame, const YuvToRgb &yuv, int out_width, int out_height, float *dst,
                 PreprocessScratch *scratch) {
  const int w = frame.width, h = frame.height;
  if (w < 1 || h < 1 || out_width < 1 || out_height < 1) return;
  scratch->rgb.resize(static_cast<size_t>(w) * h * 3);
  convert_to_rgb_rows(frame, yuv, scratch->rgb.data(), static_cast<int64_t>(w) * 3, 0, h);
  const uint8_t *src = scratch->rgb.data();
  if (out_width != w || out_height != h) {
    scratch->resized.resize(static_cast<size_t>(out_width) * out_height * 3);
    resize_linear_u8(scratch->rgb.data(), static_cast<int64_t>(w) * 3, w, h, 3, scratch->resized.data(),
                     static_cast<int64_t>(out_width) * 3, out_width, out_height, 0, out_height);
    src = scratch->resized.data();
  }
  // 256 possible bytes: the shared per-value function once each.
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = lpips_value_from_u8(v);
  const size_t plane = static_cast<size_t>(out_width) * out_height;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) dst[c * plane + i] = lut[src[3 * i + c]];
  }
}

void musiq_frame_patches(const FrameView &frame, const YuvToRgb &yuv, const MusiqPatchConfig &config, float *tokens,
                         float *pos, float *scale, float *mask, PreprocessScratch *scratch) {
  const int w = frame.width, h = frame.height;
  if (w < 1 || h < 1) return;
  scratch->rgb.resize(static_cast<size_t>(w) * h * 3);
  convert_to_rgb_rows(frame, yuv, scratch->rgb.data(), static_cast<int64_t>(w) * 3, 0, h);
  musiq_patches(scratch->rgb.data(), static_cast<int64_t>(w) * 3, w, h, config, tokens, pos, scale, mask);
}

}  // namespace s2s
