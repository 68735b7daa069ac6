// MUSIQ (LibTorch, no GStreamer) against pyiqa's own MUSIQ on the same
// random weights and frames (pyiqa_reference.py, run at test time): the
// network alone on pyiqa's tokens, the patching against pyiqa's tokens, the
// whole engine on frames, batches, reduced precision, and model errors.
// Env: S2S_MUSIQ_DIR (frames, tokens, <weights>.txt), S2S_MUSIQ_WEIGHTS (one
// output, koniq10k), S2S_MUSIQ_WEIGHTS_AVA (10 classes).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "musiq.h"
#include "musiq_engine.h"
#include "musiq_patches.h"
#include "safetensors.h"

// After the C++ headers: check.h defines a fail() macro.
#include <check.h>

#include "packed_frames.h"

using namespace s2s;
using s2s_test::env;
using s2s_test::packed_view;
using s2s_test::read_file;

namespace {

// Relative, against pyiqa. The fp32 differences are ~1e-7; the tanh GELU
// instead of the exact one already shifts these scores by 1e-5 or more.
constexpr double kTolerance = 1e-5;

struct Case {
  std::string name, format;
  int width = 0, height = 0;
  std::vector<std::string> files;
  std::vector<std::vector<uint8_t>> frames;
  std::vector<double> expected;
};

struct Reference {
  std::vector<Case> cases;
  std::string token_file;
  double token_score = NAN;
};

std::string stem(const std::string &path) {
  const size_t slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return base.substr(0, base.find('.'));
}

// Reference values pyiqa gave with the weights at `weights`.
Reference load_reference(const std::string &weights) {
  const std::string dir = env("S2S_MUSIQ_DIR");
  const std::string list = dir + "/" + stem(weights) + ".txt";
  std::ifstream in(list);
  ck_assert_msg(in.good(), "cannot read %s", list.c_str());
  Reference ref;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string word;
    s >> word;
    if (word == "case") {
      Case c;
      int n;
      s >> c.name >> c.format >> c.width >> c.height >> n;
      ref.cases.push_back(c);
    } else if (word == "frame") {
      int i;
      std::string file, value;
      s >> i >> file >> value;
      ref.cases.back().files.push_back(file);
      ref.cases.back().frames.push_back(read_file(dir + "/" + file));
      ref.cases.back().expected.push_back(std::strtod(value.c_str(), nullptr));
    } else if (word == "tokens") {
      std::string value;
      s >> ref.token_file >> value;
      ref.token_score = std::strtod(value.c_str(), nullptr);
    }
  }
  ck_assert_msg(ref.cases.size() >= 5, "%s: %zu cases", list.c_str(), ref.cases.size());
  ck_assert_msg(!ref.token_file.empty(), "%s: no tokens line", list.c_str());
  return ref;
}

FrameView view_of(const Case &c, size_t i) { return packed_view(c.format, c.width, c.height, c.frames[i]); }

std::unique_ptr<MusiqEngine> engine_or_fail(const std::string &weights, NetPrecision precision = NetPrecision::kFp32) {
  MusiqConfig config;
  config.model_path = weights;
  config.precision = precision;
  std::string error;
  auto engine = make_musiq_engine(config, &error);
  ck_assert_msg(engine != nullptr, "load failed: %s", error.c_str());
  return engine;
}

// Scores a case in batches of `batch` frames; out[i] for frame i.
std::vector<double> run_case(MusiqEngine &engine, const Case &c, size_t batch) {
  StreamFormat format;
  format.format = view_of(c, 0).format;
  format.width = c.width;
  format.height = c.height;
  std::string error;
  ck_assert_msg(engine.configure(format, &error), "configure: %s", error.c_str());
  const size_t n = c.frames.size();
  std::vector<double> out(n, NAN);
  for (size_t start = 0; start < n; start += batch) {
    const size_t count = std::min(batch, n - start);
    std::vector<FrameView> views;
    for (size_t i = start; i < start + count; ++i) views.push_back(view_of(c, i));
    ck_assert_msg(engine.score(views.data(), count, out.data() + start, &error), "score: %s", error.c_str());
  }
  return out;
}

double rel_diff(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1.0); }

// pyiqa's tokens of one frame: [T][3072 + 3] (values, position, scale, mask).
torch::Tensor load_tokens(const Reference &ref) {
  const std::vector<uint8_t> bytes = read_file(env("S2S_MUSIQ_DIR") + "/" + ref.token_file);
  const int64_t row = kMusiqTokenValues + 3;
  ck_assert_msg(!bytes.empty() && bytes.size() % (row * 4) == 0, "%s: %zu bytes", ref.token_file.c_str(), bytes.size());
  const int64_t t = static_cast<int64_t>(bytes.size()) / (row * 4);
  torch::Tensor all = torch::empty({t, row}, torch::kFloat32);
  std::memcpy(all.data_ptr<float>(), bytes.data(), bytes.size());
  return all;
}

