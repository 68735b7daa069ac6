// GStreamer-free tests of the resize kernel (kernels/resize.h) against
// cv2.resize(INTER_LINEAR) outputs made at test time by
// tests/reference/make_resize_golden.py (which documents resize_cases.txt).
//
// The golden directory comes from the environment variable
// S2S_RESIZE_GOLDEN_DIR. Every case must be bit-exact: through the CPU entry
// point with packed rows, in row bands, with padded (strided) rows, and
// through the per-byte functions of resize_math.h that a CUDA kernel calls.
// Lines starting with "stat:" report mismatch counts and the timing of the
// service's case (1920x1080 RGB -> 256x256).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "resize.h"
#include "resize_math.h"

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

struct ResizeCase {
  std::string name, input, output;
  int channels = 0, src_w = 0, src_h = 0, dst_w = 0, dst_h = 0;
};

std::string g_dir;
std::vector<ResizeCase> g_cases;

int parse_positive(const std::string &s, int line) {
  char *end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < 1 || v > (1L << 20))
    throw std::runtime_error("resize_cases.txt:" + std::to_string(line) + ": bad size '" + s + "'");
  return static_cast<int>(v);
}

void load_cases(const std::string &dir) {
  g_dir = dir;
  const std::string path = dir + "/resize_cases.txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string text;
  int line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.empty() || text[0] == '#') continue;
    std::istringstream ss(text);
    std::vector<std::string> f;
    for (std::string tok; ss >> tok;) f.push_back(tok);
    if (f.size() != 8) throw std::runtime_error("resize_cases.txt:" + std::to_string(line_no) + ": needs 8 fields");
    ResizeCase c;
    c.name = f[0];
    c.channels = parse_positive(f[1], line_no);
    c.src_w = parse_positive(f[2], line_no);
    c.src_h = parse_positive(f[3], line_no);
    c.dst_w = parse_positive(f[4], line_no);
    c.dst_h = parse_positive(f[5], line_no);
    c.input = f[6];
    c.output = f[7];
    g_cases.push_back(c);
  }
}

std::vector<uint8_t> read_file(const std::string &rel, size_t expected) {
  const std::string path = g_dir + "/" + rel;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() != expected)
    throw std::runtime_error(path + ": " + std::to_string(data.size()) + " bytes, expected " +
                             std::to_string(expected));
  return data;
}

struct Loaded {
  ResizeCase c;
  std::vector<uint8_t> src, ref;  // packed rows
  int64_t src_row = 0, dst_row = 0;
};

Loaded load(int i) {
  Loaded l;
  l.c = g_cases.at(static_cast<size_t>(i));
  l.src_row = static_cast<int64_t>(l.c.src_w) * l.c.channels;
  l.dst_row = static_cast<int64_t>(l.c.dst_w) * l.c.channels;
  l.src = read_file(l.c.input, static_cast<size_t>(l.src_row * l.c.src_h));
  l.ref = read_file(l.c.output, static_cast<size_t>(l.dst_row * l.c.dst_h));
  return l;
}

// Compares `got` (rows got_stride bytes apart) with the packed reference;
// on a mismatch, fails with the number of differing bytes and the first one.
void expect_equal(const Loaded &l, const uint8_t *got, int64_t got_stride, const char *what) {
  int64_t diff = 0;
  int64_t first_x = -1, first_y = -1, first_c = -1;
  int got_v = 0, ref_v = 0;
  for (int y = 0; y < l.c.dst_h; ++y) {
    const uint8_t *g = got + y * got_stride;
    const uint8_t *r = l.ref.data() + y * l.dst_row;
    for (int64_t j = 0; j < l.dst_row; ++j) {
      if (g[j] == r[j]) continue;
      if (diff++ == 0) {
        first_x = j / l.c.channels;
        first_c = j % l.c.channels;
        first_y = y;
        got_v = g[j];
        ref_v = r[j];
      }
    }
  }
  if (diff != 0)
    std::printf("stat: %s %s: %lld of %lld bytes differ\n", what, l.c.name.c_str(), static_cast<long long>(diff),
                static_cast<long long>(l.dst_row * l.c.dst_h));
  ck_assert_msg(diff == 0, "%s %s: %lld bytes differ from cv2; first at x=%lld y=%lld c=%lld: %d, cv2 %d", what,
                l.c.name.c_str(), static_cast<long long>(diff), static_cast<long long>(first_x),
                static_cast<long long>(first_y), static_cast<long long>(first_c), got_v, ref_v);
}

