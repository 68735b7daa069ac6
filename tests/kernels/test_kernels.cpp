// GStreamer-free tests of the kernels (gray/RGB conversion, MSE/SSIM engine)
// against golden values computed independently by NumPy, SciPy and
// scikit-image (tests/reference/make_golden.py, which documents cases.txt).
//
// The golden directory comes from the environment variable S2S_GOLDEN_DIR.
// Per-case loop tests print lines starting with "stat:" (mismatch counts,
// worst relative errors) so the measured agreement can be read from the log.
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "frame.h"
#include "pair_engine.h"
#include "pair_metrics_cpu.h"
#include "s2s_math.h"

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

using s2s::FrameView;
using s2s::PixelFormat;

// ---------------------------------------------------------------------------
// Golden index (cases.txt)
// ---------------------------------------------------------------------------
struct PlaneSpec {
  int64_t offset, stride, rows;
};

struct FrameSpec {
  std::string file, gray, rgb, ambiguous;  // rgb, ambiguous: empty when absent
};

struct PairSpec {
  int first, second;
  double mse, ssim_uniform7, ssim_gaussian11;  // NaN where null
};

struct CaseSpec {
  std::string name, format_name, content, colorimetry;
  PixelFormat format = PixelFormat::kGray8;
  bool is_yuv = false;
  int width = 0, height = 0;
  double kr = 0, kb = 0;
  bool full_range = false;
  // false: YUV case whose ambiguous pixels (float64 RGB within 1e-3 of a
  // rounding boundary) may legitimately convert one code off.
  bool unambiguous = true;
  int64_t frame_size = 0;
  size_t declared_frames = 0;  // NFRAMES of the case line
  std::vector<PlaneSpec> planes;
  std::vector<FrameSpec> frames;
  std::vector<PairSpec> pairs;
};

struct Golden {
  std::string dir;
  double taps[6] = {0, 0, 0, 0, 0, 0};
  std::vector<CaseSpec> cases;
};

Golden g_golden;  // loaded in main() before the suite runs (forked tests inherit it)

constexpr const auto &kAllFormats = s2s::kAllPixelFormats;

bool format_from_name(const std::string &name, PixelFormat *out) {
  for (PixelFormat f : kAllFormats) {
    if (name == s2s::format_name(f)) {
      *out = f;
      return true;
    }
  }
  return false;
}

[[noreturn]] void parse_error(int line, const std::string &what) {
  throw std::runtime_error("cases.txt:" + std::to_string(line) + ": " + what);
}

double parse_double(const std::string &s, int line) {
  errno = 0;
  char *end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE) parse_error(line, "bad number '" + s + "'");
  return v;
}

int64_t parse_int(const std::string &s, int line) {
  errno = 0;
  char *end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) parse_error(line, "bad integer '" + s + "'");
  return v;
}