std::vector<std::string> weight_files() { return {env("S2S_MUSIQ_WEIGHTS"), env("S2S_MUSIQ_WEIGHTS_AVA")}; }

}  // namespace

START_TEST(test_network_on_pyiqa_tokens) {
  // The network alone, on the tokens pyiqa's get_multiscale_patches made.
  for (const std::string &weights : weight_files()) {
    const Reference ref = load_reference(weights);
    std::string error;
    auto file = SafetensorsFile::open(weights, &error);
    ck_assert_msg(file != nullptr, "%s", error.c_str());
    MusiqFileInfo info;
    ck_assert_msg(musiq_file_info(*file, &info, &error), "%s", error.c_str());
    MusiqNet net(info.num_classes);
    ck_assert_msg(net->load(*file, &error), "%s", error.c_str());
    net->eval();
    net->place(torch::kCPU, torch::kFloat32);

    const torch::Tensor all = load_tokens(ref);
    const int64_t t = all.size(0);
    const torch::Tensor mask = all.select(1, kMusiqTokenValues + 2);
    const int64_t padding = (mask == 0).sum().item<int64_t>();
    // 512x384 has padding tokens in both rescaled scales (42 of 49, 108 of 144).
    ck_assert_msg(padding == 7 + 36, "%lld padding tokens of %lld", static_cast<long long>(padding),
                  static_cast<long long>(t));
    c10::InferenceMode guard;
    const auto run = [&](const torch::Tensor &rows, int64_t chunk) {
      return net->forward(rows.narrow(1, 0, kMusiqTokenValues).unsqueeze(0),
                          rows.select(1, kMusiqTokenValues).unsqueeze(0),
                          rows.select(1, kMusiqTokenValues + 1).unsqueeze(0),
                          rows.select(1, kMusiqTokenValues + 2).unsqueeze(0), chunk)
          .item<double>();
    };
    const double got = run(all, 2048);
    const double diff = rel_diff(got, ref.token_score);
    std::printf("musiq %s: network on pyiqa tokens %.9g, pyiqa %.9g (rel diff %.3g)\n", info.variant.c_str(), got,
                ref.token_score, diff);
    ck_assert_msg(diff <= kTolerance, "%s: network on pyiqa tokens %.9g, pyiqa %.9g (rel %.3g > %g)",
                  info.variant.c_str(), got, ref.token_score, diff, kTolerance);
    // The stem in small chunks gives the same.
    const double chunked = run(all, 50);
    ck_assert_msg(rel_diff(chunked, got) <= 1e-6, "stem chunks: %.9g vs %.9g", chunked, got);
    // The mask matters: unmasking the padding changes the score.
    torch::Tensor unmasked = all.clone();
    unmasked.select(1, kMusiqTokenValues + 2).fill_(1.0f);
    const double changed = run(unmasked, 2048);
    ck_assert_msg(rel_diff(changed, got) > 10 * kTolerance, "mask ignored: %.9g vs %.9g", changed, got);
  }
}
END_TEST

START_TEST(test_patches_match_pyiqa_tokens) {
  // The tokens musiq_patches() builds from the frame pyiqa's tokens came
  // from (rgb-512x384 frame 0); isolates the patching from the network.
  const Reference ref = load_reference(env("S2S_MUSIQ_WEIGHTS"));
  const Case *c = nullptr;
  for (const Case &k : ref.cases)
    if (k.name == "rgb-512x384") c = &k;
  ck_assert(c != nullptr);
  const torch::Tensor all = load_tokens(ref);
  MusiqPatchConfig config;
  const int64_t t = musiq_token_count(config, c->width, c->height);
  ck_assert_int_eq(t, all.size(0));
  std::vector<float> tokens(static_cast<size_t>(t) * kMusiqTokenValues), pos(t), scale(t), mask(t);
  musiq_patches(c->frames[0].data(), static_cast<int64_t>(c->width) * 3, c->width, c->height, config, tokens.data(),
                pos.data(), scale.data(), mask.data());
  const float *want = all.data_ptr<float>();
  double worst = 0;
  for (int64_t k = 0; k < t; ++k) {
    const float *row = want + k * (kMusiqTokenValues + 3);
    ck_assert_msg(pos[k] == row[kMusiqTokenValues] && scale[k] == row[kMusiqTokenValues + 1] &&
                      mask[k] == row[kMusiqTokenValues + 2],
                  "token %lld: pos/scale/mask %g/%g/%g, pyiqa %g/%g/%g", static_cast<long long>(k), pos[k], scale[k],
                  mask[k], row[kMusiqTokenValues], row[kMusiqTokenValues + 1], row[kMusiqTokenValues + 2]);
    for (int v = 0; v < kMusiqTokenValues; ++v)
      worst = std::max(worst, static_cast<double>(std::fabs(tokens[k * kMusiqTokenValues + v] - row[v])));
  }
  std::printf("musiq: worst |musiq_patches - pyiqa tokens| = %.3g\n", worst);
  ck_assert_msg(worst <= 1e-5, "patches differ from pyiqa's by %.3g", worst);
}
END_TEST

