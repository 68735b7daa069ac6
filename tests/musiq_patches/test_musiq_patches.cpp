// GStreamer-free tests of MUSIQ's multi-scale patching (kernels/musiq_patches.h)
// against pyiqa's get_multiscale_patches, run at test time by
// tests/musiq_patches/musiq_reference.py (which documents musiq-cases.txt).
//
// The reference directory comes from S2S_MUSIQ_DIR. Every case is compared
// token by token: the token count, each of the 3072 values, the hashed
// position, the scale id and the mask. Position, scale, mask and count must
// be exact; the values must be bit-exact when the reference ran PyTorch's
// AVX2 CPU kernels (what musiq_math.h reproduces), and within 1e-3 otherwise
// (the DEFAULT build rounds differently; see musiq_math.h).
// Lines starting with "stat:" report the largest differences and timings.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "musiq_math.h"
#include "musiq_patches.h"

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

constexpr int kTokenWidth = s2s::kMusiqTokenValues + 3;  // pyiqa's layout: values, pos, scale, mask

struct MusiqCase {
  std::string name, frame_file, ref_file;
  int width = 0, height = 0;
  std::vector<int> sides;
  int max_seq = -1;
  int64_t tokens = 0;
};

std::string g_dir;
std::string g_capability;
std::vector<MusiqCase> g_cases;

bool exact_reference() { return g_capability == "AVX2"; }

int parse_int(const std::string &s, int line, long lo, long hi) {
  char *end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > hi)
    throw std::runtime_error("musiq-cases.txt:" + std::to_string(line) + ": bad number '" + s + "'");
  return static_cast<int>(v);
}

void load_cases(const std::string &dir) {
  g_dir = dir;
  const std::string path = dir + "/musiq-cases.txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string text;
  int line_no = 0;
  bool ended = false;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.empty() || text[0] == '#') continue;
    std::istringstream ss(text);
    std::vector<std::string> f;
    for (std::string w; ss >> w;) f.push_back(w);
    if (f[0] == "capability" && f.size() == 2) {
      g_capability = f[1];
    } else if (f[0] == "case" && f.size() == 9) {
      MusiqCase c;
      c.name = f[1];
      c.width = parse_int(f[2], line_no, 1, 1 << 14);
      c.height = parse_int(f[3], line_no, 1, 1 << 14);
      std::stringstream sides(f[4]);
      for (std::string side; std::getline(sides, side, ',');) c.sides.push_back(parse_int(side, line_no, 1, 1 << 14));
      c.max_seq = parse_int(f[5], line_no, -1, 1 << 20);
      c.tokens = parse_int(f[6], line_no, 0, 1 << 24);
      c.frame_file = f[7];
      c.ref_file = f[8];
      g_cases.push_back(c);
    } else if (f[0] == "end") {
      ended = true;
    } else {
      throw std::runtime_error("musiq-cases.txt:" + std::to_string(line_no) + ": unexpected line");
    }
  }
  if (!ended || g_cases.empty() || g_capability.empty())
    throw std::runtime_error(path + " is incomplete (no capability, no case or no end)");
}

template <typename T>
std::vector<T> read_raw(const std::string &file, size_t count) {
  const std::string path = g_dir + "/" + file;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<T> data(count);
  in.read(reinterpret_cast<char *>(data.data()), static_cast<std::streamsize>(count * sizeof(T)));
  if (in.gcount() != static_cast<std::streamsize>(count * sizeof(T)) || in.peek() != EOF)
    throw std::runtime_error(path + " does not hold " + std::to_string(count) + " elements");
  return data;
}

s2s::MusiqPatchConfig config_of(const MusiqCase &c) {
  s2s::MusiqPatchConfig config;
  config.longer_sides = c.sides;
  config.max_seq_len = c.max_seq;
  return config;
}

// Our output, in separate arrays as the API gives it.
struct Tokens {
  std::vector<float> values, pos, scale, mask;
  explicit Tokens(int64_t n, float fill = std::nanf(""))
      : values(static_cast<size_t>(n) * s2s::kMusiqTokenValues, fill), pos(n, fill), scale(n, fill), mask(n, fill) {}
  int64_t count() const { return static_cast<int64_t>(pos.size()); }
};

void run(const uint8_t *rgb, int64_t stride, int width, int height, const s2s::MusiqPatchConfig &config, Tokens &out) {
  s2s::musiq_patches(rgb, stride, width, height, config, out.values.data(), out.pos.data(), out.scale.data(),
                     out.mask.data());
}