void load_golden(const std::string &dir) {
  g_golden.dir = dir;
  const std::string path = dir + "/cases.txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string text;
  int line_no = 0;
  bool have_taps = false;
  CaseSpec *current = nullptr;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.empty() || text[0] == '#') continue;
    std::istringstream ss(text);
    std::vector<std::string> f;
    for (std::string tok; ss >> tok;) f.push_back(tok);
    const std::string &kind = f[0];
    auto need = [&](size_t n) {
      if (f.size() != n) parse_error(line_no, "'" + kind + "' needs " + std::to_string(n) + " fields");
    };
    if (kind == "taps") {
      need(7);
      for (int k = 0; k < 6; ++k) g_golden.taps[k] = parse_double(f[1 + k], line_no);
      have_taps = true;
    } else if (kind == "case") {
      need(13);
      if (current) parse_error(line_no, "case inside case");
      g_golden.cases.emplace_back();
      current = &g_golden.cases.back();
      CaseSpec &c = *current;
      c.name = f[1];
      c.format_name = f[2];
      if (!format_from_name(c.format_name, &c.format)) parse_error(line_no, "unknown format " + f[2]);
      c.is_yuv = s2s::format_layout(c.format).is_yuv;
      c.width = static_cast<int>(parse_int(f[3], line_no));
      c.height = static_cast<int>(parse_int(f[4], line_no));
      c.content = f[5];
      c.colorimetry = f[6];
      if (c.is_yuv) {
        c.kr = parse_double(f[7], line_no);
        c.kb = parse_double(f[8], line_no);
        c.full_range = parse_int(f[9], line_no) != 0;
      } else if (f[7] != "-" || f[8] != "-" || f[9] != "-") {
        parse_error(line_no, "colorimetry given for a non-YUV format");
      }
      c.declared_frames = static_cast<size_t>(parse_int(f[10], line_no));
      c.frame_size = parse_int(f[11], line_no);
      c.unambiguous = parse_int(f[12], line_no) != 0;
      if (!c.unambiguous && !c.is_yuv) parse_error(line_no, "only YUV cases can be ambiguous");
      if (c.width <= 0 || c.height <= 0) parse_error(line_no, "bad size");
    } else if (!current) {
      parse_error(line_no, "'" + kind + "' outside a case");
    } else if (kind == "plane") {
      need(5);
      if (parse_int(f[1], line_no) != static_cast<int64_t>(current->planes.size()))
        parse_error(line_no, "planes out of order");
      current->planes.push_back({parse_int(f[2], line_no), parse_int(f[3], line_no), parse_int(f[4], line_no)});
    } else if (kind == "frame") {
      need(6);
      if (parse_int(f[1], line_no) != static_cast<int64_t>(current->frames.size()))
        parse_error(line_no, "frames out of order");
      current->frames.push_back(
          {f[2], f[3], f[4] == "-" ? std::string() : f[4], f[5] == "-" ? std::string() : f[5]});
      if (current->unambiguous != current->frames.back().ambiguous.empty())
        parse_error(line_no, "ambiguity mask given for an unambiguous case or missing");
    } else if (kind == "pair") {
      need(6);
      PairSpec p;
      p.first = static_cast<int>(parse_int(f[1], line_no));
      p.second = static_cast<int>(parse_int(f[2], line_no));
      p.mse = parse_double(f[3], line_no);
      p.ssim_uniform7 = parse_double(f[4], line_no);
      p.ssim_gaussian11 = parse_double(f[5], line_no);
      current->pairs.push_back(p);
    } else if (kind == "end") {
      need(1);
      const CaseSpec &c = *current;
      if (c.planes.empty() || c.frames.size() < 2) parse_error(line_no, c.name + ": no planes or < 2 frames");
      if (c.frames.size() != c.declared_frames) parse_error(line_no, c.name + ": frame count differs");
      for (const PairSpec &p : c.pairs) {
        if (p.first < 0 || p.second != p.first + 1 || p.second >= static_cast<int>(c.frames.size()))
          parse_error(line_no, c.name + ": pair is not consecutive frames");
      }
      if (c.pairs.size() + 1 != c.frames.size()) parse_error(line_no, c.name + ": not one pair per frame pair");
      int64_t size = 0;
      for (const PlaneSpec &p : c.planes) size += p.stride * p.rows;
      if (size != c.frame_size) parse_error(line_no, c.name + ": planes do not add up to the frame size");
      current = nullptr;
    } else {
      parse_error(line_no, "unknown record '" + kind + "'");
    }
  }
  if (current) throw std::runtime_error("cases.txt: last case has no 'end'");
  if (!have_taps) throw std::runtime_error("cases.txt: no 'taps' line");
  if (g_golden.cases.empty()) throw std::runtime_error("cases.txt: no cases");
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------
using Bytes = std::vector<uint8_t>;

Bytes read_file(const std::string &name, int64_t expected_size) {
  const std::string path = g_golden.dir + "/" + name;
  std::ifstream in(path, std::ios::binary);
  ck_assert_msg(static_cast<bool>(in), "cannot open %s", path.c_str());
  Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ck_assert_msg(static_cast<int64_t>(data.size()) == expected_size, "%s: %zu bytes, expected %lld", path.c_str(),
                data.size(), static_cast<long long>(expected_size));
  return data;
}

// A frame in memory: tightly packed as in the file, or with padded rows.
// `view` points into `data` (or into another buffer when data is empty):
// moving keeps the heap buffer and thus the pointers, copying would not.
struct Frame {
  Bytes data;
  FrameView view;
  Frame() = default;
  Frame(Frame &&) = default;
  Frame &operator=(Frame &&) = default;
  Frame(const Frame &) = delete;
  Frame &operator=(const Frame &) = delete;
};

constexpr uint8_t kSentinel = 0xAB;

// Extra bytes per row of plane i in padded copies: odd, so rows are unaligned.
int64_t row_padding(size_t plane) { return 13 + 8 * static_cast<int64_t>(plane); }

Frame load_frame(const CaseSpec &c, size_t index, bool padded) {
  const Bytes raw = read_file(c.frames[index].file, c.frame_size);
  Frame fr;
  fr.view.format = c.format;
  fr.view.width = c.width;
  fr.view.height = c.height;
  if (!padded) {
    fr.data = raw;
    for (size_t p = 0; p < c.planes.size(); ++p) {
      fr.view.planes[p] = fr.data.data() + c.planes[p].offset;
      fr.view.strides[p] = c.planes[p].stride;
    }
    return fr;
  }
  // Padded: each plane's rows are stride + padding bytes apart, the gaps (and
  // a guard after the last plane) hold the sentinel.
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (size_t p = 0; p < c.planes.size(); ++p) {
    offsets.push_back(total);
    total += (c.planes[p].stride + row_padding(p)) * c.planes[p].rows;
  }
  fr.data.assign(static_cast<size_t>(total + 64), kSentinel);
  for (size_t p = 0; p < c.planes.size(); ++p) {
    const PlaneSpec &ps = c.planes[p];
    const int64_t stride = ps.stride + row_padding(p);
    for (int64_t r = 0; r < ps.rows; ++r)
      std::memcpy(fr.data.data() + offsets[p] + r * stride, raw.data() + ps.offset + r * ps.stride,
                  static_cast<size_t>(ps.stride));
    fr.view.planes[p] = fr.data.data() + offsets[p];
    fr.view.strides[p] = stride;
  }
  return fr;
}