START_TEST(test_engine_matches_pyiqa) {
  for (const std::string &weights : weight_files()) {
    auto engine = engine_or_fail(weights);
    ck_assert_str_eq(engine->device_name().c_str(), "cpu");
    const Reference ref = load_reference(weights);
    double worst = 0;
    for (const Case &c : ref.cases) {
      const auto start = std::chrono::steady_clock::now();
      const std::vector<double> got = run_case(*engine, c, c.frames.size());
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (size_t i = 0; i < got.size(); ++i) {
        const double diff = rel_diff(got[i], c.expected[i]);
        worst = std::max(worst, diff);
        ck_assert_msg(diff <= kTolerance, "%s %s frame %zu: musiq %.9g, pyiqa %.9g (rel diff %.3g > %g)",
                      engine->variant().c_str(), c.name.c_str(), i, got[i], c.expected[i], diff, kTolerance);
      }
      std::printf("musiq %s %s: %zu frames in %.2f s\n", engine->variant().c_str(), c.name.c_str(), got.size(), secs);
    }
    std::printf("musiq %s: worst relative |ours - pyiqa| = %.3g\n", engine->variant().c_str(), worst);
  }
}
END_TEST

START_TEST(test_variants) {
  ck_assert_str_eq(engine_or_fail(env("S2S_MUSIQ_WEIGHTS"))->variant().c_str(), "koniq10k");
  ck_assert_str_eq(engine_or_fail(env("S2S_MUSIQ_WEIGHTS_AVA"))->variant().c_str(), "ava");
}
END_TEST

START_TEST(test_batch_equals_single) {
  auto engine = engine_or_fail(env("S2S_MUSIQ_WEIGHTS_AVA"));
  const Reference ref = load_reference(env("S2S_MUSIQ_WEIGHTS_AVA"));
  double worst = 0;
  int compared = 0;
  for (const Case &c : ref.cases) {
    if (c.width * c.height > 640 * 360) continue;  // keep the test short
    const std::vector<double> all = run_case(*engine, c, c.frames.size());
    const std::vector<double> one = run_case(*engine, c, 1);
    for (size_t i = 0; i < all.size(); ++i) {
      worst = std::max(worst, rel_diff(all[i], one[i]));
      // Product blockings may change with the batch: far below the bar
      // against pyiqa.
      ck_assert_msg(rel_diff(all[i], one[i]) <= 1e-6, "%s frame %zu: batch %zu gives %.9g, batch 1 %.9g",
                    c.name.c_str(), i, c.frames.size(), all[i], one[i]);
      ++compared;
    }
    // Frames differ, so their scores do.
    ck_assert_msg(all[0] != all[1], "%s: frames 0 and 1 score the same", c.name.c_str());
  }
  ck_assert_int_ge(compared, 8);
  std::printf("musiq: worst relative |batch n - batch 1| = %.3g\n", worst);
}
END_TEST

START_TEST(test_reduced_precision) {
  // fp16 and bf16 run on the CPU too; their deviation from fp32 is measured
  // and printed, not assumed.
  const Reference ref = load_reference(env("S2S_MUSIQ_WEIGHTS"));
  const Case &c = ref.cases[1];  // 512x384
  auto fp32 = engine_or_fail(env("S2S_MUSIQ_WEIGHTS"));
  const std::vector<double> a = run_case(*fp32, c, c.frames.size());
  const struct {
    NetPrecision precision;
    const char *name;
  } reduced[] = {{NetPrecision::kFp16, "fp16"}, {NetPrecision::kBf16, "bf16"}};
  for (const auto &r : reduced) {
    auto engine = engine_or_fail(env("S2S_MUSIQ_WEIGHTS"), r.precision);
    const std::vector<double> b = run_case(*engine, c, c.frames.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      ck_assert_msg(std::isfinite(b[i]), "%s frame %zu: %g", r.name, i, b[i]);
      worst = std::max(worst, rel_diff(b[i], a[i]));
    }
    std::printf("musiq: %s worst relative deviation from fp32 = %.3g\n", r.name, worst);
    ck_assert_msg(worst < 0.05, "%s deviates %.3g relative from fp32", r.name, worst);
  }
}
END_TEST

