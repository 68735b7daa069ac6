// LPIPS engine (LibTorch, no GStreamer) against the `lpips` package on the
// same weights and frames (lpips_reference.py, run at test time), plus model
// loading errors. Env: S2S_LPIPS_DIR (frames + lpips-cases.txt),
// S2S_LPIPS_WEIGHTS (random-weight file the reference used).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lpips_engine.h"

// After the C++ headers: check.h defines a fail() macro.
#include <check.h>

#include "packed_frames.h"

using namespace s2s;
using s2s_test::env;
using s2s_test::packed_view;
using s2s_test::read_file;

namespace {

struct Case {
  std::string name, format;
  int width = 0, height = 0, size = 0;
  std::vector<std::vector<uint8_t>> frames;
  std::vector<double> expected;  // expected[i]: frame i vs i-1; [0] unused
};

std::vector<Case> load_cases() {
  const std::string dir = env("S2S_LPIPS_DIR");
  std::ifstream in(dir + "/lpips-cases.txt");
  ck_assert_msg(in.good(), "no lpips-cases.txt in %s", dir.c_str());
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string word;
    s >> word;
    if (word == "case") {
      Case c;
      int n;
      s >> c.name >> c.format >> c.width >> c.height >> c.size >> n;
      c.expected.assign(n, NAN);
      cases.push_back(c);
    } else if (word == "frame") {
      int i;
      std::string file;
      s >> i >> file;
      cases.back().frames.push_back(read_file(dir + "/" + file));
    } else if (word == "pair") {
      int i;
      std::string value;
      s >> i >> value;
      cases.back().expected[i] = std::strtod(value.c_str(), nullptr);
    }
  }
  ck_assert_msg(!cases.empty(), "no cases");
  return cases;
}

FrameView view_of(const Case &c, size_t i) { return packed_view(c.format, c.width, c.height, c.frames[i]); }

std::unique_ptr<LpipsEngine> engine_or_fail(NetPrecision precision = NetPrecision::kFp32) {
  LpipsConfig config;
  config.model_path = env("S2S_LPIPS_WEIGHTS");
  config.precision = precision;
  std::string error;
  auto engine = make_lpips_engine(config, &error);
  ck_assert_msg(engine != nullptr, "load failed: %s", error.c_str());
  return engine;
}

// Scores a case in batches of `batch` frames; out[i] for frame i.
std::vector<double> run_case(LpipsEngine &engine, const Case &c, size_t batch) {
  StreamFormat format;
  format.format = view_of(c, 0).format;
  format.width = c.width;
  format.height = c.height;
  std::string error;
  ck_assert(engine.configure(format, c.size, &error));
  const size_t n = c.frames.size();
  std::vector<double> out(n, NAN);
  for (size_t start = 0; start < n; start += batch) {
    const size_t count = std::min(batch, n - start);
    std::vector<FrameView> views;
    std::vector<uint8_t> paired;
    for (size_t i = start; i < start + count; ++i) {
      views.push_back(view_of(c, i));
      paired.push_back(i > 0);
    }
    ck_assert_msg(engine.score(views.data(), paired.data(), count, out.data() + start, &error), "score: %s",
                  error.c_str());
  }
  return out;
}

}  // namespace

START_TEST(test_matches_lpips_package) {
  auto engine = engine_or_fail();
  double worst = 0;
  for (const Case &c : load_cases()) {
    const std::vector<double> got = run_case(*engine, c, c.frames.size());
    ck_assert_msg(std::isnan(got[0]), "%s: first frame has a value", c.name.c_str());
    for (size_t i = 1; i < got.size(); ++i) {
      const double diff = std::fabs(got[i] - c.expected[i]);
      worst = std::max(worst, diff);
      ck_assert_msg(diff <= 1e-4, "%s frame %zu: lpips %.9g, lpips package %.9g (|diff| %.3g > 1e-4)",
                    c.name.c_str(), i, got[i], c.expected[i], diff);
    }
  }
  std::printf("lpips: worst |ours - lpips package| = %.3g\n", worst);
}
END_TEST