s2s::YuvToRgb yuv_of(const CaseSpec &c) {
  return c.is_yuv ? s2s::make_yuv_to_rgb(c.kr, c.kb, c.full_range) : s2s::YuvToRgb{};
}

// Converts to gray (channels 1) or RGB (channels 3) into a buffer whose rows
// are `pad` bytes longer than needed; checks the padding stays untouched and
// returns the tightly packed image. Rows are converted in two ranges to
// exercise row_begin/row_end.
Bytes convert(const CaseSpec &c, const FrameView &v, int channels, int64_t pad) {
  const int64_t row = static_cast<int64_t>(c.width) * channels;
  const int64_t stride = row + pad;
  Bytes out(static_cast<size_t>(stride * c.height), kSentinel);
  const s2s::YuvToRgb m = yuv_of(c);
  const int split = c.height / 3;
  if (channels == 1) {
    s2s::convert_to_gray_rows(v, m, out.data(), stride, 0, split);
    s2s::convert_to_gray_rows(v, m, out.data(), stride, split, c.height);
  } else {
    s2s::convert_to_rgb_rows(v, m, out.data(), stride, 0, split);
    s2s::convert_to_rgb_rows(v, m, out.data(), stride, split, c.height);
  }
  // (ck_assert marks a point on every call: keep it out of per-pixel loops.)
  Bytes tight(static_cast<size_t>(row * c.height));
  int64_t touched = 0;
  for (int y = 0; y < c.height; ++y) {
    for (int64_t x = row; x < stride; ++x) touched += out[static_cast<size_t>(y * stride + x)] != kSentinel;
    std::memcpy(tight.data() + y * row, out.data() + y * stride, static_cast<size_t>(row));
  }
  ck_assert_msg(touched == 0, "%s: conversion wrote %lld bytes of row padding", c.name.c_str(),
                static_cast<long long>(touched));
  return tight;
}

struct Diff {
  int64_t count = 0;  // differing bytes
  int max_abs = 0;
  int64_t first = -1;            // index of the first difference
  int64_t first_unflagged = -1;  // first difference at a pixel not flagged ambiguous
};

// `ambiguous` (one byte per pixel, may be empty) flags the pixels where a
// difference is allowed; `channels` bytes per pixel.
Diff compare_bytes(const Bytes &got, const Bytes &want, const Bytes &ambiguous, int channels) {
  Diff d;
  for (size_t i = 0; i < want.size(); ++i) {
    const int e = std::abs(static_cast<int>(got[i]) - static_cast<int>(want[i]));
    if (e != 0) {
      if (d.count == 0) d.first = static_cast<int64_t>(i);
      ++d.count;
      if (e > d.max_abs) d.max_abs = e;
      const bool flagged = !ambiguous.empty() && ambiguous[i / static_cast<size_t>(channels)] != 0;
      if (!flagged && d.first_unflagged < 0) d.first_unflagged = static_cast<int64_t>(i);
    }
  }
  return d;
}

Bytes ambiguity_mask(const CaseSpec &c, size_t frame) {
  if (c.frames[frame].ambiguous.empty()) return Bytes();
  return read_file(c.frames[frame].ambiguous, static_cast<int64_t>(c.width) * c.height);
}

// Unambiguous cases (all RGB and GRAY8 ones, most YUV ones) must match
// exactly. Otherwise the fixed-point YUV conversion may be one code off where
// the float64 value lies within ~2e-4 of a .5 boundary: differences are
// allowed only at pixels the reference flags as ambiguous, by at most 1, on
// at most 0.1 % of the values.
void check_conversion(const CaseSpec &c, const char *what, const Diff &d, int64_t values) {
  if (c.unambiguous) {
    ck_assert_msg(d.count == 0, "%s: %s differs from the reference in %lld of %lld values (first at %lld, max %d)",
                  c.name.c_str(), what, static_cast<long long>(d.count), static_cast<long long>(values),
                  static_cast<long long>(d.first), d.max_abs);
    return;
  }
  ck_assert_msg(d.first_unflagged < 0, "%s: %s differs at value %lld, a pixel that is not ambiguous",
                c.name.c_str(), what, static_cast<long long>(d.first_unflagged));
  ck_assert_msg(d.max_abs <= 1, "%s: %s differs by %d (first at %lld)", c.name.c_str(), what, d.max_abs,
                static_cast<long long>(d.first));
  ck_assert_msg(d.count * 1000 <= values, "%s: %s differs in %lld of %lld values (more than 0.1 %%)",
                c.name.c_str(), what, static_cast<long long>(d.count), static_cast<long long>(values));
}

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