// ---------------------------------------------------------------------------
// Tests (loop tests: one iteration per golden case)
// ---------------------------------------------------------------------------
START_TEST(test_golden_exact) {
  const Loaded l = load(_i);
  std::vector<uint8_t> out(l.ref.size(), 0);
  s2s::resize_linear_u8(l.src.data(), l.src_row, l.c.src_w, l.c.src_h, l.c.channels, out.data(), l.dst_row,
                        l.c.dst_w, l.c.dst_h, 0, l.c.dst_h);
  expect_equal(l, out.data(), l.dst_row, "packed");
}
END_TEST

// The output does not depend on how the rows are split into bands, and a
// band writes its own rows only: each band runs on a fresh destination, the
// rows outside it must stay untouched, and its rows are assembled into the
// frame that is compared with cv2.
START_TEST(test_band_split) {
  const Loaded l = load(_i);
  const int h = l.c.dst_h;
  constexpr uint8_t kUnwritten = 0x5a;
  // Band boundaries: halves, an uneven three-way split and one-row bands.
  std::vector<std::vector<int>> splits;
  splits.push_back({0, h / 2, h});
  splits.push_back({0, std::min(h, 1 + h / 7), std::min(h, 2 + (3 * h) / 5), h});
  if (h <= 300) {
    std::vector<int> rows;
    for (int y = 0; y <= h; ++y) rows.push_back(y);
    splits.push_back(rows);
  }
  std::vector<uint8_t> band_out(l.ref.size());
  for (const std::vector<int> &cuts : splits) {
    std::vector<uint8_t> out(l.ref.size(), 0);
    for (size_t b = 0; b + 1 < cuts.size(); ++b) {
      const int begin = cuts[b], end = cuts[b + 1];
      std::fill(band_out.begin(), band_out.end(), kUnwritten);
      s2s::resize_linear_u8(l.src.data(), l.src_row, l.c.src_w, l.c.src_h, l.c.channels, band_out.data(),
                            l.dst_row, l.c.dst_w, l.c.dst_h, begin, end);
      const size_t lo = static_cast<size_t>(begin * l.dst_row), hi = static_cast<size_t>(end * l.dst_row);
      int64_t outside = 0;
      for (size_t j = 0; j < lo; ++j) outside += band_out[j] != kUnwritten;
      for (size_t j = hi; j < band_out.size(); ++j) outside += band_out[j] != kUnwritten;
      ck_assert_msg(outside == 0, "%s: band [%d, %d) wrote %lld bytes outside its rows", l.c.name.c_str(), begin,
                    end, static_cast<long long>(outside));
      std::copy(band_out.begin() + static_cast<std::ptrdiff_t>(lo), band_out.begin() + static_cast<std::ptrdiff_t>(hi),
                out.begin() + static_cast<std::ptrdiff_t>(lo));
    }
    char what[64];
    std::snprintf(what, sizeof what, "%zu bands", cuts.size() - 1);
    expect_equal(l, out.data(), l.dst_row, what);
  }
}
END_TEST

// Buffers that end (and start) at an inaccessible page: any read before the
// source or past its last byte, or write outside the destination, faults
// (Check reports the signal). Source rows packed, so the last row ends at the
// guard page and the right-border tap of the last row is tested too.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t size) : size_(size) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t body = (size + page - 1) / page * page;
    total_ = body + 2 * page;
    void *p = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "mmap failed");
    base_ = static_cast<uint8_t *>(p);
    ck_assert_int_eq(mprotect(base_, page, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(base_ + page + body, page, PROT_NONE), 0);
    data_ = base_ + page + (body - size);  // ends right before the last guard page
  }
  ~GuardedBuffer() { munmap(base_, total_); }
  GuardedBuffer(const GuardedBuffer &) = delete;
  GuardedBuffer &operator=(const GuardedBuffer &) = delete;
  uint8_t *data() { return data_; }
  size_t size() const { return size_; }

 private:
  size_t size_, total_ = 0;
  uint8_t *base_ = nullptr, *data_ = nullptr;
};

START_TEST(test_guard_pages) {
  const Loaded l = load(_i);
  GuardedBuffer src(l.src.size()), dst(l.ref.size());
  std::copy(l.src.begin(), l.src.end(), src.data());
  s2s::resize_linear_u8(src.data(), l.src_row, l.c.src_w, l.c.src_h, l.c.channels, dst.data(), l.dst_row,
                        l.c.dst_w, l.c.dst_h, 0, l.c.dst_h);
  expect_equal(l, dst.data(), l.dst_row, "guarded");
}
END_TEST