// Copy of a packed RGB frame with `pad` extra bytes a row, filled with junk.
std::vector<uint8_t> with_stride(const std::vector<uint8_t> &rgb, int width, int height, int pad) {
  const size_t row = static_cast<size_t>(width) * 3;
  std::vector<uint8_t> out((row + pad) * height, 0xA5);
  for (int y = 0; y < height; ++y) std::memcpy(out.data() + y * (row + pad), rgb.data() + y * row, row);
  return out;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

bool identical(const Tokens &a, const Tokens &b) {
  return a.values.size() == b.values.size() &&
         std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0 &&
         std::memcmp(a.pos.data(), b.pos.data(), a.pos.size() * sizeof(float)) == 0 &&
         std::memcmp(a.scale.data(), b.scale.data(), a.scale.size() * sizeof(float)) == 0 &&
         std::memcmp(a.mask.data(), b.mask.data(), a.mask.size() * sizeof(float)) == 0;
}

// ---------------------------------------------------------------------------
// Against pyiqa.
// ---------------------------------------------------------------------------
START_TEST(test_reference_case) {
  const MusiqCase &c = g_cases[_i];
  const s2s::MusiqPatchConfig config = config_of(c);
  ck_assert_msg(s2s::musiq_token_count(config, c.width, c.height) == c.tokens,
                "%s: musiq_token_count %lld, pyiqa %lld tokens", c.name.c_str(),
                static_cast<long long>(s2s::musiq_token_count(config, c.width, c.height)),
                static_cast<long long>(c.tokens));

  const auto rgb = read_raw<uint8_t>(c.frame_file, static_cast<size_t>(c.width) * c.height * 3);
  const auto ref = read_raw<float>(c.ref_file, static_cast<size_t>(c.tokens) * kTokenWidth);
  // Rows 5 junk bytes apart, so the stride is honoured too.
  const auto strided = with_stride(rgb, c.width, c.height, 5);
  Tokens out(c.tokens);
  run(strided.data(), static_cast<int64_t>(c.width) * 3 + 5, c.width, c.height, config, out);

  const double tolerance = exact_reference() ? 0.0 : 1e-3;
  double max_diff = 0;
  int64_t differing_values = 0, first_bad = -1;
  std::string first_what;
  for (int64_t k = 0; k < c.tokens; ++k) {
    const float *r = ref.data() + k * kTokenWidth;
    const float *v = out.values.data() + k * s2s::kMusiqTokenValues;
    std::string what;
    for (int i = 0; i < s2s::kMusiqTokenValues; ++i) {
      const double d = std::fabs(static_cast<double>(v[i]) - r[i]);
      if (!(d <= tolerance)) {  // NaN too
        ++differing_values;
        if (what.empty()) {
          char buf[160];
          std::snprintf(buf, sizeof buf, "value %d (c%d y%d x%d): %.9g, pyiqa %.9g", i, i / 1024, i / 32 % 32, i % 32,
                        v[i], r[i]);
          what = buf;
        }
      }
      if (!(d <= max_diff)) max_diff = d;
    }
    const float *meta[3] = {out.pos.data(), out.scale.data(), out.mask.data()};
    const char *meta_name[3] = {"pos", "scale", "mask"};
    for (int m = 0; m < 3; ++m) {
      if (!same_bits(meta[m][k], r[s2s::kMusiqTokenValues + m]) &&
          meta[m][k] != r[s2s::kMusiqTokenValues + m]) {  // +0 == -0
        char buf[120];
        std::snprintf(buf, sizeof buf, "%s %.9g, pyiqa %.9g", meta_name[m], meta[m][k], r[s2s::kMusiqTokenValues + m]);
        what = what.empty() ? buf : what + "; " + buf;
      }
    }
    if (!what.empty() && first_bad < 0) {
      first_bad = k;
      first_what = what;
    }
  }
  std::printf("stat: %-26s %5lld tokens, max |value - pyiqa| = %.3g, %lld values differ%s\n", c.name.c_str(),
              static_cast<long long>(c.tokens), max_diff, static_cast<long long>(differing_values),
              exact_reference() ? "" : " (non-AVX2 reference: tolerance 1e-3)");
  std::fflush(stdout);
  ck_assert_msg(first_bad < 0, "%s: first differing token %lld (pyiqa scale %g, pos %g, mask %g): %s", c.name.c_str(),
                static_cast<long long>(first_bad), first_bad < 0 ? 0.0 : ref[first_bad * kTokenWidth + 3073],
                first_bad < 0 ? 0.0 : ref[first_bad * kTokenWidth + 3072],
                first_bad < 0 ? 0.0 : ref[first_bad * kTokenWidth + 3074], first_what.c_str());
}
END_TEST

// The same tokens straight from musiq_math.h, the way a CUDA thread per output
// value would compute them: each rescaled value as ATen does, a 4x4
// neighbourhood at a time (width sums inside, height sum outside), each
// native value from its byte, each position from the hash. Compared with
// pyiqa directly, so the header alone is checked, not only the CPU twin.
START_TEST(test_per_value_math) {
  const MusiqCase &c = g_cases[_i];
  const auto rgb = read_raw<uint8_t>(c.frame_file, static_cast<size_t>(c.width) * c.height * 3);
  const auto ref = read_raw<float>(c.ref_file, static_cast<size_t>(c.tokens) * kTokenWidth);
  std::vector<int> sides = c.sides;
  std::sort(sides.begin(), sides.end());
  const int scales = static_cast<int>(sides.size()) + 1;
  int64_t first = 0, checked = 0, bad = 0;
  std::string first_bad;
  for (int sid = 0; sid < scales; ++sid) {
    const bool native = sid == scales - 1;
    const s2s::MusiqSize size =
        native ? s2s::MusiqSize{c.height, c.width} : s2s::musiq_scaled_size(c.height, c.width, sides[sid]);
    const int rows = s2s::musiq_patch_count(size.height, 32), cols = s2s::musiq_patch_count(size.width, 32);
    const int top = s2s::musiq_pad_before(size.height, 32), left = s2s::musiq_pad_before(size.width, 32);
    int64_t capacity =
        native ? (c.max_seq >= 0 ? c.max_seq : static_cast<int64_t>(rows) * cols)
               : static_cast<int64_t>(s2s::musiq_patch_count(sides[sid], 32)) * s2s::musiq_patch_count(sides[sid], 32);
    const float sx = s2s::musiq_cubic_scale(c.width, size.width), sy = s2s::musiq_cubic_scale(c.height, size.height);
    auto pixel = [&](int x, int y, int ch) {
      return s2s::musiq_value_from_u8(rgb[(static_cast<size_t>(y) * c.width + x) * 3 + ch]);
    };
    for (int64_t k = 0; k < std::min<int64_t>(capacity, static_cast<int64_t>(rows) * cols); ++k) {
      const int pr = static_cast<int>(k / cols), pc = static_cast<int>(k % cols);
      const float *r = ref.data() + (first + k) * kTokenWidth;
      if (r[3072] != static_cast<float>(s2s::musiq_spatial_pos(pr, pc, rows, cols, 10)) ||
          r[3073] != static_cast<float>(sid) || r[3074] != 1.0f) {
        ++bad;
        if (first_bad.empty()) first_bad = "metadata of token " + std::to_string(first + k);
      }
      for (int i = 0; i < s2s::kMusiqTokenValues; ++i) {
        const int ch = i / 1024, y = pr * 32 + i / 32 % 32 - top, x = pc * 32 + i % 32 - left;
        float v = 0.0f;
        if (y >= 0 && y < size.height && x >= 0 && x < size.width) {
          if (native) {
            v = pixel(x, y, ch);
          } else {
            const s2s::MusiqCubicTap tx = s2s::musiq_cubic_tap(x, c.width, sx);
            const s2s::MusiqCubicTap ty = s2s::musiq_cubic_tap(y, c.height, sy);
            float across[4];
            for (int j = 0; j < 4; ++j) {
              const int row = ty.idx[j];
              across[j] = s2s::musiq_cubic_sum(pixel(tx.idx[0], row, ch), pixel(tx.idx[1], row, ch),
                                               pixel(tx.idx[2], row, ch), pixel(tx.idx[3], row, ch), tx.w);
            }
            v = s2s::musiq_cubic_sum(across[0], across[1], across[2], across[3], ty.w);
          }
        }
        ++checked;
        if (!same_bits(v, r[i]) && v != r[i] && (exact_reference() || !(std::fabs(v - r[i]) <= 1e-3))) {
          ++bad;
          if (first_bad.empty()) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "token %lld value %d: %.9g, pyiqa %.9g", static_cast<long long>(first + k),
                          i, v, r[i]);
            first_bad = buf;
          }
        }
      }
    }
    first += capacity;
  }
  ck_assert_int_eq(first, c.tokens);
  ck_assert_msg(bad == 0, "%s: %lld of %lld values differ; first: %s", c.name.c_str(), static_cast<long long>(bad),
                static_cast<long long>(checked), first_bad.c_str());
}
END_TEST