s2s::StreamFormat stream_format(const CaseSpec &c) {
  s2s::StreamFormat f;
  f.format = c.format;
  f.width = c.width;
  f.height = c.height;
  f.yuv = yuv_of(c);
  return f;
}

s2s::PairOptions options_for(s2s::SsimWindow w) {
  s2s::PairOptions o;
  o.mse = true;
  o.ssim = true;
  o.window = w;
  return o;
}

// Scores frames[begin, end) in one call with the given pairing flags.
std::vector<s2s::PairResult> score(s2s::PairEngine &e, const std::vector<Frame> &frames, size_t begin, size_t end,
                                   const std::vector<uint8_t> &flags, s2s::SsimWindow w) {
  std::vector<FrameView> views;
  for (size_t i = begin; i < end; ++i) views.push_back(frames[i].view);
  std::vector<s2s::PairResult> r(views.size());
  std::string error;
  const bool ok = e.score(views.data(), flags.data(), views.size(), options_for(w), r.data(), &error);
  ck_assert_msg(ok, "score failed: %s", error.c_str());
  return r;
}

std::vector<s2s::PairResult> score_all(int threads, const CaseSpec &c, const std::vector<Frame> &frames,
                                       s2s::SsimWindow w) {
  auto e = s2s::make_cpu_pair_engine(threads);
  std::string error;
  ck_assert_msg(e->configure(stream_format(c), &error), "configure failed: %s", error.c_str());
  std::vector<uint8_t> flags(frames.size(), 1);
  flags[0] = 0;
  return score(*e, frames, 0, frames.size(), flags, w);
}

const s2s::SsimWindow kWindows[] = {s2s::SsimWindow::kUniform7, s2s::SsimWindow::kGaussian11};
const char *window_name(s2s::SsimWindow w) { return w == s2s::SsimWindow::kUniform7 ? "uniform7" : "gaussian11"; }

std::vector<Frame> load_frames(const CaseSpec &c, bool padded) {
  std::vector<Frame> frames;
  for (size_t i = 0; i < c.frames.size(); ++i) frames.push_back(load_frame(c, i, padded));
  return frames;
}

int64_t pixels_of(const CaseSpec &c) { return static_cast<int64_t>(c.width) * c.height; }

// ---------------------------------------------------------------------------
// Golden index sanity
// ---------------------------------------------------------------------------
START_TEST(test_golden_coverage) {
  const char *required[] = {"GRAY8", "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "I420", "NV12"};
  for (const char *name : required) {
    bool found = false;
    for (const CaseSpec &c : g_golden.cases) found = found || c.format_name == name;
    ck_assert_msg(found, "no golden case in format %s", name);
  }
  bool full_range = false, hd = false, tiny = false;
  for (const CaseSpec &c : g_golden.cases) {
    full_range = full_range || (c.is_yuv && c.full_range);
    hd = hd || (c.width == 1920 && c.height == 1080);
    tiny = tiny || (c.width == 1 && c.height == 1);
    ck_assert_msg(c.frames.size() >= 3, "%s: fewer than 3 frames", c.name.c_str());
  }
  ck_assert(full_range && hd && tiny);
}
END_TEST

// ---------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------
START_TEST(test_gray_conversion) {
  const CaseSpec &c = g_golden.cases[static_cast<size_t>(_i)];
  Diff total;
  for (size_t i = 0; i < c.frames.size(); ++i) {
    const Frame tight = load_frame(c, i, false);
    const Frame padded = load_frame(c, i, true);
    const Bytes want = read_file(c.frames[i].gray, pixels_of(c));
    const Bytes got = convert(c, tight.view, 1, 0);
    const Diff d = compare_bytes(got, want, ambiguity_mask(c, i), 1);
    check_conversion(c, "gray", d, pixels_of(c));
    total.count += d.count;
    total.max_abs = d.max_abs > total.max_abs ? d.max_abs : total.max_abs;
    // Padded input rows and a padded output buffer give the same image.
    const Bytes got_padded = convert(c, padded.view, 1, 7);
    ck_assert_msg(got_padded == got, "%s: frame %zu: padded strides change the gray image", c.name.c_str(), i);
  }
  if (c.is_yuv)
    std::printf("stat: gray %-34s %lld of %lld pixels differ (max %d)\n", c.name.c_str(),
                static_cast<long long>(total.count), static_cast<long long>(pixels_of(c) * c.frames.size()),
                total.max_abs);
}
END_TEST

START_TEST(test_rgb_conversion) {
  const CaseSpec &c = g_golden.cases[static_cast<size_t>(_i)];
  Diff total;
  int64_t checked = 0;
  for (size_t i = 0; i < c.frames.size(); ++i) {
    const Frame tight = load_frame(c, i, false);
    const Frame padded = load_frame(c, i, true);
    const Bytes rgb = convert(c, tight.view, 3, 0);
    ck_assert_msg(convert(c, padded.view, 3, 5) == rgb, "%s: frame %zu: padded strides change the RGB image",
                  c.name.c_str(), i);
    // The gray conversion is OpenCV's rule on this very RGB.
    const Bytes gray = convert(c, tight.view, 1, 0);
    int64_t bad = -1;
    for (int64_t p = 0; p < pixels_of(c) && bad < 0; ++p) {
      if (gray[p] != s2s::gray_from_rgb(rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2])) bad = p;
    }
    ck_assert_msg(bad < 0, "%s: frame %zu pixel %lld: gray is not the gray of its RGB", c.name.c_str(), i,
                  static_cast<long long>(bad));
    if (c.frames[i].rgb.empty()) continue;
    const Bytes want = read_file(c.frames[i].rgb, 3 * pixels_of(c));
    const Diff d = compare_bytes(rgb, want, ambiguity_mask(c, i), 3);
    check_conversion(c, "rgb", d, 3 * pixels_of(c));
    total.count += d.count;
    total.max_abs = d.max_abs > total.max_abs ? d.max_abs : total.max_abs;
    checked += 3 * pixels_of(c);
  }
  if (c.is_yuv)
    std::printf("stat: rgb  %-34s %lld of %lld values differ (max %d)\n", c.name.c_str(),
                static_cast<long long>(total.count), static_cast<long long>(checked), total.max_abs);
}
END_TEST

