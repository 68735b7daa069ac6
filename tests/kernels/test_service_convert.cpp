// GStreamer-free test of the service conversion (make_service_yuv_to_rgb,
// kernels/convert.cpp and s2s_math.h) against cv2.VideoCapture: the BGR
// frames it read from lossless clips made at test time by
// tests/reference/make_service_convert_golden.py (which documents
// service_convert_cases.txt), and cv2.COLOR_BGR2GRAY of them.
//
// Every case must be bit-exact, in RGB and in gray: through the CPU entry
// points (row bands of the gray fast path and of the RGB path), through the
// per-pixel functions a CUDA kernel calls (rgb_from_yuv / gray_from_yuv),
// and for the semi-planar and swapped-plane layouts of the same samples
// (YV12, NV12, NV21, NV16, NV24), which a software decoder would have
// handed to swscale as the planar format. Lines starting with "stat:" give
// the share of identical pixels of the colorimetry conversion, for scale.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "convert.h"
#include "frame.h"
#include "s2s_math.h"

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

using s2s::PixelFormat;

struct Case {
  std::string name, format, matrix, yuv_file, bgr_file;
  int width = 0, height = 0;
  bool full_range = false;
};

std::string g_dir;
std::vector<Case> g_cases;

std::vector<uint8_t> read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void load_cases(const std::string &dir) {
  g_dir = dir;
  std::ifstream in(dir + "/service_convert_cases.txt");
  if (!in) throw std::runtime_error("cannot open " + dir + "/service_convert_cases.txt");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string tag;
    Case c;
    int full = 0;
    if (!(ss >> tag >> c.name >> c.format >> c.width >> c.height >> full >> c.matrix >> c.yuv_file >> c.bgr_file) ||
        tag != "case")
      throw std::runtime_error("bad line: " + line);
    c.full_range = full != 0;
    g_cases.push_back(c);
  }
  if (g_cases.empty()) throw std::runtime_error("no cases");
}

// FFmpeg's matrix tag -> swscale's table entry (sws_getCoefficients).
s2s::SwscaleMatrix matrix_of(const std::string &tag) {
  if (tag == "bt709") return s2s::SwscaleMatrix::kBt709;
  if (tag == "fcc") return s2s::SwscaleMatrix::kFcc;
  if (tag == "smpte240m") return s2s::SwscaleMatrix::kSmpte240m;
  if (tag == "bt2020nc") return s2s::SwscaleMatrix::kBt2020;
  if (tag == "unknown" || tag == "bt470bg" || tag == "smpte170m") return s2s::SwscaleMatrix::kBt601;
  throw std::runtime_error("unknown matrix tag " + tag);
}

// A case's planes, and its layouts in the other formats of its subsampling.
struct Planes {
  int width, height, cw, ch;
  std::vector<uint8_t> y, u, v;
};

struct Layout {
  PixelFormat format;
  std::vector<uint8_t> p0, p1, p2;
  int64_t s0, s1, s2;
};

Planes load_planes(const Case &c) {
  Planes p;
  p.width = c.width;
  p.height = c.height;
  const int sx = c.format == "Y444" ? 0 : 1;
  const int sy = c.format == "I420" ? 1 : 0;
  p.cw = (c.width + sx) >> sx;
  p.ch = (c.height + sy) >> sy;
  const std::vector<uint8_t> raw = read_file(g_dir + "/" + c.yuv_file);
  const size_t ny = static_cast<size_t>(c.width) * c.height, nc = static_cast<size_t>(p.cw) * p.ch;
  if (raw.size() < ny + 2 * nc) throw std::runtime_error(c.name + ": short YUV file");
  p.y.assign(raw.begin(), raw.begin() + ny);
  p.u.assign(raw.begin() + ny, raw.begin() + ny + nc);
  p.v.assign(raw.begin() + ny + nc, raw.begin() + ny + 2 * nc);
  return p;
}

// Rows padded to `pad` extra bytes, so strides are honoured.
std::vector<Layout> layouts_of(const Case &c, const Planes &p, int pad) {
  auto padded = [pad](const std::vector<uint8_t> &plane, int w, int h, int64_t *stride) {
    *stride = w + pad;
    std::vector<uint8_t> out(static_cast<size_t>(*stride) * h, 0xA5);
    for (int r = 0; r < h; ++r)
      std::copy(plane.begin() + static_cast<size_t>(r) * w, plane.begin() + static_cast<size_t>(r + 1) * w,
                out.begin() + r * *stride);
    return out;
  };
  auto interleaved = [&p](bool u_first) {
    std::vector<uint8_t> out(static_cast<size_t>(p.cw) * 2 * p.ch);
    for (size_t i = 0; i < p.u.size(); ++i) {
      out[2 * i] = u_first ? p.u[i] : p.v[i];
      out[2 * i + 1] = u_first ? p.v[i] : p.u[i];
    }
    return out;
  };
  std::vector<Layout> out;
  Layout planar;
  planar.format = c.format == "I420" ? PixelFormat::kI420 : c.format == "Y42B" ? PixelFormat::kY42b : PixelFormat::kY444;
  planar.p0 = padded(p.y, p.width, p.height, &planar.s0);
  planar.p1 = padded(p.u, p.cw, p.ch, &planar.s1);
  planar.p2 = padded(p.v, p.cw, p.ch, &planar.s2);
  out.push_back(planar);
  if (c.format == "I420") {
    Layout yv12 = planar;
    yv12.format = PixelFormat::kYv12;  // V plane first
    std::swap(yv12.p1, yv12.p2);
    out.push_back(yv12);
  }
  const PixelFormat semi = c.format == "I420" ? PixelFormat::kNv12 : c.format == "Y42B" ? PixelFormat::kNv16 : PixelFormat::kNv24;
  for (int swap = 0; swap < (c.format == "I420" ? 2 : 1); ++swap) {
    Layout l;
    l.format = swap ? PixelFormat::kNv21 : semi;
    l.p0 = planar.p0;
    l.s0 = planar.s0;
    l.p1 = padded(interleaved(!swap), 2 * p.cw, p.ch, &l.s1);
    l.s2 = 0;
    out.push_back(l);
  }
  return out;
}