// The cases cover what they are meant to: the service's 1080p frame, a
// portrait, tiny and odd sizes, caps and other longer sides.
START_TEST(test_reference_coverage) {
  bool hd = false, portrait = false, tiny = false, cut = false, padded_cap = false, zero_cap = false, single = false;
  for (const MusiqCase &c : g_cases) {
    hd |= c.width == 1920 && c.height == 1080 && c.max_seq == -1 && c.tokens == 2233;
    portrait |= c.height > c.width;
    tiny |= c.width == 1 && c.height == 1;
    const int64_t patches = static_cast<int64_t>((c.width + 31) / 32) * ((c.height + 31) / 32);
    cut |= c.max_seq > 0 && c.max_seq < patches;
    padded_cap |= c.max_seq > patches;
    zero_cap |= c.max_seq == 0;
    single |= c.sides.size() == 1;
  }
  ck_assert(hd && portrait && tiny && cut && padded_cap && zero_cap && single);
  if (!exact_reference())
    std::printf("warning: the reference ran torch's %s CPU kernels, not AVX2: values are compared to 1e-3 only\n",
                g_capability.c_str());
}
END_TEST

// ---------------------------------------------------------------------------
// Counts, by the formula in the spec (independent of the implementation).
// ---------------------------------------------------------------------------
START_TEST(test_token_count) {
  s2s::MusiqPatchConfig config;
  ck_assert_int_eq(s2s::musiq_token_count(config, 1920, 1080), 49 + 144 + 2040);
  ck_assert_int_eq(s2s::musiq_token_count(config, 1080, 1920), 49 + 144 + 2040);
  ck_assert_int_eq(s2s::musiq_token_count(config, 1, 1), 49 + 144 + 1);
  ck_assert_int_eq(s2s::musiq_token_count(config, 33, 32), 49 + 144 + 2);
  ck_assert_int_eq(s2s::musiq_token_count(config, 0, 10), 0);
  ck_assert_int_eq(s2s::musiq_token_count(config, 10, -1), 0);
  config.max_seq_len = 16;
  ck_assert_int_eq(s2s::musiq_token_count(config, 1920, 1080), 49 + 144 + 16);
  ck_assert_int_eq(s2s::musiq_token_count(config, 1, 1), 49 + 144 + 16);  // padded up to the cap
  config.max_seq_len = 0;
  ck_assert_int_eq(s2s::musiq_token_count(config, 1920, 1080), 49 + 144);
  config.max_seq_len = -1;
  config.longer_sides = {256};
  ck_assert_int_eq(s2s::musiq_token_count(config, 1280, 720), 64 + 920);
  config.longer_sides = {100, 33};
  ck_assert_int_eq(s2s::musiq_token_count(config, 64, 64), 16 + 4 + 4);
}
END_TEST