void assert_same(const CaseSpec &c, const char *what, const std::vector<s2s::PairResult> &a,
                 const std::vector<s2s::PairResult> &b, size_t offset) {
  for (size_t i = 0; i < b.size(); ++i) {
    const s2s::PairResult &x = a[offset + i], &y = b[i];
    ck_assert_msg(same_double(x.mse, y.mse) && same_double(x.ssim, y.ssim),
                  "%s: %s: frame %zu: (%.17g, %.17g) vs (%.17g, %.17g)", c.name.c_str(), what, offset + i, x.mse,
                  x.ssim, y.mse, y.ssim);
  }
}

// ---------------------------------------------------------------------------
// Engine results against scikit-image and NumPy
// ---------------------------------------------------------------------------
constexpr double kSsimRelTol = 1e-9;

START_TEST(test_engine_golden) {
  const CaseSpec &c = g_golden.cases[static_cast<size_t>(_i)];
  const std::vector<Frame> frames = load_frames(c, false);
  const int64_t n = pixels_of(c);

  // In cases that keep ambiguous pixels the engine's gray may differ from
  // the reference gray on a few pixels (see check_conversion). Pairs touching
  // such pixels are compared with the bound those pixels allow; in addition,
  // for every non-GRAY8 case the engine must give bitwise the results of the
  // GRAY8 engine on its own gray images, and the MSE of those images computed
  // here.
  std::vector<Bytes> ours, theirs;
  std::vector<Frame> ours_gray8;
  for (size_t i = 0; i < frames.size(); ++i) {
    ours.push_back(convert(c, frames[i].view, 1, 0));
    theirs.push_back(read_file(c.frames[i].gray, n));
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    Frame g;
    g.view.format = PixelFormat::kGray8;
    g.view.width = c.width;
    g.view.height = c.height;
    g.view.planes[0] = ours[i].data();
    g.view.strides[0] = c.width;
    ours_gray8.push_back(std::move(g));
  }
  CaseSpec as_gray8 = c;
  as_gray8.format = PixelFormat::kGray8;

  double worst[2] = {0, 0};
  double worst_bounded = 0;  // relative SSIM error of pairs whose gray differs
  int exact_pairs = 0;
  for (int wi = 0; wi < 2; ++wi) {
    const s2s::SsimWindow w = kWindows[wi];
    const auto r = score_all(1, c, frames, w);
    ck_assert_msg(std::isnan(r[0].mse) && std::isnan(r[0].ssim), "%s: first frame has a pair", c.name.c_str());
    if (c.format != PixelFormat::kGray8)
      assert_same(c, "engine vs GRAY8 engine on its gray images", r, score_all(1, as_gray8, ours_gray8, w), 0);
    for (const PairSpec &p : c.pairs) {
      const s2s::PairResult &got = r[static_cast<size_t>(p.second)];
      const double ref_ssim = wi == 0 ? p.ssim_uniform7 : p.ssim_gaussian11;
      int64_t differing = 0, sq = 0;
      for (int64_t k = 0; k < n; ++k) {
        const uint8_t a = ours[p.first][k], b = ours[p.second][k];
        differing += (a != theirs[p.first][k] || b != theirs[p.second][k]) ? 1 : 0;
        sq += (static_cast<int>(a) - b) * (static_cast<int>(a) - b);
      }
      ck_assert_msg(!c.unambiguous || differing == 0, "%s: gray differs in an unambiguous case", c.name.c_str());
      ck_assert_msg(got.mse == static_cast<double>(sq) / static_cast<double>(n),
                    "%s: pair %d-%d: MSE %.17g is not the MSE of its gray images", c.name.c_str(), p.first,
                    p.second, got.mse);
      if (differing == 0) {
        ck_assert_msg(got.mse == p.mse, "%s: pair %d-%d: MSE %.17g, NumPy %.17g", c.name.c_str(), p.first, p.second,
                      got.mse, p.mse);
      } else {
        // With a and b each off by at most 1, d = a - b moves by at most 2
        // and |d'^2 - d^2| = |d' - d| |d' + d| <= 2 * 510 < 1024.
        const double bound = static_cast<double>(differing) * 1024.0 / static_cast<double>(n);
        ck_assert_msg(std::fabs(got.mse - p.mse) <= bound, "%s: pair %d-%d: MSE %.17g, NumPy %.17g (bound %g)",
                      c.name.c_str(), p.first, p.second, got.mse, p.mse, bound);
      }
      if (wi == 0 && differing == 0) ++exact_pairs;
      if (std::isnan(ref_ssim)) {
        ck_assert_msg(std::isnan(got.ssim), "%s: pair %d-%d: SSIM %s %.17g where scikit-image has none",
                      c.name.c_str(), p.first, p.second, window_name(w), got.ssim);
        continue;
      }
      ck_assert_msg(!std::isnan(got.ssim), "%s: pair %d-%d: SSIM %s is NaN, scikit-image %.17g", c.name.c_str(),
                    p.first, p.second, window_name(w), ref_ssim);
      if (ref_ssim == 1.0)
        ck_assert_msg(got.ssim == 1.0, "%s: pair %d-%d: SSIM %s %.17g, exactly 1 expected", c.name.c_str(), p.first,
                      p.second, window_name(w), got.ssim);
      const double err = std::fabs(got.ssim - ref_ssim);
      if (differing == 0) {
        const double rel = ref_ssim != 0 ? err / std::fabs(ref_ssim) : err;
        worst[wi] = rel > worst[wi] ? rel : worst[wi];
        ck_assert_msg(err <= kSsimRelTol * std::fabs(ref_ssim),
                      "%s: pair %d-%d: SSIM %s %.17g, scikit-image %.17g (relative error %.3g)", c.name.c_str(),
                      p.first, p.second, window_name(w), got.ssim, ref_ssim, rel);
      } else {
        // A pixel enters at most (2r+1)^2 windows, each SSIM lies in [-1, 1].
        const int size = 2 * s2s::ssim_window_radius(w) + 1;
        const double windows = static_cast<double>(s2s::ssim_window_count(w, c.width, c.height));
        const double bound = static_cast<double>(differing) * size * size * 2.0 / windows;
        const double rel = ref_ssim != 0 ? err / std::fabs(ref_ssim) : err;
        worst_bounded = rel > worst_bounded ? rel : worst_bounded;
        ck_assert_msg(err <= bound + kSsimRelTol * std::fabs(ref_ssim),
                      "%s: pair %d-%d: SSIM %s %.17g, scikit-image %.17g (gray differs in %lld pixels, bound %g)",
                      c.name.c_str(), p.first, p.second, window_name(w), got.ssim, ref_ssim,
                      static_cast<long long>(differing), bound);
      }
    }
  }
  std::printf("stat: ssim %-34s worst relative error uniform7 %.3g gaussian11 %.3g (%d of %zu pairs exact gray",
              c.name.c_str(), worst[0], worst[1], exact_pairs, c.pairs.size());
  if (exact_pairs != static_cast<int>(c.pairs.size()))
    std::printf("; others within %.3g", worst_bounded);
  std::printf(")\n");
}
END_TEST