START_TEST(test_batch_one_equals_batch_all) {
  auto engine = engine_or_fail();
  double worst = 0;
  for (const Case &c : load_cases()) {
    const std::vector<double> all = run_case(*engine, c, c.frames.size());
    const std::vector<double> one = run_case(*engine, c, 1);
    for (size_t i = 1; i < all.size(); ++i) {
      worst = std::max(worst, std::fabs(all[i] - one[i]));
      // Convolution algorithms may change with the batch size; well below
      // the 1e-4 bar against the reference.
      ck_assert_msg(std::fabs(all[i] - one[i]) <= 1e-6, "%s frame %zu: batch %zu gives %.9g, batch 1 %.9g",
                    c.name.c_str(), i, c.frames.size(), all[i], one[i]);
    }
  }
  std::printf("lpips: worst |batch n - batch 1| = %.3g\n", worst);
}
END_TEST

START_TEST(test_reduced_precision) {
  // fp16 and bf16 run on the CPU too; their deviation from fp32 is measured
  // (and printed for docs/metrics.md), not assumed.
  auto fp32 = engine_or_fail(NetPrecision::kFp32);
  const struct {
    NetPrecision precision;
    const char *name;
  } reduced[] = {{NetPrecision::kFp16, "fp16"}, {NetPrecision::kBf16, "bf16"}};
  for (const auto &r : reduced) {
    auto engine = engine_or_fail(r.precision);
    double worst = 0;
    for (const Case &c : load_cases()) {
      const std::vector<double> a = run_case(*fp32, c, c.frames.size());
      const std::vector<double> b = run_case(*engine, c, c.frames.size());
      for (size_t i = 1; i < a.size(); ++i) {
        ck_assert_msg(std::isfinite(b[i]), "%s %s frame %zu: %g", r.name, c.name.c_str(), i, b[i]);
        worst = std::max(worst, std::fabs(a[i] - b[i]) / a[i]);
      }
    }
    std::printf("lpips: %s worst relative deviation from fp32 = %.3g\n", r.name, worst);
    ck_assert_msg(worst < 0.05, "%s deviates %.3g relative from fp32", r.name, worst);
  }
}
END_TEST

namespace {

// A safetensors file with one F32 tensor of the given shape and metadata.
std::string write_file(const std::string &name, const std::string &tensor, const std::vector<int64_t> &shape,
                       const std::string &model) {
  int64_t n = 1;
  std::string dims;
  for (int64_t d : shape) {
    n *= d;
    dims += (dims.empty() ? "" : ",") + std::to_string(d);
  }
  const std::string header = "{\"__metadata__\":{\"model\":\"" + model + "\"},\"" + tensor +
                             "\":{\"dtype\":\"F32\",\"shape\":[" + dims + "],\"data_offsets\":[0," +
                             std::to_string(n * 4) + "]}}";
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" + name;
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = header.size();
  out.write(reinterpret_cast<const char *>(&len), 8);
  out << header;
  std::vector<float> zeros(static_cast<size_t>(n), 0.25f);
  out.write(reinterpret_cast<const char *>(zeros.data()), n * 4);
  return path;
}

std::string load_error(const std::string &path) {
  LpipsConfig config;
  config.model_path = path;
  std::string error;
  auto engine = make_lpips_engine(config, &error);
  ck_assert_msg(engine == nullptr, "%s loaded", path.c_str());
  return error;
}

}  // namespace

START_TEST(test_load_errors) {
  std::string e = load_error("/nonexistent/lpips.safetensors");
  ck_assert_msg(e.find("/nonexistent/lpips.safetensors") != std::string::npos, "error: %s", e.c_str());

  e = load_error(write_file("s2s-wrong-model.safetensors", "features.0.weight", {64, 3, 11, 11}, "musiq"));
  ck_assert_msg(e.find("lpips-alex") != std::string::npos, "error: %s", e.c_str());

  e = load_error(write_file("s2s-wrong-shape.safetensors", "features.0.weight", {64, 3, 11, 10}, "lpips-alex"));
  ck_assert_msg(e.find("features.0.weight") != std::string::npos && e.find("11,10") != std::string::npos,
                "error: %s", e.c_str());

  e = load_error(write_file("s2s-missing.safetensors", "features.0.weight", {64, 3, 11, 11}, "lpips-alex"));
  ck_assert_msg(e.find("features.0.bias") != std::string::npos && e.find("missing") != std::string::npos,
                "error: %s", e.c_str());
}
END_TEST

int main() {
  Suite *s = suite_create("lpips-engine");
  TCase *tc = tcase_create("lpips");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_matches_lpips_package);
  tcase_add_test(tc, test_batch_one_equals_batch_all);
  tcase_add_test(tc, test_reduced_precision);
  tcase_add_test(tc, test_load_errors);
  suite_add_tcase(s, tc);
  SRunner *runner = srunner_create(s);
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? 0 : 1;
}