// ---------------------------------------------------------------------------
// Determinism, complete output, row independence, memory bounds.
// ---------------------------------------------------------------------------
std::vector<uint8_t> random_frame(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (auto &b : rgb) b = static_cast<uint8_t>(rng() >> 24);
  return rgb;
}

// Two runs into buffers prefilled differently (NaN, then 12345) are bit-identical:
// every output element is written and nothing depends on the previous contents.
START_TEST(test_deterministic_and_complete) {
  const int sizes[][2] = {{333, 257}, {1920, 1080}, {31, 33}, {1, 300}};
  for (const auto &wh : sizes) {
    for (int cap : {-1, 7}) {
      s2s::MusiqPatchConfig config;
      config.max_seq_len = cap;
      const auto rgb = random_frame(wh[0], wh[1], 7);
      const int64_t n = s2s::musiq_token_count(config, wh[0], wh[1]);
      Tokens a(n), b(n, 12345.0f);
      run(rgb.data(), wh[0] * 3, wh[0], wh[1], config, a);
      run(rgb.data(), wh[0] * 3, wh[0], wh[1], config, b);
      ck_assert_msg(identical(a, b), "%dx%d cap %d: runs differ", wh[0], wh[1], cap);
      // (ck_assert marks a point on every call: one check for the lot.)
      const bool bounded = std::all_of(a.values.begin(), a.values.end(),
                                       [](float v) { return std::isfinite(v) && std::fabs(v) < 1.5f; });
      ck_assert_msg(bounded, "%dx%d cap %d: a value is unset or out of range", wh[0], wh[1], cap);
    }
  }
}
END_TEST