s2s::FrameView view_of(const Layout &l, int w, int h) {
  s2s::FrameView v;
  v.format = l.format;
  v.width = w;
  v.height = h;
  v.planes[0] = l.p0.data();
  v.strides[0] = l.s0;
  v.planes[1] = l.p1.data();
  v.strides[1] = l.s1;
  if (!l.p2.empty()) {
    v.planes[2] = l.p2.data();
    v.strides[2] = l.s2;
  }
  return v;
}

// cv2's gray of its BGR frame: COLOR_BGR2GRAY, the 15-bit table
std::vector<uint8_t> cv2_gray(const std::vector<uint8_t> &bgr) {
  std::vector<uint8_t> g(bgr.size() / 3);
  for (size_t i = 0; i < g.size(); ++i) g[i] = s2s::gray_from_rgb(bgr[3 * i + 2], bgr[3 * i + 1], bgr[3 * i]);
  return g;
}

struct Count {
  size_t bad = 0;
  long first = -1;
  void add(bool ok, long i) {
    if (!ok && bad++ == 0) first = i;
  }
};

START_TEST(test_cv2_exact) {
  const Case &c = g_cases[_i];
  const Planes p = load_planes(c);
  const std::vector<uint8_t> bgr = read_file(g_dir + "/" + c.bgr_file);
  ck_assert_uint_eq(bgr.size(), static_cast<size_t>(c.width) * c.height * 3);
  const std::vector<uint8_t> gray = cv2_gray(bgr);
  const size_t n = gray.size();
  for (const Layout &l : layouts_of(c, p, 13)) {
    const s2s::FrameView v = view_of(l, c.width, c.height);
    const s2s::YuvToRgb m = s2s::make_service_yuv_to_rgb(l.format, c.height, c.full_range, matrix_of(c.matrix));
    // Row bands of uneven sizes, as the engines split frames between threads.
    std::vector<uint8_t> rgb(n * 3), g(n);
    for (int r0 = 0; r0 < c.height; r0 += 37) {
      const int r1 = r0 + 37 < c.height ? r0 + 37 : c.height;
      s2s::convert_to_rgb_rows(v, m, rgb.data(), 3 * static_cast<int64_t>(c.width), r0, r1);
      s2s::convert_to_gray_rows(v, m, g.data(), c.width, r0, r1);
    }
    Count rgb_bad, gray_bad, pixel_bad;
    const s2s::FormatLayout fl = s2s::format_layout(l.format);
    for (int y = 0; y < c.height; ++y) {
      for (int x = 0; x < c.width; ++x) {
        const long i = static_cast<long>(y) * c.width + x;
        rgb_bad.add(rgb[3 * i] == bgr[3 * i + 2] && rgb[3 * i + 1] == bgr[3 * i + 1] && rgb[3 * i + 2] == bgr[3 * i],
                    i);
        gray_bad.add(g[i] == gray[i], i);
        // the per-pixel functions of the CUDA kernels
        const int cy = y >> fl.chroma_shift_y;
        const int64_t cx = static_cast<int64_t>(x >> fl.chroma_shift_x) * fl.uv_step;
        const int yy = v.planes[0][y * v.strides[0] + x];
        const int uu = v.planes[fl.u_plane][cy * v.strides[fl.u_plane] + cx + fl.u_offset];
        const int vv = v.planes[fl.v_plane][cy * v.strides[fl.v_plane] + cx + fl.v_offset];
        const s2s::Rgb8 px = s2s::rgb_from_yuv(m, yy, uu, vv);
        pixel_bad.add(px.r == bgr[3 * i + 2] && px.g == bgr[3 * i + 1] && px.b == bgr[3 * i] &&
                          s2s::gray_from_yuv(m, yy, uu, vv) == gray[i],
                      i);
      }
    }
    if (rgb_bad.bad || gray_bad.bad || pixel_bad.bad)
      ck_abort_msg("%s as %s: %zu RGB, %zu gray, %zu per-pixel mismatches of %zu (first at %ld / %ld / %ld)",
                   c.name.c_str(), s2s::format_name(l.format), rgb_bad.bad, gray_bad.bad, pixel_bad.bad, n,
                   rgb_bad.first, gray_bad.first, pixel_bad.first);
  }
  // For scale: the exact conversion with the same matrix against cv2.
  const std::vector<Layout> plain = layouts_of(c, p, 0);
  const Layout &planar = plain[0];
  const s2s::SwscaleMatrix sm = matrix_of(c.matrix);
  const double kr = sm == s2s::SwscaleMatrix::kBt709       ? 0.2126
                    : sm == s2s::SwscaleMatrix::kFcc       ? 0.30
                    : sm == s2s::SwscaleMatrix::kSmpte240m ? 0.212
                    : sm == s2s::SwscaleMatrix::kBt2020    ? 0.2627
                                                           : 0.299;
  const double kb = sm == s2s::SwscaleMatrix::kBt709       ? 0.0722
                    : sm == s2s::SwscaleMatrix::kFcc       ? 0.11
                    : sm == s2s::SwscaleMatrix::kSmpte240m ? 0.087
                    : sm == s2s::SwscaleMatrix::kBt2020    ? 0.0593
                                                           : 0.114;
  const s2s::YuvToRgb exact = s2s::make_yuv_to_rgb(kr, kb, c.full_range);
  std::vector<uint8_t> rgb(n * 3);
  s2s::convert_to_rgb_rows(view_of(planar, c.width, c.height), exact, rgb.data(), 3 * static_cast<int64_t>(c.width), 0,
                           c.height);
  size_t same = 0;
  for (size_t i = 0; i < n; ++i)
    same += rgb[3 * i] == bgr[3 * i + 2] && rgb[3 * i + 1] == bgr[3 * i + 1] && rgb[3 * i + 2] == bgr[3 * i];
  std::printf("stat: %s: service conversion bit-exact with cv2; exact conversion: %.2f %% identical pixels\n",
              c.name.c_str(), 100.0 * same / n);
}
END_TEST