// ---------------------------------------------------------------------------
// Batching, threads, strides and chain resets change nothing
// ---------------------------------------------------------------------------
START_TEST(test_engine_invariance) {
  const CaseSpec &c = g_golden.cases[static_cast<size_t>(_i)];
  const std::vector<Frame> frames = load_frames(c, false);
  const std::vector<Frame> padded = load_frames(c, true);
  const size_t n = frames.size();
  ck_assert_msg(n >= 3, "%s: fewer than 3 frames", c.name.c_str());
  std::string error;
  for (const s2s::SsimWindow w : kWindows) {
    const auto all = score_all(1, c, frames, w);

    // Two threads, padded strides.
    assert_same(c, "2 threads", all, score_all(2, c, frames, w), 0);
    assert_same(c, "padded strides", all, score_all(2, c, padded, w), 0);

    // One frame per call, the pair chain carried between calls.
    auto e = s2s::make_cpu_pair_engine(2);
    ck_assert(e->configure(stream_format(c), &error));
    for (size_t i = 0; i < n; ++i)
      assert_same(c, "one frame per call", all, score(*e, frames, i, i + 1, {static_cast<uint8_t>(i > 0)}, w), i);

    // Two batches, 2 frames then the rest; the second uses padded copies
    // (strides are per frame, so tight and padded frames can follow each
    // other).
    ck_assert(e->configure(stream_format(c), &error));
    assert_same(c, "first batch of 2", all, score(*e, frames, 0, 2, {0, 1}, w), 0);
    std::vector<uint8_t> rest(n - 2, 1);
    assert_same(c, "second batch (padded)", all, score(*e, padded, 2, n, rest, w), 2);

    // configure() forgets the kept frame.
    ck_assert(e->configure(stream_format(c), &error));
    auto r = score(*e, frames, 1, 2, {1}, w);
    ck_assert_msg(std::isnan(r[0].mse) && std::isnan(r[0].ssim), "%s: pair across configure()", c.name.c_str());
    assert_same(c, "after configure", all, score(*e, frames, 2, 3, {1}, w), 2);

    // reset_chain(): the next frame has no pair, the one after it does.
    ck_assert(e->configure(stream_format(c), &error));
    score(*e, frames, 0, 1, {0}, w);
    e->reset_chain();
    r = score(*e, frames, 1, 2, {1}, w);
    ck_assert_msg(std::isnan(r[0].mse) && std::isnan(r[0].ssim), "%s: pair across reset_chain()", c.name.c_str());
    assert_same(c, "after reset_chain", all, score(*e, frames, 2, 3, {1}, w), 2);

    // A zero flag inside a batch breaks only that pair.
    ck_assert(e->configure(stream_format(c), &error));
    std::vector<uint8_t> flags(n, 1);
    flags[0] = 0;
    flags[1] = 0;
    r = score(*e, frames, 0, n, flags, w);
    ck_assert_msg(std::isnan(r[1].mse) && std::isnan(r[1].ssim), "%s: flag 0 inside a batch", c.name.c_str());
    assert_same(c, "flag 0 inside a batch", all, std::vector<s2s::PairResult>(r.begin() + 2, r.end()), 2);

    // Options: MSE only, SSIM only.
    s2s::PairOptions only_mse = options_for(w), only_ssim = options_for(w);
    only_mse.ssim = false;
    only_ssim.mse = false;
    std::vector<FrameView> views;
    for (const Frame &f : frames) views.push_back(f.view);
    std::vector<uint8_t> chain(n, 1);
    chain[0] = 0;
    std::vector<s2s::PairResult> a(n), b(n);
    ck_assert(e->configure(stream_format(c), &error));
    ck_assert(e->score(views.data(), chain.data(), n, only_mse, a.data(), &error));
    ck_assert(e->configure(stream_format(c), &error));
    ck_assert(e->score(views.data(), chain.data(), n, only_ssim, b.data(), &error));
    for (size_t i = 0; i < n; ++i) {
      ck_assert_msg(same_double(a[i].mse, all[i].mse) && std::isnan(a[i].ssim), "%s: MSE-only results", c.name.c_str());
      ck_assert_msg(same_double(b[i].ssim, all[i].ssim) && std::isnan(b[i].mse), "%s: SSIM-only results",
                    c.name.c_str());
    }
  }
}
END_TEST