START_TEST(test_score_needs_configure) {
  auto engine = engine_or_fail(env("S2S_MUSIQ_WEIGHTS"));
  const Reference ref = load_reference(env("S2S_MUSIQ_WEIGHTS"));
  const FrameView view = view_of(ref.cases[0], 0);
  double score = 0;
  std::string error;
  ck_assert(!engine->score(&view, 1, &score, &error));
  ck_assert_msg(error.find("configure") != std::string::npos, "error: %s", error.c_str());
  StreamFormat bad;
  bad.format = PixelFormat::kRgb;
  ck_assert(!engine->configure(bad, &error));
  // An empty batch is fine.
  ck_assert(engine->score(nullptr, 0, nullptr, &error));
}
END_TEST

namespace {

// A tensor to write: name, dtype text, shape, bytes.
struct OutTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

std::string json_escape(const std::string &s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

void write_safetensors(const std::string &path, const std::map<std::string, std::string> &metadata,
                       const std::vector<OutTensor> &tensors) {
  std::string header = "{\"__metadata__\":{";
  bool first = true;
  for (const auto &kv : metadata) {
    header += (first ? "\"" : ",\"") + json_escape(kv.first) + "\":\"" + json_escape(kv.second) + "\"";
    first = false;
  }
  header += "}";
  size_t offset = 0;
  for (const OutTensor &t : tensors) {
    std::string dims;
    for (int64_t d : t.shape) dims += (dims.empty() ? "" : ",") + std::to_string(d);
    header += ",\"" + json_escape(t.name) + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + dims +
              "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.data.size()) + "]}";
    offset += t.data.size();
  }
  header += "}";
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = header.size();
  out.write(reinterpret_cast<const char *>(&len), 8);
  out << header;
  for (const OutTensor &t : tensors) out.write(reinterpret_cast<const char *>(t.data.data()), t.data.size());
  ck_assert_msg(out.good(), "cannot write %s", path.c_str());
}

// The tensors and metadata of a valid file, to be broken one way each.
struct Model {
  std::map<std::string, std::string> metadata;
  std::vector<OutTensor> tensors;
  OutTensor *find(const std::string &name) {
    for (OutTensor &t : tensors)
      if (t.name == name) return &t;
    ck_abort_msg("no tensor %s", name.c_str());
    return nullptr;
  }
};

Model read_model(const std::string &path) {
  std::string error;
  auto file = SafetensorsFile::open(path, &error);
  ck_assert_msg(file != nullptr, "%s", error.c_str());
  Model m;
  m.metadata = file->metadata();
  for (const TensorView &v : file->tensors())
    m.tensors.push_back({v.name, dtype_name(v.dtype), v.shape, std::vector<uint8_t>(v.data, v.data + v.nbytes)});
  return m;
}

std::string tmp_path(const std::string &name) {
  return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/s2s-musiq-" + name + ".safetensors";
}

std::string load_error(const std::string &path, const MusiqPatchConfig &patches = MusiqPatchConfig()) {
  MusiqConfig config;
  config.model_path = path;
  config.patches = patches;
  std::string error;
  auto engine = make_musiq_engine(config, &error);
  ck_assert_msg(engine == nullptr, "%s loaded", path.c_str());
  ck_assert_msg(error.find('\n') == std::string::npos, "multi-line error: %s", error.c_str());
  return error;
}

// Writes `m` as `name`, expects loading to fail with an error holding the
// path and every one of `words`.
void expect_error(const Model &m, const std::string &name, const std::vector<std::string> &words) {
  const std::string path = tmp_path(name);
  write_safetensors(path, m.metadata, m.tensors);
  const std::string e = load_error(path);
  ck_assert_msg(e.find(path) != std::string::npos, "%s: error without the path: %s", name.c_str(), e.c_str());
  for (const std::string &w : words)
    ck_assert_msg(e.find(w) != std::string::npos, "%s: error lacks '%s': %s", name.c_str(), w.c_str(), e.c_str());
  std::remove(path.c_str());
}

}  // namespace