// Padded rows in the source (filled with a sentinel that must never be read)
// and in the destination (which must not be written).
START_TEST(test_strided) {
  const Loaded l = load(_i);
  for (int pad : {1, 13, 64}) {
    const int64_t src_stride = l.src_row + pad, dst_stride = l.dst_row + pad + 3;
    // Sentinel: extreme values, alternating per byte, so reading one changes
    // the result wherever its weight is non-zero.
    std::vector<uint8_t> src(static_cast<size_t>(src_stride * l.c.src_h));
    for (size_t j = 0; j < src.size(); ++j) src[j] = (j & 1) ? 0xff : 0x00;
    for (int y = 0; y < l.c.src_h; ++y)
      std::copy(l.src.begin() + y * l.src_row, l.src.begin() + (y + 1) * l.src_row, src.begin() + y * src_stride);
    constexpr uint8_t kPadByte = 0xa7;
    std::vector<uint8_t> out(static_cast<size_t>(dst_stride * l.c.dst_h), kPadByte);
    s2s::resize_linear_u8(src.data(), src_stride, l.c.src_w, l.c.src_h, l.c.channels, out.data(), dst_stride,
                          l.c.dst_w, l.c.dst_h, 0, l.c.dst_h);
    char what[64];
    std::snprintf(what, sizeof what, "strided (pad %d)", pad);
    expect_equal(l, out.data(), dst_stride, what);
    int64_t pad_written = 0;
    for (int y = 0; y < l.c.dst_h; ++y)
      for (int64_t j = l.dst_row; j < dst_stride; ++j) pad_written += out[y * dst_stride + j] != kPadByte;
    ck_assert_msg(pad_written == 0, "%s: %lld destination padding bytes written", l.c.name.c_str(),
                  static_cast<long long>(pad_written));
  }
}
END_TEST

// The per-byte functions of resize_math.h, used the way a one-thread-per-byte
// CUDA kernel uses them (no row cache, taps recomputed per byte).
START_TEST(test_per_byte_math) {
  const Loaded l = load(_i);
  const ResizeCase &c = l.c;
  std::vector<uint8_t> out(l.ref.size(), 0);
  const s2s::ResizeMode mode = s2s::resize_mode(c.src_w, c.src_h, c.dst_w, c.dst_h);
  const double sx = s2s::resize_scale(c.src_w, c.dst_w), sy = s2s::resize_scale(c.src_h, c.dst_h);
  for (int y = 0; y < c.dst_h; ++y) {
    for (int x = 0; x < c.dst_w; ++x) {
      for (int ch = 0; ch < c.channels; ++ch) {
        uint8_t v = 0;
        switch (mode) {
          case s2s::ResizeMode::kCopy:
            v = l.src[static_cast<size_t>(y * l.src_row + static_cast<int64_t>(x) * c.channels + ch)];
            break;
          case s2s::ResizeMode::kHalf:
            v = s2s::resize_half_u8_at(l.src.data(), l.src_row, c.channels, x, y, ch);
            break;
          case s2s::ResizeMode::kLinear:
            v = s2s::resize_linear_u8_at(l.src.data(), l.src_row, c.channels,
                                         s2s::resize_linear_tap(x, c.src_w, sx, true),
                                         s2s::resize_linear_tap(y, c.src_h, sy, false), ch);
            break;
        }
        out[static_cast<size_t>(y * l.dst_row + static_cast<int64_t>(x) * c.channels + ch)] = v;
      }
    }
  }
  expect_equal(l, out.data(), l.dst_row, "per-byte");
}
END_TEST

// ---------------------------------------------------------------------------
// Single tests
// ---------------------------------------------------------------------------

// The golden set covers what it claims: the three paths, channels 1 and 3,
// and enough cases.
START_TEST(test_golden_coverage) {
  int mode_count[3] = {0, 0, 0};
  int rgb = 0, gray = 0;
  for (const ResizeCase &c : g_cases) {
    ++mode_count[static_cast<int>(s2s::resize_mode(c.src_w, c.src_h, c.dst_w, c.dst_h))];
    rgb += c.channels == 3;
    gray += c.channels == 1;
  }
  std::printf("stat: %zu golden cases: %d copy, %d 2x, %d linear; %d RGB, %d gray\n", g_cases.size(),
              mode_count[0], mode_count[1], mode_count[2], rgb, gray);
  ck_assert_int_ge(static_cast<int>(g_cases.size()), 40);
  ck_assert_int_ge(mode_count[0], 2);
  ck_assert_int_ge(mode_count[1], 4);
  ck_assert_int_ge(mode_count[2], 30);
  ck_assert_int_ge(rgb, 20);
  ck_assert_int_ge(gray, 10);
}
END_TEST