// ---------------------------------------------------------------------------
// Unit tests of the window math
// ---------------------------------------------------------------------------
START_TEST(test_gaussian11_taps) {
  double taps[6];
  s2s::gaussian11_taps(taps);
  bool bitwise = true;
  for (int k = 0; k < 6; ++k) {
    const double err = std::fabs(taps[k] - g_golden.taps[k]);
    ck_assert_msg(err <= 1e-15, "tap %d: %.17g, scipy %.17g", k, taps[k], g_golden.taps[k]);
    bitwise = bitwise && same_double(taps[k], g_golden.taps[k]);
  }
  double sum = taps[0];
  for (int k = 1; k < 6; ++k) sum += 2 * taps[k];
  ck_assert_msg(std::fabs(sum - 1.0) <= 1e-15, "taps sum to %.17g", sum);
  std::printf("stat: gaussian11 taps %s scipy's\n", bitwise ? "bitwise equal to" : "within 1e-15 of");
}
END_TEST

struct Sums {
  int32_t sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
};

Sums window_sums(const int *x, const int *y) {
  Sums s;
  for (int i = 0; i < 49; ++i) {
    s.sx += x[i];
    s.sy += y[i];
    s.sxx += x[i] * x[i];
    s.syy += y[i] * y[i];
    s.sxy += x[i] * y[i];
  }
  return s;
}