// The coefficients swscale's table setup gives (libswscale yuv2rgb.c,
// SWS_CS_DEFAULT), spelled out: a check of the integer derivation that does
// not depend on any clip.
START_TEST(test_coefficients) {
  const s2s::YuvToRgb l = s2s::make_service_yuv_to_rgb(PixelFormat::kI420, 2, false);
  ck_assert_int_eq(l.method, s2s::kYuvSwscalePacked);
  ck_assert_int_eq(l.c_y, 9539);
  ck_assert_int_eq(l.c_rv, 13075);
  ck_assert_int_eq(l.c_bu, 16525);
  ck_assert_int_eq(l.c_gu, -3209);
  ck_assert_int_eq(l.c_gv, -6660);
  ck_assert_int_eq(l.y_offset, 128);
  const s2s::YuvToRgb f = s2s::make_service_yuv_to_rgb(PixelFormat::kY444, 2, true);
  ck_assert_int_eq(f.method, s2s::kYuvSwscaleFull);
  ck_assert_int_eq(f.c_y, 8192);
  ck_assert_int_eq(f.c_rv, 11485);
  ck_assert_int_eq(f.c_bu, 14516);
  ck_assert_int_eq(f.c_gu, -2819);
  ck_assert_int_eq(f.c_gv, -5850);
  ck_assert_int_eq(f.y_offset, 0);
  ck_assert_int_eq(s2s::make_service_yuv_to_rgb(PixelFormat::kY444, 2, false).y_offset, 16 << 9);
  // BT.709 from its table entry {117489, 138438, 13975, 34925}, limited range
  const s2s::YuvToRgb h = s2s::make_service_yuv_to_rgb(PixelFormat::kNv12, 2, false, s2s::SwscaleMatrix::kBt709);
  ck_assert_int_eq(h.c_rv, 14686);
  ck_assert_int_eq(h.c_bu, 17305);
  ck_assert_int_eq(h.c_gu, -1747);
  ck_assert_int_eq(h.c_gv, -4366);
}
END_TEST

Suite *service_suite() {
  Suite *s = suite_create("service_convert");
  TCase *t = tcase_create("cv2");
  tcase_add_loop_test(t, test_cv2_exact, 0, static_cast<int>(g_cases.size()));
  tcase_add_test(t, test_coefficients);
  suite_add_tcase(s, t);
  return s;
}

}  // namespace

int main() {
  const char *dir = std::getenv("S2S_SERVICE_GOLDEN_DIR");
  if (!dir || !*dir) {
    std::fprintf(stderr, "S2S_SERVICE_GOLDEN_DIR is not set (the directory of service_convert_cases.txt)\n");
    return EXIT_FAILURE;
  }
  try {
    load_cases(dir);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cannot load the service conversion cases: %s\n", e.what());
    return EXIT_FAILURE;
  }
  std::printf("service conversion golden: %zu cases from %s\n", g_cases.size(), dir);
  std::fflush(stdout);
  SRunner *sr = srunner_create(service_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