// Taps of a few positions worked out by hand from the documented rule.
START_TEST(test_taps_by_hand) {
  // 1920 -> 256: scale 7.5; dx = 0: f = 3.25 -> (3, 4), weights 1536/512.
  s2s::ResizeTap t = s2s::resize_linear_tap(0, 1920, s2s::resize_scale(1920, 256), true);
  ck_assert_int_eq(t.i0, 3);
  ck_assert_int_eq(t.i1, 4);
  ck_assert_int_eq(t.w0, 1536);
  ck_assert_int_eq(t.w1, 512);
  // 100 -> 256 horizontally: dx = 0: f = -0.3047 -> clamped to (0, 1), 2048/0.
  t = s2s::resize_linear_tap(0, 100, s2s::resize_scale(100, 256), true);
  ck_assert_int_eq(t.i0, 0);
  ck_assert_int_eq(t.i1, 1);
  ck_assert_int_eq(t.w0, 2048);
  ck_assert_int_eq(t.w1, 0);
  // Vertically the fraction is kept: floor = -1, f = 0.6953125 -> rows (0, 0),
  // weights round(0.3046875*2048) = 624 and round(0.6953125*2048) = 1424.
  t = s2s::resize_linear_tap(0, 100, s2s::resize_scale(100, 256), false);
  ck_assert_int_eq(t.i0, 0);
  ck_assert_int_eq(t.i1, 0);
  ck_assert_int_eq(t.w0, 624);
  ck_assert_int_eq(t.w1, 1424);
  // Right border: 100 -> 256, dx = 255: f = 99.3047 -> (99, 99), 2048/0.
  t = s2s::resize_linear_tap(255, 100, s2s::resize_scale(100, 256), true);
  ck_assert_int_eq(t.i0, 99);
  ck_assert_int_eq(t.i1, 99);
  ck_assert_int_eq(t.w0, 2048);
  ck_assert_int_eq(t.w1, 0);
  // 9835 -> 5463, dx = 0: f = 0.4001...; 1 - f rounds in float so that the
  // weights are 1228 + 819 = 2047 (what cv2 uses: the golden case shows it).
  t = s2s::resize_linear_tap(0, 9835, s2s::resize_scale(9835, 5463), true);
  ck_assert_int_eq(t.i0, 0);
  ck_assert_int_eq(t.i1, 1);
  ck_assert_int_eq(t.w0, 1228);
  ck_assert_int_eq(t.w1, 819);
  // Round half to even: 2.5 -> 2, 3.5 -> 4.
  ck_assert_int_eq(s2s::resize_round_half_even(2.5f), 2);
  ck_assert_int_eq(s2s::resize_round_half_even(3.5f), 4);
  ck_assert_int_eq(s2s::resize_round_half_even(3.49f), 3);
  ck_assert_int_eq(s2s::resize_round_half_even(3.51f), 4);
  ck_assert_int_eq(s2s::resize_round_half_even(0.0f), 0);
  // The vertical rule is OpenCV's SIMD one, not (S0*w0 + S1*w1 + 2^21) >> 22:
  // S0 = 431872, S1 = 393856 (pixels 248/182 and 212/177 at weights
  // 896/1152), row weights 1024/1024: (26992*1024 >> 16) + (24616*1024 >> 16)
  // = 421 + 384 = 805 -> (805 + 2) >> 2 = 201, where the scalar rule gives 202.
  ck_assert_int_eq(s2s::resize_hsum(248, 182, 896, 1152), 431872);
  ck_assert_int_eq(s2s::resize_hsum(212, 177, 896, 1152), 393856);
  ck_assert_int_eq(s2s::resize_vcombine_u8(431872, 393856, 1024, 1024), 201);
  ck_assert_int_eq(s2s::resize_vcombine_u8(2048 * 255, 2048 * 255, 1024, 1024), 255);
  ck_assert_int_eq(s2s::resize_vcombine_u8(2048 * 255, 0, 2048, 0), 255);
  ck_assert_int_eq(s2s::resize_vcombine_u8(0, 2048 * 255, 0, 2048), 255);
  // 2x mean: half up for 1/3/4 channels, half to even otherwise.
  ck_assert_int_eq(s2s::resize_half_mean_u8(2 + 4 * 10, 3), 11);
  ck_assert_int_eq(s2s::resize_half_mean_u8(2 + 4 * 10, 2), 10);
  ck_assert_int_eq(s2s::resize_half_mean_u8(2 + 4 * 11, 5), 12);
}
END_TEST