// Spec formula for the source rows an output row of a rescaled image reads:
// src = (y + 0.5) * in / out - 0.5, taps floor(src) - 1 .. floor(src) + 2
// (with one row of slack for float rounding).
int last_source_row(int y, int in, int out) {
  const double src = (y + 0.5) * in / out - 0.5;
  return static_cast<int>(std::floor(src)) + 3;
}

// Tokens only depend on the source rows under them: replacing the bottom rows
// of a frame leaves every token whose pixels read none of those rows
// bit-identical, and changes some of the others.
START_TEST(test_row_independence) {
  const int width = 333, height = 257, cut = 150;
  s2s::MusiqPatchConfig config;
  const auto a_rgb = random_frame(width, height, 1);
  auto b_rgb = a_rgb;
  std::mt19937 rng(2);
  for (size_t i = static_cast<size_t>(cut) * width * 3; i < b_rgb.size(); ++i)
    b_rgb[i] = static_cast<uint8_t>(rng() >> 24);
  const int64_t n = s2s::musiq_token_count(config, width, height);
  Tokens a(n), b(n);
  run(a_rgb.data(), width * 3, width, height, config, a);
  run(b_rgb.data(), width * 3, width, height, config, b);

  int64_t first = 0, unchanged = 0, changed = 0;
  const int sides[2] = {224, 384};
  for (int scale_id = 0; scale_id < 3; ++scale_id) {
    int out_h = height, out_w = width;
    int64_t capacity = static_cast<int64_t>((height + 31) / 32) * ((width + 31) / 32);
    if (scale_id < 2) {
      const double ratio = static_cast<double>(sides[scale_id]) / std::max(width, height);
      out_h = static_cast<int>(std::nearbyint(height * ratio));
      out_w = static_cast<int>(std::nearbyint(width * ratio));
      capacity = static_cast<int64_t>((sides[scale_id] + 31) / 32) * ((sides[scale_id] + 31) / 32);
    }
    const int rows = (out_h + 31) / 32, cols = (out_w + 31) / 32;
    const int top = (rows * 32 - out_h) / 2;
    for (int pr = 0; pr < rows; ++pr) {
      const int last_y = std::min(out_h - 1, (pr + 1) * 32 - 1 - top);
      const int reads_to = scale_id < 2 ? last_source_row(last_y, height, out_h) : last_y;
      for (int pc = 0; pc < cols; ++pc) {
        const int64_t k = first + static_cast<int64_t>(pr) * cols + pc;
        const bool same =
            std::memcmp(a.values.data() + k * s2s::kMusiqTokenValues, b.values.data() + k * s2s::kMusiqTokenValues,
                        sizeof(float) * s2s::kMusiqTokenValues) == 0;
        if (reads_to < cut) {
          ck_assert_msg(same, "scale %d patch row %d col %d changed though it reads rows < %d only", scale_id, pr, pc,
                        cut);
          ++unchanged;
        } else if (!same) {
          ++changed;
        }
      }
    }
    first += capacity;
  }
  ck_assert_msg(unchanged > 0 && changed > 0, "unchanged %lld, changed %lld", static_cast<long long>(unchanged),
                static_cast<long long>(changed));
  ck_assert(std::memcmp(a.pos.data(), b.pos.data(), sizeof(float) * n) == 0);
}
END_TEST