double ssim_of(const Sums &s) { return s2s::ssim_uniform7_from_sums(s.sx, s.sy, s.sxx, s.syy, s.sxy); }

START_TEST(test_ssim_uniform7_from_sums) {
  int x[49], y[49];
  // Identical windows: exactly 1, whatever the content (extremes included).
  for (int i = 0; i < 49; ++i) x[i] = (i * 37) % 256;
  ck_assert(ssim_of(window_sums(x, x)) == 1.0);
  for (int i = 0; i < 49; ++i) x[i] = i % 2 ? 255 : 0;
  ck_assert(ssim_of(window_sums(x, x)) == 1.0);
  for (int i = 0; i < 49; ++i) x[i] = 255;
  ck_assert(ssim_of(window_sums(x, x)) == 1.0);

  // Two flat windows a and b: no variance, SSIM = (2ab + C1) / (a^2 + b^2 + C1).
  for (int i = 0; i < 49; ++i) {
    x[i] = 100;
    y[i] = 60;
  }
  const double c1 = s2s::kSsimC1, c2 = s2s::kSsimC2;
  const double flat = (2.0 * 100 * 60 + c1) / (100.0 * 100 + 60.0 * 60 + c1);
  ck_assert_msg(std::fabs(ssim_of(window_sums(x, y)) - flat) <= 1e-15, "flat windows: %.17g, expected %.17g",
                ssim_of(window_sums(x, y)), flat);

  // x = 0..48, y = 48..0, by hand: ux = uy = 24, sum (i-24)^2 =
  // 2 * (1^2 + ... + 24^2) = 9800, so the sample (co)variances are
  // vx = vy = 9800/48 and vxy = -9800/48.
  for (int i = 0; i < 49; ++i) {
    x[i] = i;
    y[i] = 48 - i;
  }
  const double v = 9800.0 / 48.0;
  const double expected = ((2 * 24.0 * 24 + c1) * (-2 * v + c2)) / ((2 * 24.0 * 24 + c1) * (2 * v + c2));
  const double got = ssim_of(window_sums(x, y));
  ck_assert_msg(std::fabs(got - expected) <= 1e-14 * std::fabs(expected), "ramps: %.17g, expected %.17g", got,
                expected);

  // Window counts scikit-image averages.
  ck_assert(s2s::ssim_window_count(s2s::SsimWindow::kUniform7, 7, 7) == 1);
  ck_assert(s2s::ssim_window_count(s2s::SsimWindow::kUniform7, 6, 7) == 0);
  ck_assert(s2s::ssim_window_count(s2s::SsimWindow::kGaussian11, 10, 11) == 0);
  ck_assert(s2s::ssim_window_count(s2s::SsimWindow::kGaussian11, 11, 11) == 1);
  ck_assert(s2s::ssim_window_count(s2s::SsimWindow::kUniform7, 641, 359) == 635LL * 353);
}
END_TEST

Suite *kernels_suite() {
  Suite *s = suite_create("kernels");
  const int n = static_cast<int>(g_golden.cases.size());

  TCase *unit = tcase_create("unit");
  tcase_add_test(unit, test_golden_coverage);
  tcase_add_test(unit, test_gaussian11_taps);
  tcase_add_test(unit, test_ssim_uniform7_from_sums);
  suite_add_tcase(s, unit);

  TCase *conv = tcase_create("conversion");
  tcase_add_loop_test(conv, test_gray_conversion, 0, n);
  tcase_add_loop_test(conv, test_rgb_conversion, 0, n);
  suite_add_tcase(s, conv);

  TCase *engine = tcase_create("engine");
  tcase_add_loop_test(engine, test_engine_golden, 0, n);
  tcase_add_loop_test(engine, test_engine_invariance, 0, n);
  suite_add_tcase(s, engine);
  return s;
}

}  // namespace

int main() {
  const char *dir = std::getenv("S2S_GOLDEN_DIR");
  if (!dir || !*dir) {
    std::fprintf(stderr, "S2S_GOLDEN_DIR is not set (the directory holding cases.txt)\n");
    return EXIT_FAILURE;
  }
  try {
    load_golden(dir);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cannot load the golden cases: %s\n", e.what());
    return EXIT_FAILURE;
  }
  std::printf("golden: %zu cases from %s\n", g_golden.cases.size(), dir);
  std::fflush(stdout);

  SRunner *sr = srunner_create(kernels_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