// Invalid arguments and empty row ranges write nothing; out-of-range row
// ranges are clipped to the frame.
START_TEST(test_degenerate_args) {
  std::vector<uint8_t> src(64 * 48 * 3, 77);
  std::vector<uint8_t> dst(32 * 20 * 3, 0x11);
  const std::vector<uint8_t> untouched = dst;
  s2s::resize_linear_u8(src.data(), 64 * 3, 64, 48, 3, dst.data(), 32 * 3, 32, 20, 5, 5);
  s2s::resize_linear_u8(src.data(), 64 * 3, 64, 48, 3, dst.data(), 32 * 3, 32, 20, 7, 3);
  s2s::resize_linear_u8(src.data(), 64 * 3, 64, 48, 3, dst.data(), 32 * 3, 32, 20, 20, 40);
  s2s::resize_linear_u8(src.data(), 64 * 3, 0, 48, 3, dst.data(), 32 * 3, 32, 20, 0, 20);
  s2s::resize_linear_u8(src.data(), 64 * 3, 64, 48, 0, dst.data(), 32 * 3, 32, 20, 0, 20);
  s2s::resize_linear_u8(nullptr, 64 * 3, 64, 48, 3, dst.data(), 32 * 3, 32, 20, 0, 20);
  ck_assert(dst == untouched);
  s2s::resize_linear_u8(src.data(), 64 * 3, 64, 48, 3, dst.data(), 32 * 3, 32, 20, -10, 100);
  for (uint8_t v : dst) ck_assert_int_eq(v, 77);  // constant in, constant out
}
END_TEST

// CPU time of the service's case; reported, not asserted.
START_TEST(test_timing_1080p) {
  const int w = 1920, h = 1080, d = 256;
  std::vector<uint8_t> src(static_cast<size_t>(w) * h * 3);
  uint32_t state = 12345;
  for (uint8_t &v : src) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<uint8_t>(state >> 24);
  }
  std::vector<uint8_t> dst(static_cast<size_t>(d) * d * 3);
  double best = 1e30, total = 0;
  const int reps = 50;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    s2s::resize_linear_u8(src.data(), w * 3, w, h, 3, dst.data(), d * 3, d, d, 0, d);
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, us);
    total += us;
  }
  std::printf("stat: 1920x1080 RGB -> 256x256 single thread: best %.1f us, mean %.1f us over %d runs\n", best,
              total / reps, reps);
}
END_TEST

Suite *resize_suite() {
  Suite *s = suite_create("resize");
  const int n = static_cast<int>(g_cases.size());

  TCase *golden = tcase_create("golden");
  tcase_add_test(golden, test_golden_coverage);
  tcase_add_loop_test(golden, test_golden_exact, 0, n);
  tcase_add_loop_test(golden, test_per_byte_math, 0, n);
  suite_add_tcase(s, golden);

  TCase *layout = tcase_create("layout");
  tcase_add_loop_test(layout, test_band_split, 0, n);
  tcase_add_loop_test(layout, test_strided, 0, n);
  tcase_add_loop_test(layout, test_guard_pages, 0, n);
  tcase_add_test(layout, test_degenerate_args);
  suite_add_tcase(s, layout);

  TCase *math = tcase_create("math");
  tcase_add_test(math, test_taps_by_hand);
  tcase_add_test(math, test_timing_1080p);
  suite_add_tcase(s, math);
  return s;
}

}  // namespace

int main() {
  const char *dir = std::getenv("S2S_RESIZE_GOLDEN_DIR");
  if (!dir || !*dir) {
    std::fprintf(stderr, "S2S_RESIZE_GOLDEN_DIR is not set (the directory holding resize_cases.txt)\n");
    return EXIT_FAILURE;
  }
  try {
    load_cases(dir);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cannot load the resize golden cases: %s\n", e.what());
    return EXIT_FAILURE;
  }
  std::printf("resize golden: %zu cases from %s\n", g_cases.size(), dir);
  std::fflush(stdout);

  SRunner *sr = srunner_create(resize_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
