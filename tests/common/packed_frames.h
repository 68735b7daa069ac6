// Helpers the network tests share (tests/lpips, tests/musiq): environment,
// whole files, and frames of packed rows as the reference scripts write them
// (RGB, BGRx or GRAY8, no row padding). Header-only; needs Check.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "frame.h"

// After the C++ headers: check.h defines a fail() macro.
#include <check.h>

namespace s2s_test {

inline std::string env(const char *name) {
  const char *v = std::getenv(name);
  ck_assert_msg(v && *v, "%s is not set", name);
  return v;
}

inline std::vector<uint8_t> read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  ck_assert_msg(in.good(), "cannot read %s", path.c_str());
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A view of `data`, width x height packed rows of format `name`; the data
// must be exactly that size.
inline s2s::FrameView packed_view(const std::string &name, int width, int height, const std::vector<uint8_t> &data) {
  s2s::FrameView v;
  int bytes_per_pixel = 1;
  if (name == "RGB") {
    v.format = s2s::PixelFormat::kRgb, bytes_per_pixel = 3;
  } else if (name == "BGRx") {
    v.format = s2s::PixelFormat::kBgrx, bytes_per_pixel = 4;
  } else {
    ck_assert_msg(name == "GRAY8", "unknown format %s", name.c_str());
    v.format = s2s::PixelFormat::kGray8;
  }
  v.width = width;
  v.height = height;
  v.planes[0] = data.data();
  v.strides[0] = static_cast<int64_t>(width) * bytes_per_pixel;
  ck_assert_uint_eq(data.size(), static_cast<size_t>(v.strides[0]) * height);
  return v;
}

}  // namespace s2s_test