// The frame read ends exactly at an inaccessible page (then starts right after
// one): any read outside the rows' 3 * width bytes faults.
START_TEST(test_guard_pages) {
  const int sizes[][2] = {{333, 257}, {1, 1}, {31, 33}, {640, 360}};
  const long page = sysconf(_SC_PAGESIZE);
  for (const auto &wh : sizes) {
    const int width = wh[0], height = wh[1];
    const size_t bytes = static_cast<size_t>(width) * height * 3;
    const size_t span = (bytes + page - 1) / page * page;
    uint8_t *mem = static_cast<uint8_t *>(
        mmap(nullptr, span + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ck_assert(mem != MAP_FAILED);
    ck_assert_int_eq(mprotect(mem, page, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(mem + page + span, page, PROT_NONE), 0);
    const auto rgb = random_frame(width, height, 3);
    s2s::MusiqPatchConfig config;
    const int64_t n = s2s::musiq_token_count(config, width, height);
    Tokens ref(n), at_end(n), at_start(n);
    run(rgb.data(), width * 3, width, height, config, ref);
    uint8_t *end_aligned = mem + page + span - bytes;
    std::memcpy(end_aligned, rgb.data(), bytes);
    run(end_aligned, width * 3, width, height, config, at_end);
    uint8_t *start_aligned = mem + page;
    std::memcpy(start_aligned, rgb.data(), bytes);
    run(start_aligned, width * 3, width, height, config, at_start);
    ck_assert(identical(ref, at_end) && identical(ref, at_start));
    munmap(mem, span + 2 * page);
  }
}
END_TEST

// pyiqa fails on frames whose shorter side rescales to 0 pixels; we keep one
// row: the counts hold, the real patches are there and nothing is out of range.
START_TEST(test_extreme_aspect) {
  const int width = 3000, height = 2;
  s2s::MusiqPatchConfig config;
  const auto rgb = random_frame(width, height, 5);
  const int64_t n = s2s::musiq_token_count(config, width, height);
  ck_assert_int_eq(n, 49 + 144 + 94);
  Tokens out(n);
  run(rgb.data(), width * 3, width, height, config, out);
  // 224 x 0.15 (rounded to 1 row): 7 patches in one row; 384 x 0.256 -> 12.
  for (int64_t k = 0; k < 49; ++k) ck_assert_float_eq(out.mask[k], k < 7 ? 1.0f : 0.0f);
  for (int64_t k = 0; k < 144; ++k) ck_assert_float_eq(out.mask[49 + k], k < 12 ? 1.0f : 0.0f);
  ck_assert(std::all_of(out.values.begin(), out.values.end(), [](float v) { return std::isfinite(v); }));
}
END_TEST

// ---------------------------------------------------------------------------
// musiq_math.h by hand (values from Python / PyTorch).
// ---------------------------------------------------------------------------
START_TEST(test_math_by_hand) {
  // Python round(): half to even.
  ck_assert_int_eq(s2s::musiq_round_half_even(50.5), 50);
  ck_assert_int_eq(s2s::musiq_round_half_even(51.5), 52);
  ck_assert_int_eq(s2s::musiq_round_half_even(216.00000000000003), 216);
  ck_assert_int_eq(s2s::musiq_round_half_even(0.49999999999999994), 0);
  const s2s::MusiqSize hd = s2s::musiq_scaled_size(1080, 1920, 384);
  ck_assert(hd.height == 216 && hd.width == 384);
  const s2s::MusiqSize hd224 = s2s::musiq_scaled_size(1080, 1920, 224);
  ck_assert(hd224.height == 126 && hd224.width == 224);
  const s2s::MusiqSize half = s2s::musiq_scaled_size(101, 448, 224);  // 50.5 -> 50
  ck_assert(half.height == 50 && half.width == 224);
  // Value mapping: (v / 255 - 0.5) * 2 in float32.
  ck_assert(s2s::musiq_value_from_u8(0) == -1.0f && s2s::musiq_value_from_u8(255) == 1.0f);
  ck_assert(same_bits(s2s::musiq_value_from_u8(128), 0.00392162799835205078125f));
  // Hash: torch F.interpolate(arange(10), 34, 'nearest') -> 0 0 0 0 1 1 1 2 2 2 2 3 ...
  const int want34[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4,
                        5, 5, 5, 5, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 9, 9, 9};
  for (int i = 0; i < 34; ++i) ck_assert_int_eq(s2s::musiq_hash_index(i, 34, 10), want34[i]);
  const int want7[] = {0, 1, 2, 4, 5, 7, 8};
  for (int i = 0; i < 7; ++i) ck_assert_int_eq(s2s::musiq_hash_index(i, 7, 10), want7[i]);
  ck_assert_int_eq(s2s::musiq_spatial_pos(33, 59, 34, 60, 10), 99);
  ck_assert_int_eq(s2s::musiq_spatial_pos(1, 2, 2, 3, 10), 56);
  // Padding: 1080 -> 1088 (4 before), 333 -> 352 (9 before), 32 -> none.
  ck_assert_int_eq(s2s::musiq_pad_before(1080, 32), 4);
  ck_assert_int_eq(s2s::musiq_pad_before(333, 32), 9);
  ck_assert_int_eq(s2s::musiq_pad_before(32, 32), 0);
  // Same size: weights exactly (0, 1, 0, 0), taps d-1 .. d+2 clamped.
  const s2s::MusiqCubicTap id = s2s::musiq_cubic_tap(0, 5, s2s::musiq_cubic_scale(5, 5));
  ck_assert(id.w[0] == 0.0f && id.w[1] == 1.0f && id.w[2] == 0.0f && id.w[3] == 0.0f);
  ck_assert(id.idx[0] == 0 && id.idx[1] == 0 && id.idx[2] == 1 && id.idx[3] == 2);
  // 20 -> 27, output 5: PyTorch's AVX2 weights (one-hot inputs).
  const s2s::MusiqCubicTap t = s2s::musiq_cubic_tap(5, 20, s2s::musiq_cubic_scale(20, 27));
  ck_assert(t.idx[0] == 2 && t.idx[1] == 3 && t.idx[2] == 4 && t.idx[3] == 5);
  ck_assert(same_bits(t.w[0], -0.0781085491180419921875f));
  ck_assert(same_bits(t.w[1], 0.494978249073028564453125f));
  ck_assert(same_bits(t.w[2], 0.688406467437744140625f));
  ck_assert(same_bits(t.w[3], -0.1052763462066650390625f));
}
END_TEST

// ---------------------------------------------------------------------------
// Timing of the service's frame.
// ---------------------------------------------------------------------------
START_TEST(test_timing_1080p) {
  const int width = 1920, height = 1080;
  s2s::MusiqPatchConfig config;
  const auto rgb = random_frame(width, height, 11);
  const int64_t n = s2s::musiq_token_count(config, width, height);
  Tokens out(n, 0.0f);
  const int reps = 20;
  double best = 1e30, total = 0;
  const std::clock_t cpu0 = std::clock();
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run(rgb.data(), width * 3, width, height, config, out);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ms);
    total += ms;
  }
  const double cpu_ms = 1000.0 * static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC / reps;
  std::printf(
      "stat: 1920x1080 -> %lld tokens, single thread: best %.2f ms, mean %.2f ms wall, %.2f ms CPU a frame "
      "over %d runs\n",
      static_cast<long long>(n), best, total / reps, cpu_ms, reps);
}
END_TEST

Suite *musiq_suite() {
  Suite *s = suite_create("musiq-patches");
  const int n = static_cast<int>(g_cases.size());

  TCase *reference = tcase_create("pyiqa");
  tcase_add_test(reference, test_reference_coverage);
  tcase_add_loop_test(reference, test_reference_case, 0, n);
  tcase_add_loop_test(reference, test_per_value_math, 0, n);
  suite_add_tcase(s, reference);

  TCase *layout = tcase_create("layout");
  tcase_add_test(layout, test_token_count);
  tcase_add_test(layout, test_deterministic_and_complete);
  tcase_add_test(layout, test_row_independence);
  tcase_add_test(layout, test_guard_pages);
  tcase_add_test(layout, test_extreme_aspect);
  suite_add_tcase(s, layout);

  TCase *math = tcase_create("math");
  tcase_add_test(math, test_math_by_hand);
  tcase_add_test(math, test_timing_1080p);
  suite_add_tcase(s, math);
  return s;
}

}  // namespace

int main() {
  const char *dir = std::getenv("S2S_MUSIQ_DIR");
  if (!dir || !*dir) {
    std::fprintf(stderr, "S2S_MUSIQ_DIR is not set (the directory holding musiq-cases.txt)\n");
    return EXIT_FAILURE;
  }
  try {
    load_cases(dir);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cannot load the MUSIQ reference cases: %s\n", e.what());
    return EXIT_FAILURE;
  }
  std::printf("musiq reference: %zu cases from %s (torch CPU capability %s)\n", g_cases.size(), dir,
              g_capability.c_str());
  std::fflush(stdout);

  SRunner *sr = srunner_create(musiq_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