START_TEST(test_load_errors) {
  std::string e = load_error("/nonexistent/musiq.safetensors");
  ck_assert_msg(e.find("/nonexistent/musiq.safetensors") != std::string::npos, "error: %s", e.c_str());

  const Model good = read_model(env("S2S_MUSIQ_WEIGHTS"));
  const Model ava = read_model(env("S2S_MUSIQ_WEIGHTS_AVA"));
  ck_assert_uint_eq(good.tensors.size(), 248);
  ck_assert_uint_eq(ava.tensors.size(), 248);
  {
    // Sanity: the untouched copy loads (so the failures below are the edits').
    const std::string path = tmp_path("good");
    write_safetensors(path, good.metadata, good.tensors);
    MusiqConfig config;
    config.model_path = path;
    std::string error;
    ck_assert_msg(make_musiq_engine(config, &error) != nullptr, "copy does not load: %s", error.c_str());
    std::remove(path.c_str());
  }
  {
    Model m = good;
    m.metadata["model"] = "lpips-alex";
    expect_error(m, "wrong-model", {"musiq", "lpips-alex"});
  }
  {
    Model m = good;
    m.metadata["variant"] = "koniq";
    expect_error(m, "unknown-variant", {"koniq"});
  }
  {
    // Variant ava on a one-output file: num-classes 1 does not fit.
    Model m = good;
    m.metadata["variant"] = "ava";
    expect_error(m, "variant-vs-classes", {"num-classes", "ava"});
  }
  {
    // Metadata says ava with 10 classes, the head has one output.
    Model m = good;
    m.metadata["variant"] = "ava";
    m.metadata["num-classes"] = "10";
    expect_error(m, "variant-vs-head", {"head.0.weight", "head.weight"});
  }
  {
    // Metadata says koniq10k with one output, the head has 10 under 'head.'.
    Model m = ava;
    m.metadata["variant"] = "koniq10k";
    m.metadata["num-classes"] = "1";
    m.find("head.0.weight")->name = "head.weight";
    m.find("head.0.bias")->name = "head.bias";
    expect_error(m, "head-shape", {"head.weight", "10,384"});
  }
  {
    Model m = good;
    m.metadata["score-min"] = "100";
    m.metadata["score-max"] = "0";
    expect_error(m, "score-range", {"score-min"});
  }
  {
    Model m = good;
    m.metadata["longer-side-lengths"] = "224,384,512";
    expect_error(m, "three-sides", {"longer-side-lengths", "224,384,512"});
  }
  {
    Model m = good;
    m.metadata["patch-size"] = "16";
    expect_error(m, "patch-size", {"patch-size"});
  }
  {
    Model m = good;
    const std::string name = "transformer_encoder.transformer.encoderblock_7.mlp.fc2.bias";
    for (size_t i = 0; i < m.tensors.size(); ++i)
      if (m.tensors[i].name == name) m.tensors.erase(m.tensors.begin() + static_cast<std::ptrdiff_t>(i));
    expect_error(m, "missing", {name, "missing"});
  }
  {
    Model m = good;
    m.find("embedding.weight")->shape = {16384, 384};
    expect_error(m, "wrong-shape", {"embedding.weight", "[16384,384]", "[384,16384]"});
  }
  {
    Model m = good;
    m.find("transformer_encoder.scaleembed_input.scale_emb")->dtype = "I32";
    expect_error(m, "wrong-dtype", {"scale_emb", "I32"});
  }
  {
    Model m = good;
    const float nan = NAN;
    std::memcpy(m.find("gn_root.weight")->data.data() + 8, &nan, 4);
    expect_error(m, "non-finite", {"gn_root.weight", "non-finite"});
  }
  {
    // The patching must fit the model's scale and position tables.
    MusiqPatchConfig three;
    three.longer_sides = {224, 384, 512};
    e = load_error(env("S2S_MUSIQ_WEIGHTS"), three);
    ck_assert_msg(e.find("longer-side") != std::string::npos, "error: %s", e.c_str());
    MusiqPatchConfig grid;
    grid.hse_grid = 8;
    e = load_error(env("S2S_MUSIQ_WEIGHTS"), grid);
    ck_assert_msg(e.find("grid") != std::string::npos, "error: %s", e.c_str());
  }
}
END_TEST

int main() {
  Suite *s = suite_create("musiq-engine");
  TCase *tc = tcase_create("musiq");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_network_on_pyiqa_tokens);
  tcase_add_test(tc, test_patches_match_pyiqa_tokens);
  tcase_add_test(tc, test_engine_matches_pyiqa);
  tcase_add_test(tc, test_variants);
  tcase_add_test(tc, test_batch_equals_single);
  tcase_add_test(tc, test_reduced_precision);
  tcase_add_test(tc, test_score_needs_configure);
  tcase_add_test(tc, test_load_errors);
  suite_add_tcase(s, tc);
  SRunner *runner = srunner_create(s);
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? 0 : 1;
}
