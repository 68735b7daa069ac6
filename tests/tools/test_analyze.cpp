// End-to-end tests of s2s-analyze (tools/): the program runs as a child
// process on clips that main() encodes with gst-launch-1.0 (x264enc, wavenc,
// vorbisenc from Debian's plugin packages) into a temporary folder.
//
// What it outputs is checked against an independent path: a pipeline built
// here with an explicit demuxer and decoder (the one the tool reports with
// -v), whose s2smetrics messages are read from the bus. Its JSON must carry
// exactly those values (bit for bit; NaN as null), the JSONL/CSV the same
// with the frame indexes and timestamps, the progress lines must count up
// to the clip's frames, the plot must be a PNG of the asked size with
// something drawn in it, errors must end with exactly one line on stderr and
// the documented exit status, and Ctrl-C must leave valid JSON with
// "done": false and the rows so far.
//
// Environment: S2S_ANALYZE (the program), GST_PLUGIN_PATH_1_0 (the build's
// plugin folder, in front of the system plugins) and a private registry,
// all set by tests/tools/meson.build.
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <signal.h>
#include <unistd.h>

#include <cairo.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

std::string g_tool;  // the program
std::string g_dir;   // clips and outputs
std::string g_clip;  // 30 frames of H.264 in MP4, 320x240 at 30 fps
std::string g_mkv;   // the same video with a Vorbis audio track, Matroska
std::string g_wav;   // audio only
std::string g_text;  // a text file named .mp4

constexpr int kClipFrames = 30;

// ---------------------------------------------------------------------------
// A small strict JSON reader (objects, arrays, numbers, strings, literals)
// ---------------------------------------------------------------------------
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json *get(const std::string &key) const {
    for (const auto &m : members)
      if (m.first == key) return &m.second;
    return nullptr;
  }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string &text) : s_(text) {}

  // The whole text must be exactly one value (whitespace around it).
  bool parse(Json *out) {
    skip();
    if (!value(out)) return false;
    skip();
    return i_ == s_.size();
  }

 private:
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  bool literal(const char *word) {
    const size_t n = std::strlen(word);
    if (s_.compare(i_, n, word) != 0) return false;
    i_ += n;
    return true;
  }
  bool value(Json *out) {
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') return object(out);
    if (c == '[') return array(out);
    if (c == '"') {
      out->type = Json::kString;
      return string(&out->string);
    }
    if (literal("null")) {
      out->type = Json::kNull;
      return true;
    }
    if (literal("true") || literal("false")) {
      out->type = Json::kBool;
      out->boolean = s_[i_ - 1] == 'e' && s_[i_ - 2] == 'u';
      return true;
    }
    return number(out);
  }
  bool number(Json *out) {
    // JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    const size_t start = i_;
    auto digits = [&]() {
      const size_t d = i_;
      while (i_ < s_.size() && g_ascii_isdigit(s_[i_])) ++i_;
      return i_ > d;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0')
      ++i_;
    else if (!digits())
      return false;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return false;
    }
    out->type = Json::kNumber;
    out->number = g_ascii_strtod(s_.substr(start, i_ - start).c_str(), nullptr);
    return true;
  }
  bool string(std::string *out) {
    ++i_;  // the opening quote
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if ((unsigned char)c < 0x20) return false;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        c = s_[i_++];
        switch (c) {
          case '"': case '\\': case '/': break;
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u':
            if (i_ + 4 > s_.size()) return false;
            c = (char)std::strtol(s_.substr(i_, 4).c_str(), nullptr, 16);
            i_ += 4;
            break;
          default: return false;
        }
      }
      out->push_back(c);
    }
    if (i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  bool array(Json *out) {
    out->type = Json::kArray;
    ++i_;
    skip();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      Json item;
      skip();
      if (!value(&item)) return false;
      out->items.push_back(std::move(item));
      skip();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == ']') {
        ++i_;
        return true;
      }
      if (s_[i_++] != ',') return false;
    }
  }
  bool object(Json *out) {
    out->type = Json::kObject;
    ++i_;
    skip();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    for (;;) {
      skip();
      std::string key;
      if (i_ >= s_.size() || s_[i_] != '"' || !string(&key)) return false;
      skip();
      if (i_ >= s_.size() || s_[i_++] != ':') return false;
      skip();
      Json v;
      if (!value(&v)) return false;
      out->members.emplace_back(key, std::move(v));
      skip();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == '}') {
        ++i_;
        return true;
      }
      if (s_[i_++] != ',') return false;
    }
  }

  const std::string &s_;
  size_t i_ = 0;
};

bool parse_json(const std::string &text, Json *out) { return JsonReader(text).parse(out); }

// ---------------------------------------------------------------------------
// Files, processes
// ---------------------------------------------------------------------------
std::string read_file(const std::string &path) {
  gchar *data = nullptr;
  gsize len = 0;
  if (!g_file_get_contents(path.c_str(), &data, &len, nullptr)) return "";
  std::string out(data, len);
  g_free(data);
  return out;
}

bool exists(const std::string &path) { return g_file_test(path.c_str(), G_FILE_TEST_EXISTS); }

std::string out_path(const char *name) {
  // A fresh name per test process: forked tests run one after another but
  // never share outputs.
  static int counter = 0;
  return g_dir + "/" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + name;
}

std::vector<std::string> split_lines(const std::string &text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

struct Run {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string out, err;
};

// Runs the tool with `args`; with interrupt_ms >= 0, sends SIGINT that long
// after the start; `env`: variables to set for it.
Run run_tool(const std::vector<std::string> &args, int interrupt_ms = -1,
             const std::map<std::string, std::string> &env = {}) {
  std::vector<const gchar *> argv = {g_tool.c_str()};
  for (const auto &a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  GError *err = nullptr;
  GSubprocessLauncher *launcher = g_subprocess_launcher_new(
      (GSubprocessFlags)(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE));
  for (const auto &kv : env)
    g_subprocess_launcher_setenv(launcher, kv.first.c_str(), kv.second.c_str(), TRUE);
  GSubprocess *p = g_subprocess_launcher_spawnv(launcher, argv.data(), &err);
  g_object_unref(launcher);
  ck_assert_msg(p != nullptr, "cannot start %s: %s", g_tool.c_str(), err ? err->message : "?");
  if (interrupt_ms >= 0) {
    g_usleep((gulong)interrupt_ms * 1000);
    g_subprocess_send_signal(p, SIGINT);
  }
  gchar *out = nullptr, *errout = nullptr;
  ck_assert(g_subprocess_communicate_utf8(p, nullptr, nullptr, &out, &errout, &err));
  Run r;
  r.out = out ? out : "";
  r.err = errout ? errout : "";
  if (g_subprocess_get_if_exited(p)) r.status = g_subprocess_get_exit_status(p);
  g_free(out);
  g_free(errout);
  g_object_unref(p);
  return r;
}

// gst-launch-1.0 with a description, for the clips.
bool launch(const std::string &description) {
  const std::string cmd = "gst-launch-1.0 -q " + description;
  gchar **argv = nullptr;
  if (!g_shell_parse_argv(cmd.c_str(), nullptr, &argv, nullptr)) return false;
  gint status = -1;
  gchar *err = nullptr;
  const gboolean ok = g_spawn_sync(nullptr, argv, nullptr, G_SPAWN_SEARCH_PATH, nullptr, nullptr,
                                   nullptr, &err, &status, nullptr);
  g_strfreev(argv);
  if (!ok || !g_spawn_check_wait_status(status, nullptr)) {
    std::fprintf(stderr, "gst-launch-1.0 failed: %s\n%s\n", description.c_str(), err ? err : "");
    g_free(err);
    return false;
  }
  g_free(err);
  return true;
}

// ---------------------------------------------------------------------------
// The reference: s2smetrics' own messages on a pipeline built here
// ---------------------------------------------------------------------------
struct Ref {
  guint64 frame = 0, pts = GST_CLOCK_TIME_NONE, stream_time = GST_CLOCK_TIME_NONE;
  double mse = NAN, inv_ssim = NAN, lpips = NAN, weighted = NAN, psnr = NAN;
  std::string status;
};

std::vector<Ref> reference(const std::string &description) {
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &err);
  ck_assert_msg(pipeline && !err, "reference pipeline: %s", err ? err->message : "?");
  GstElement *metrics = gst_bin_get_by_name(GST_BIN(pipeline), "ref");
  ck_assert(metrics != nullptr);
  GstBus *bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::vector<Ref> rows;
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered(
        bus, 60 * GST_SECOND,
        (GstMessageType)(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT));
    ck_assert_msg(msg != nullptr, "reference pipeline timed out");
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError *e = nullptr;
      gst_message_parse_error(msg, &e, nullptr);
      ck_abort_msg("reference pipeline error: %s", e->message);
    }
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
      gst_message_unref(msg);
      break;
    }
    const GstStructure *s = gst_message_get_structure(msg);
    if (GST_MESSAGE_SRC(msg) == GST_OBJECT(metrics) && gst_structure_has_name(s, "s2smetrics")) {
      Ref r;
      gst_structure_get_uint64(s, "frame", &r.frame);
      gst_structure_get_uint64(s, "timestamp", &r.pts);
      gst_structure_get_uint64(s, "stream-time", &r.stream_time);
      gst_structure_get_double(s, "mse", &r.mse);
      gst_structure_get_double(s, "inv-ssim", &r.inv_ssim);
      gst_structure_get_double(s, "lpips", &r.lpips);
      gst_structure_get_double(s, "weighted", &r.weighted);
      gst_structure_get_double(s, "psnr", &r.psnr);
      r.status = gst_structure_get_string(s, "status");
      rows.push_back(r);
    }
    gst_message_unref(msg);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(metrics);
  gst_object_unref(pipeline);
  return rows;
}

// The decoder the tool reports with -v ("s2s-analyze: decoder NAME").
std::string decoder_of(const Run &r) {
  for (const std::string &line : split_lines(r.err)) {
    const std::string tag = "s2s-analyze: decoder ";
    if (line.compare(0, tag.size(), tag) == 0) return line.substr(tag.size());
  }
  return "";
}

// The clip through an explicit demuxer, parser and decoder (not decodebin).
std::vector<Ref> reference_for_clip(const std::string &decoder, const std::string &props) {
  ck_assert_msg(!decoder.empty(), "the tool did not report its decoder");
  return reference("filesrc location=" + g_clip + " ! qtdemux ! h264parse ! " + decoder +
                   " ! videoconvert ! s2smetrics name=ref " + props + " ! fakesink sync=false");
}

// A JSON value equals a double: bit for bit, null for NaN.
void check_value(const Json &v, double expected, const char *what, size_t row) {
  if (!std::isfinite(expected)) {  // NaN, or the +inf PSNR of identical frames
    ck_assert_msg(v.type == Json::kNull, "row %zu %s: expected null", row, what);
  } else {
    ck_assert_msg(v.type == Json::kNumber, "row %zu %s: expected a number", row, what);
    ck_assert_msg(v.number == expected, "row %zu %s: %.17g, element posted %.17g", row, what,
                  v.number, expected);
  }
}

// A CSV field equals a double: same parse, empty for NaN.
void check_field(const std::string &f, double expected, const char *what, size_t row) {
  if (std::isnan(expected)) {
    ck_assert_msg(f.empty(), "row %zu %s: expected an empty field, got '%s'", row, what, f.c_str());
  } else {
    char *end = nullptr;
    const double v = g_ascii_strtod(f.c_str(), &end);
    ck_assert_msg(!f.empty() && *end == '\0', "row %zu %s: '%s' is not a number", row, what,
                  f.c_str());
    ck_assert_msg(v == expected, "row %zu %s: %.17g, element posted %.17g", row, what, v, expected);
  }
}

std::vector<std::string> split_csv(const std::string &line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    const size_t len = comma == std::string::npos ? std::string::npos : comma - start;
    fields.push_back(line.substr(start, len));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return fields;
}

// The service's shape: exactly {"done": bool, "metrics": [[4 values], ...]}.
Json load_service_json(const std::string &path, bool expect_done) {
  Json doc;
  const std::string text = read_file(path);
  ck_assert_msg(parse_json(text, &doc), "%s is not valid JSON:\n%s", path.c_str(), text.c_str());
  ck_assert_int_eq(doc.type, Json::kObject);
  ck_assert_uint_eq(doc.members.size(), 2);
  ck_assert_str_eq(doc.members[0].first.c_str(), "done");
  ck_assert_str_eq(doc.members[1].first.c_str(), "metrics");
  ck_assert_int_eq(doc.members[0].second.type, Json::kBool);
  ck_assert_int_eq(doc.members[0].second.boolean, expect_done);
  const Json &rows = doc.members[1].second;
  ck_assert_int_eq(rows.type, Json::kArray);
  for (const Json &row : rows.items) {
    ck_assert_int_eq(row.type, Json::kArray);
    ck_assert_uint_eq(row.items.size(), 4);
    for (const Json &v : row.items) ck_assert(v.type == Json::kNumber || v.type == Json::kNull);
  }
  return doc;
}

// Exactly one line on stderr, containing `needle`.
void check_one_error_line(const Run &r, const char *needle) {
  const auto lines = split_lines(r.err);
  ck_assert_msg(lines.size() == 1, "expected one line on stderr, got %zu:\n%s", lines.size(),
                r.err.c_str());
  ck_assert_msg(r.err.back() == '\n', "the error line is not terminated");
  ck_assert_msg(lines[0].find(needle) != std::string::npos, "'%s' not in: %s", needle,
                lines[0].c_str());
  ck_assert_msg(lines[0].rfind("s2s-analyze: error: ", 0) == 0, "not an error line: %s",
                lines[0].c_str());
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------
START_TEST(test_json_matches_elements) {
  const std::string json = out_path("out.json");
  const Run r = run_tool({g_clip, "--json", json, "-v"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const auto ref = reference_for_clip(decoder_of(r), "");
  ck_assert_uint_eq(ref.size(), kClipFrames - 1);

  const Json doc = load_service_json(json, true);
  const Json &rows = doc.members[1].second;
  ck_assert_uint_eq(rows.items.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    check_value(rows.items[i].items[0], ref[i].mse, "mse", i);
    check_value(rows.items[i].items[1], ref[i].inv_ssim, "inv_ssim", i);
    check_value(rows.items[i].items[2], ref[i].lpips, "lpips", i);
    check_value(rows.items[i].items[3], ref[i].weighted, "weighted", i);
  }

  // The LPIPS warning of the element (when LPIPS has no model) once at most,
  // not once per frame.
  int lpips_warnings = 0;
  for (const std::string &line : split_lines(r.err))
    if (line.find("warning") != std::string::npos && line.find("LPIPS") != std::string::npos)
      ++lpips_warnings;
  ck_assert_int_le(lpips_warnings, 1);
}
END_TEST

START_TEST(test_jsonl_and_csv) {
  const std::string jsonl = out_path("out.jsonl"), csv = out_path("out.csv");
  const Run r = run_tool({g_clip, "--jsonl", jsonl, "--csv", csv, "-v", "-q"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const auto ref = reference_for_clip(decoder_of(r), "");

  const auto lines = split_lines(read_file(jsonl));
  ck_assert_uint_eq(lines.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    Json o;
    ck_assert_msg(parse_json(lines[i], &o), "line %zu is not JSON: %s", i, lines[i].c_str());
    ck_assert_int_eq(o.type, Json::kObject);
    const char *keys[] = {"frame",    "pts",  "time", "mse",   "inv_ssim",
                          "lpips",    "weighted", "psnr", "status"};
    ck_assert_uint_eq(o.members.size(), G_N_ELEMENTS(keys));
    for (size_t k = 0; k < G_N_ELEMENTS(keys); ++k)
      ck_assert_str_eq(o.members[k].first.c_str(), keys[k]);
    ck_assert_uint_eq((guint64)o.get("frame")->number, ref[i].frame);
    ck_assert_uint_eq((guint64)o.get("pts")->number, ref[i].pts);
    ck_assert(std::fabs(o.get("time")->number - ref[i].stream_time / 1e9) < 1e-9);
    check_value(*o.get("mse"), ref[i].mse, "mse", i);
    check_value(*o.get("inv_ssim"), ref[i].inv_ssim, "inv_ssim", i);
    check_value(*o.get("lpips"), ref[i].lpips, "lpips", i);
    check_value(*o.get("weighted"), ref[i].weighted, "weighted", i);
    check_value(*o.get("psnr"), ref[i].psnr, "psnr", i);
    ck_assert_msg(!std::isnan(ref[i].psnr), "row %zu: the element posted no psnr", i);
    ck_assert_str_eq(o.get("status")->string.c_str(), ref[i].status.c_str());
  }
  // Frames in order, from 1 (frame 0 has no predecessor).
  ck_assert_uint_eq(ref.front().frame, 1);
  ck_assert_uint_eq(ref.back().frame, kClipFrames - 1);

  const auto rows = split_lines(read_file(csv));
  ck_assert_uint_eq(rows.size(), ref.size() + 1);
  ck_assert_str_eq(rows[0].c_str(), "frame,pts,time,mse,inv_ssim,lpips,weighted,psnr,status");
  for (size_t i = 0; i < ref.size(); ++i) {
    const auto f = split_csv(rows[i + 1]);
    ck_assert_uint_eq(f.size(), 9);
    ck_assert_str_eq(f[0].c_str(), std::to_string(ref[i].frame).c_str());
    ck_assert_str_eq(f[1].c_str(), std::to_string(ref[i].pts).c_str());
    check_field(f[3], ref[i].mse, "mse", i);
    check_field(f[4], ref[i].inv_ssim, "inv_ssim", i);
    check_field(f[5], ref[i].lpips, "lpips", i);
    check_field(f[6], ref[i].weighted, "weighted", i);
    check_field(f[7], ref[i].psnr, "psnr", i);
    ck_assert_str_eq(f[8].c_str(), ref[i].status.c_str());
  }
}
END_TEST

START_TEST(test_options_reach_the_element) {
  const std::string json = out_path("opts.json");
  const Run r = run_tool({g_clip, "--json", json, "--metrics", "mse", "--alpha", "2",
                          "--batch-size", "1", "--device", "cpu", "-v", "-q"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const auto ref = reference_for_clip(decoder_of(r), "metrics=mse alpha=2 batch-size=1 device=cpu");
  const Json doc = load_service_json(json, true);
  const Json &rows = doc.members[1].second;
  ck_assert_uint_eq(rows.items.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    check_value(rows.items[i].items[0], ref[i].mse, "mse", i);
    ck_assert_int_eq(rows.items[i].items[1].type, Json::kNull);  // not asked for
    ck_assert_int_eq(rows.items[i].items[2].type, Json::kNull);
    check_value(rows.items[i].items[3], 2 * ref[i].mse, "weighted = 2 mse", i);
  }
}
END_TEST

START_TEST(test_summary) {
  const Run r = run_tool({g_clip, "-v"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const auto ref = reference_for_clip(decoder_of(r), "");
  ck_assert_msg(r.out.find("29 frame pairs") != std::string::npos, "%s", r.out.c_str());
  // mean, min and max of MSE as the summary prints them (%.6g).
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  for (const Ref &x : ref) {
    sum += x.mse;
    lo = std::min(lo, x.mse);
    hi = std::max(hi, x.mse);
  }
  char expected[128];
  g_snprintf(expected, sizeof expected, "%.6g", sum / ref.size());
  const std::string mean(expected);
  g_snprintf(expected, sizeof expected, "%.6g", lo);
  const std::string min(expected);
  g_snprintf(expected, sizeof expected, "%.6g", hi);
  const std::string max(expected);
  bool found = false;
  for (const std::string &line : split_lines(r.out)) {
    if (line.find(" mse ") == std::string::npos) continue;
    found = line.find(mean) != std::string::npos && line.find(min) != std::string::npos &&
            line.find(max) != std::string::npos;
    ck_assert_msg(found, "mse summary '%s' lacks mean %s min %s max %s", line.c_str(),
                  mean.c_str(), min.c_str(), max.c_str());
  }
  ck_assert_msg(found, "no mse line in the summary:\n%s", r.out.c_str());
  for (const char *name : {"inv-ssim", "lpips", "weighted", "p95"})
    ck_assert_msg(r.out.find(name) != std::string::npos, "no %s in the summary", name);
}
END_TEST

START_TEST(test_audio_track_ignored) {
  const std::string json = out_path("mkv.json");
  const Run r = run_tool({g_mkv, "--json", json, "--metrics", "mse,inv-ssim", "-q"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const Json doc = load_service_json(json, true);
  ck_assert_uint_eq(doc.members[1].second.items.size(), kClipFrames - 1);
}
END_TEST

START_TEST(test_pipeline_option) {
  const std::string src =
      "videotestsrc num-buffers=20 pattern=ball ! video/x-raw,format=I420,width=160,height=120,"
      "framerate=30/1";
  const std::string json = out_path("pipe.json");
  const Run r = run_tool({"--pipeline", src, "--json", json, "--metrics", "mse,inv-ssim", "-q"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const auto ref = reference(src + " ! s2smetrics name=ref metrics=mse+inv-ssim ! fakesink");
  ck_assert_uint_eq(ref.size(), 19);
  const Json doc = load_service_json(json, true);
  const Json &rows = doc.members[1].second;
  ck_assert_uint_eq(rows.items.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    check_value(rows.items[i].items[0], ref[i].mse, "mse", i);
    check_value(rows.items[i].items[1], ref[i].inv_ssim, "inv_ssim", i);
    check_value(rows.items[i].items[3], ref[i].weighted, "weighted", i);
  }
}
END_TEST

START_TEST(test_json_to_stdout) {
  const Run r = run_tool({g_clip, "--json", "-", "--metrics", "mse,inv-ssim"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  Json doc;
  ck_assert_msg(parse_json(r.out, &doc), "stdout is not only the JSON:\n%s", r.out.c_str());
  ck_assert_uint_eq(doc.get("metrics")->items.size(), kClipFrames - 1);
  // The summary moved to stderr.
  ck_assert(r.err.find("29 frame pairs") != std::string::npos);
}
END_TEST

// NVDEC decoders (nvcodec) registered here: only where a GPU can decode.
bool have_nvdec() {
  GList *decoders = gst_element_factory_list_get_elements(
      GST_ELEMENT_FACTORY_TYPE_DECODER | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO, GST_RANK_NONE);
  bool found = false;
  for (GList *l = decoders; l; l = l->next) {
    const gchar *plugin = gst_plugin_feature_get_plugin_name(GST_PLUGIN_FEATURE(l->data));
    found |= plugin && std::strcmp(plugin, "nvcodec") == 0;
  }
  gst_plugin_feature_list_free(decoders);
  return found;
}

START_TEST(test_nvdec_choice) {
  // off: a software decoder, whatever the machine.
  Run r = run_tool({g_clip, "--nvdec", "off", "--metrics", "mse", "-v", "-q"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const std::string sw = decoder_of(r);
  ck_assert_msg(!sw.empty() && sw.rfind("nv", 0) != 0, "decoder '%s'", sw.c_str());
  // auto: NVDEC where there is one, else the same software decoder.
  r = run_tool({g_clip, "--metrics", "mse", "-v", "-q"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  if (have_nvdec())
    ck_assert_msg(decoder_of(r).rfind("nv", 0) == 0, "decoder '%s'", decoder_of(r).c_str());
  else
    ck_assert_str_eq(decoder_of(r).c_str(), sw.c_str());
  // on: required.
  r = run_tool({g_clip, "--nvdec", "on", "--metrics", "mse", "-v", "-q"});
  if (have_nvdec()) {
    ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  } else {
    ck_assert_int_eq(r.status, 1);
    check_one_error_line(r, "--nvdec=on");
  }
}
END_TEST

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------
// Progress lines on stderr: "progress: D/T frames (P%), F fps, ..."; returns
// (done, total) of each, checking the format on the way.
std::vector<std::pair<guint64, guint64>> progress_lines(const std::string &err) {
  std::vector<std::pair<guint64, guint64>> out;
  for (const std::string &line : split_lines(err)) {
    if (line.rfind("progress: ", 0) != 0) continue;
    guint64 done = 0, total = 0;
    ck_assert_msg(std::sscanf(line.c_str(), "progress: %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                              " frames", &done, &total) == 2, "no done/total in '%s'", line.c_str());
    ck_assert_msg(line.find(" fps") != std::string::npos, "no fps in '%s'", line.c_str());
    if (!out.empty()) ck_assert_uint_ge(done, out.back().first);
    out.emplace_back(done, total);
  }
  return out;
}

START_TEST(test_progress_lines) {
  // stderr is a pipe here: plain lines ("auto" mode), the last one at the end.
  const Run r = run_tool({g_clip, "--progress-interval", "0", "--metrics", "mse,inv-ssim"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  ck_assert_msg(r.err.find('\r') == std::string::npos, "a bar on a pipe:\n%s", r.err.c_str());
  const auto lines = progress_lines(r.err);
  ck_assert_int_ge(lines.size(), 1);
  ck_assert_uint_eq(lines.back().first, kClipFrames);
  ck_assert_uint_eq(lines.back().second, kClipFrames);  // from the duration and frame rate
  std::string last;
  for (const auto &l : split_lines(r.err))
    if (l.rfind("progress: ", 0) == 0) last = l;
  ck_assert_msg(last.find(", done") != std::string::npos, "%s", last.c_str());

  // Paced at ~50 frames/s (identity sleeps 20 ms a frame): lines while it
  // runs, counting up to the total, which comes from the file's duration.
  const Run paced = run_tool({"--pipeline", "filesrc location=" + g_clip +
                              " ! decodebin ! identity sleep-time=20000",
                              "--progress-interval", "0", "--batch-size", "1",
                              "--metrics", "mse,inv-ssim"});
  ck_assert_msg(paced.status == 0, "exit %d:\n%s", paced.status, paced.err.c_str());
  const auto running = progress_lines(paced.err);
  ck_assert_msg(running.size() >= 3, "%zu progress lines:\n%s", running.size(), paced.err.c_str());
  ck_assert_uint_lt(running.front().first, kClipFrames);
  ck_assert_uint_eq(running.back().first, kClipFrames);
  for (const auto &l : running) ck_assert_uint_eq(l.second, kClipFrames);
}
END_TEST

START_TEST(test_progress_bar) {
  const Run r = run_tool({g_clip, "--progress", "bar", "--metrics", "mse,inv-ssim"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  // Redrawn in place: carriage returns, a bracketed bar, the final count.
  ck_assert(r.err.find('\r') != std::string::npos);
  ck_assert(r.err.find("[==") != std::string::npos);
  ck_assert_msg(r.err.find("30/30 frames (100.0%)") != std::string::npos, "%s", r.err.c_str());
  ck_assert(r.err.find("progress: ") == std::string::npos);
}
END_TEST

// ---------------------------------------------------------------------------
// Plot
// ---------------------------------------------------------------------------
guint32 be32(const std::string &s, size_t at) {
  return ((guint32)(guint8)s[at] << 24) | ((guint32)(guint8)s[at + 1] << 16) |
         ((guint32)(guint8)s[at + 2] << 8) | (guint32)(guint8)s[at + 3];
}

void check_png(const std::string &path, guint32 width, guint32 height) {
  const std::string png = read_file(path);
  ck_assert_msg(png.size() > 33, "%s: %zu bytes", path.c_str(), png.size());
  ck_assert(png.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0);
  ck_assert_uint_eq(be32(png, 8), 13);  // IHDR is first, 13 bytes long
  ck_assert(png.compare(12, 4, "IHDR") == 0);
  ck_assert_uint_eq(be32(png, 16), width);
  ck_assert_uint_eq(be32(png, 20), height);
  ck_assert(png.compare(png.size() - 8, 4, "IEND") == 0);

  // Something drawn: the panels' line colours (blue MSE, orange InvSSIM, red
  // weighted) are there, i.e. pixels far from gray.
  cairo_surface_t *s = cairo_image_surface_create_from_png(path.c_str());
  ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
  ck_assert_int_eq(cairo_image_surface_get_width(s), (int)width);
  const int stride = cairo_image_surface_get_stride(s);
  const unsigned char *data = cairo_image_surface_get_data(s);
  int blue = 0, orange = 0, red = 0;
  for (guint32 y = 0; y < height; ++y) {
    for (guint32 x = 0; x < width; ++x) {
      guint32 px;
      std::memcpy(&px, data + y * stride + x * 4, 4);
      const int r = (px >> 16) & 0xff, g = (px >> 8) & 0xff, b = px & 0xff;
      if (b > 150 && r < 80) ++blue;
      if (r > 200 && g > 90 && g < 150 && b < 60) ++orange;
      if (r > 170 && g < 70 && b < 70) ++red;
    }
  }
  cairo_surface_destroy(s);
  ck_assert_msg(blue > 50 && orange > 50 && red > 50, "lines: blue %d orange %d red %d", blue,
                orange, red);
}

START_TEST(test_plot_png) {
  const std::string plot = out_path("plot.png");
  const Run r = run_tool({g_clip, "--plot", plot, "-q"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  check_png(plot, 1200, 800);
  ck_assert(!exists(plot + ".part"));

  const std::string small = out_path("small.png");
  const Run r2 = run_tool({g_clip, "--plot", small, "--plot-size", "640x400", "--metrics", "mse,inv-ssim",
                           "-q"});
  ck_assert_msg(r2.status == 0, "exit %d:\n%s", r2.status, r2.err.c_str());
  check_png(small, 640, 400);
}
END_TEST

// ---------------------------------------------------------------------------
// Errors: one line, the documented status, no output file
// ---------------------------------------------------------------------------
START_TEST(test_missing_file) {
  const std::string json = out_path("missing.json");
  const Run r = run_tool({g_dir + "/no-such-clip.mp4", "--json", json});
  ck_assert_int_eq(r.status, 1);
  check_one_error_line(r, "no such file");
  ck_assert(!exists(json));
}
END_TEST

START_TEST(test_undecodable_file) {
  const std::string json = out_path("text.json");
  const Run r = run_tool({g_text, "--json", json});
  ck_assert_int_eq(r.status, 1);
  check_one_error_line(r, "not a media file");
  ck_assert(!exists(json));
}
END_TEST

START_TEST(test_no_video_stream) {
  const std::string json = out_path("wav.json");
  const Run r = run_tool({g_wav, "--json", json});
  ck_assert_int_eq(r.status, 1);
  check_one_error_line(r, "no video stream");
  ck_assert(!exists(json));
}
END_TEST

START_TEST(test_bad_pipeline) {
  Run r = run_tool({"--pipeline", "nosuchelement_s2s ! videoconvert"});
  ck_assert_int_eq(r.status, 1);
  check_one_error_line(r, "invalid --pipeline");

  // Parses, but gives audio: fails in negotiation.
  r = run_tool({"--pipeline", "audiotestsrc num-buffers=10"});
  ck_assert_int_eq(r.status, 1);
  check_one_error_line(r, "pipeline: ");
}
END_TEST

START_TEST(test_bad_options) {
  Run r = run_tool({g_clip, "--device", "quantum"});
  ck_assert_int_eq(r.status, 2);
  check_one_error_line(r, "--device");
  r = run_tool({g_clip, "--batch-size", "0"});
  ck_assert_int_eq(r.status, 2);
  check_one_error_line(r, "--batch-size");
  r = run_tool({g_clip, "--metrics", "mse,psnr"});
  ck_assert_int_eq(r.status, 2);
  check_one_error_line(r, "--metrics");
  r = run_tool({g_clip, "--plot-size", "big"});
  ck_assert_int_eq(r.status, 2);
  check_one_error_line(r, "--plot-size");
  r = run_tool({});
  ck_assert_int_eq(r.status, 2);
  check_one_error_line(r, "INPUT");
}
END_TEST

START_TEST(test_unwritable_output) {
  const Run r = run_tool({g_clip, "--json", g_dir + "/no-such-folder/out.json"});
  ck_assert_int_eq(r.status, 3);
  check_one_error_line(r, "out.json");
}
END_TEST

// Only in builds without musiqscore (no LibTorch).
START_TEST(test_musiq_unavailable) {
  const std::string json = out_path("musiq.json");
  const Run r = run_tool({g_clip, "--musiq", "--json", json});
  ck_assert_int_ne(r.status, 0);
  check_one_error_line(r, "musiqscore element not available in this build");
  ck_assert(!exists(json));
}
END_TEST

bool have_real_musiq() {
  GstElementFactory *f = gst_element_factory_find("musiqscore");
  if (f) gst_object_unref(f);
  return f != nullptr;
}

// Only in builds with musiqscore: a missing model is the element's error.
START_TEST(test_musiq_model_missing) {
  const std::string json = out_path("musiq-missing.json");
  const Run r = run_tool({g_clip, "--musiq-model", g_dir + "/no-such-model.safetensors", "--json",
                          json, "--device", "cpu"});
  ck_assert_int_eq(r.status, 1);
  check_one_error_line(r, "no-such-model.safetensors");
  ck_assert_msg(r.err.find("musiqscore") != std::string::npos, "%s", r.err.c_str());
  ck_assert(!exists(json));
}
END_TEST

// ---------------------------------------------------------------------------
// --musiq with the real element and seeded random weights (S2S_MUSIQ_WEIGHTS,
// made by models/tools/musiq_weights.py): the outputs must carry exactly the
// scores musiqscore posts on a pipeline built here.
// ---------------------------------------------------------------------------
std::string g_musiq_weights;

struct MusiqRef {
  guint64 frame = 0;
  double score = NAN;
};

std::vector<MusiqRef> musiq_reference(const std::string &decoder, const std::string &props) {
  ck_assert_msg(!decoder.empty(), "the tool did not report its decoder");
  const std::string description = "filesrc location=" + g_clip + " ! qtdemux ! h264parse ! " +
                                  decoder + " ! videoconvert ! musiqscore name=ref model=" +
                                  g_musiq_weights + " device=cpu " + props + " ! fakesink sync=false";
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &err);
  ck_assert_msg(pipeline && !err, "reference pipeline: %s", err ? err->message : "?");
  GstElement *musiq = gst_bin_get_by_name(GST_BIN(pipeline), "ref");
  GstBus *bus = gst_element_get_bus(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::vector<MusiqRef> scores;
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered(
        bus, 120 * GST_SECOND,
        (GstMessageType)(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT));
    ck_assert_msg(msg != nullptr, "reference pipeline timed out");
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError *e = nullptr;
      gst_message_parse_error(msg, &e, nullptr);
      ck_abort_msg("reference pipeline error: %s", e->message);
    }
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
      gst_message_unref(msg);
      break;
    }
    const GstStructure *s = gst_message_get_structure(msg);
    if (GST_MESSAGE_SRC(msg) == GST_OBJECT(musiq) && gst_structure_has_name(s, "musiqscore")) {
      MusiqRef r;
      gst_structure_get_uint64(s, "frame", &r.frame);
      gst_structure_get_double(s, "score", &r.score);
      ck_assert_str_eq(gst_structure_get_string(s, "status"), "ok");
      scores.push_back(r);
    }
    gst_message_unref(msg);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(musiq);
  gst_object_unref(pipeline);
  return scores;
}

START_TEST(test_musiq_outputs) {
  const std::string json = out_path("mq.json"), jsonl = out_path("mq.jsonl"),
                    csv = out_path("mq.csv"), plot = out_path("mq.png");
  const Run r = run_tool({g_clip, "--metrics", "mse,inv-ssim", "--musiq-interval", "2",
                          "--musiq-model", g_musiq_weights, "--device", "cpu", "--json", json,
                          "--jsonl", jsonl, "--csv", csv, "--plot", plot, "-v"});
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const auto ref = musiq_reference(decoder_of(r), "interval=2");
  ck_assert_uint_eq(ref.size(), kClipFrames / 2);  // frames 0, 2, ..., 28

  // The service's shape plus "musiq": one score per scored frame, in order.
  Json doc;
  ck_assert(parse_json(read_file(json), &doc));
  ck_assert_uint_eq(doc.members.size(), 3);
  ck_assert_str_eq(doc.members[2].first.c_str(), "musiq");
  ck_assert_uint_eq(doc.get("metrics")->items.size(), kClipFrames - 1);
  const Json &musiq = *doc.get("musiq");
  ck_assert_uint_eq(musiq.items.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    ck_assert_uint_eq(ref[i].frame, 2 * i);
    check_value(musiq.items[i], ref[i].score, "musiq", i);
  }

  // JSONL/CSV: frames 0..29 merged; frame 0 has only a score, odd frames
  // only metrics.
  const auto lines = split_lines(read_file(jsonl));
  ck_assert_uint_eq(lines.size(), kClipFrames);
  for (size_t i = 0; i < lines.size(); ++i) {
    Json o;
    ck_assert(parse_json(lines[i], &o));
    ck_assert_uint_eq((guint64)o.get("frame")->number, i);
    ck_assert_int_eq(o.get("mse")->type, i == 0 ? Json::kNull : Json::kNumber);
    if (i % 2 == 0) {
      check_value(*o.get("musiq"), ref[i / 2].score, "musiq", i);
      ck_assert_str_eq(o.get("musiq_status")->string.c_str(), "ok");
    } else {
      ck_assert_int_eq(o.get("musiq")->type, Json::kNull);
    }
  }
  const auto rows = split_lines(read_file(csv));
  ck_assert_uint_eq(rows.size(), kClipFrames + 1);
  ck_assert_str_eq(rows[0].c_str(),
                   "frame,pts,time,mse,inv_ssim,lpips,weighted,psnr,status,musiq,musiq_status");
  for (size_t i = 0; i < kClipFrames; ++i) {
    const auto fields = split_csv(rows[i + 1]);
    ck_assert_uint_eq(fields.size(), 11);
    check_field(fields[9], i % 2 == 0 ? ref[i / 2].score : NAN, "musiq", i);
  }

  // The summary line: the element's mean of the scores.
  std::string summary;
  for (const std::string &line : split_lines(r.out))
    if (line.find(" musiq ") != std::string::npos) summary = line;
  ck_assert_msg(!summary.empty(), "no musiq in the summary:\n%s", r.out.c_str());
  double sum = 0;
  for (const MusiqRef &m : ref) sum += m.score;
  char mean[64];
  g_snprintf(mean, sizeof mean, " %.6g ", sum / ref.size());
  ck_assert_msg(summary.find(mean) != std::string::npos, "mean%snot in '%s'", mean,
                summary.c_str());
  // A MUSIQ panel, in purple.
  check_png(plot, 1200, 800);
  cairo_surface_t *s = cairo_image_surface_create_from_png(plot.c_str());
  const int stride = cairo_image_surface_get_stride(s);
  const unsigned char *data = cairo_image_surface_get_data(s);
  int purple = 0;
  for (int y = 0; y < 800; ++y)
    for (int x = 0; x < 1200; ++x) {
      guint32 px;
      std::memcpy(&px, data + y * stride + x * 4, 4);
      const int R = (px >> 16) & 0xff, G = (px >> 8) & 0xff, B = px & 0xff;
      if (B > 150 && R > 100 && R < 160 && G < 100) ++purple;
    }
  cairo_surface_destroy(s);
  ck_assert_int_gt(purple, 50);
}
END_TEST

// MUSIQ alone, the model by pyiqa's name (--model musiq) from $S2S_MODELS_DIR.
START_TEST(test_musiq_only) {
  const std::string json = out_path("mqonly.json");
  const std::string models = out_path("models");
  ck_assert(g_mkdir(models.c_str(), 0755) == 0);
  ck_assert(symlink(g_musiq_weights.c_str(), (models + "/musiq-koniq10k.safetensors").c_str()) == 0);
  const Run r = run_tool({g_clip, "--metrics", "none", "--model", "musiq", "--musiq-interval", "6",
                          "--device", "cpu", "--json", json, "-q", "-v"},
                         -1, {{"S2S_MODELS_DIR", models}});
  unlink((models + "/musiq-koniq10k.safetensors").c_str());
  g_rmdir(models.c_str());
  ck_assert_msg(r.status == 0, "exit %d:\n%s", r.status, r.err.c_str());
  const auto ref = musiq_reference(decoder_of(r), "interval=6");
  Json doc;
  ck_assert(parse_json(read_file(json), &doc));
  ck_assert_uint_eq(doc.get("metrics")->items.size(), 0);
  ck_assert_uint_eq(doc.get("musiq")->items.size(), kClipFrames / 6);
  ck_assert_uint_eq(ref.size(), kClipFrames / 6);
  for (size_t i = 0; i < ref.size(); ++i)
    check_value(doc.get("musiq")->items[i], ref[i].score, "musiq", i);
  ck_assert(doc.get("done")->boolean);
}
END_TEST

// ---------------------------------------------------------------------------
// Ctrl-C
// ---------------------------------------------------------------------------
START_TEST(test_interrupt) {
  const std::string json = out_path("int.json"), jsonl = out_path("int.jsonl"),
                    csv = out_path("int.csv"), plot = out_path("int.png");
  const gint64 t0 = g_get_monotonic_time();
  const Run r = run_tool({"--pipeline",
                          "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,"
                          "height=120,framerate=30/1",
                          "--json", json, "--jsonl", jsonl, "--csv", csv, "--plot", plot,
                          "--metrics", "mse,inv-ssim"},
                         1500);
  const double seconds = (g_get_monotonic_time() - t0) / 1e6;
  ck_assert_msg(r.status == 130, "exit %d:\n%s", r.status, r.err.c_str());
  ck_assert_msg(seconds < 6, "took %.1f s to stop", seconds);

  const Json doc = load_service_json(json, false);
  const size_t n = doc.members[1].second.items.size();
  ck_assert_uint_gt(n, 0);
  for (const Json &row : doc.members[1].second.items)
    ck_assert_int_eq(row.items[0].type, Json::kNumber);
  // The other outputs hold the same rows.
  const auto lines = split_lines(read_file(jsonl));
  ck_assert_uint_eq(lines.size(), n);
  for (const auto &l : lines) {
    Json o;
    ck_assert_msg(parse_json(l, &o), "bad JSONL line %s", l.c_str());
  }
  ck_assert_uint_eq(split_lines(read_file(csv)).size(), n + 1);
  check_png(plot, 1200, 800);
  ck_assert(r.out.find("interrupted") != std::string::npos);
}
END_TEST

// The --musiq outputs (meson test s2s-analyze-musiq: the network on the
// CPU takes a while, so it is a test of its own).
Suite *musiq_suite() {
  Suite *s = suite_create("s2s-analyze-musiq");
  TCase *musiq = tcase_create("musiq");
  tcase_set_timeout(musiq, 300);
  tcase_add_test(musiq, test_musiq_outputs);
  tcase_add_test(musiq, test_musiq_only);
  suite_add_tcase(s, musiq);
  return s;
}

Suite *analyze_suite() {
  Suite *s = suite_create("s2s-analyze");
  TCase *results = tcase_create("results");
  tcase_set_timeout(results, 120);
  tcase_add_test(results, test_json_matches_elements);
  tcase_add_test(results, test_jsonl_and_csv);
  tcase_add_test(results, test_options_reach_the_element);
  tcase_add_test(results, test_summary);
  tcase_add_test(results, test_audio_track_ignored);
  tcase_add_test(results, test_pipeline_option);
  tcase_add_test(results, test_json_to_stdout);
  tcase_add_test(results, test_nvdec_choice);
  suite_add_tcase(s, results);

  TCase *progress = tcase_create("progress");
  tcase_set_timeout(progress, 60);
  tcase_add_test(progress, test_progress_lines);
  tcase_add_test(progress, test_progress_bar);
  suite_add_tcase(s, progress);

  TCase *plot = tcase_create("plot");
  tcase_set_timeout(plot, 60);
  tcase_add_test(plot, test_plot_png);
  suite_add_tcase(s, plot);


  TCase *errors = tcase_create("errors");
  tcase_set_timeout(errors, 60);
  tcase_add_test(errors, test_missing_file);
  tcase_add_test(errors, test_undecodable_file);
  tcase_add_test(errors, test_no_video_stream);
  tcase_add_test(errors, test_bad_pipeline);
  tcase_add_test(errors, test_bad_options);
  tcase_add_test(errors, test_unwritable_output);
  if (have_real_musiq())
    tcase_add_test(errors, test_musiq_model_missing);
  else
    tcase_add_test(errors, test_musiq_unavailable);
  suite_add_tcase(s, errors);

  TCase *interrupt = tcase_create("interrupt");
  tcase_set_timeout(interrupt, 60);
  tcase_add_test(interrupt, test_interrupt);
  suite_add_tcase(s, interrupt);
  return s;
}

// The clips, once, before the (forked) tests.
bool make_clips() {
  const std::string video =
      "videotestsrc pattern=ball num-buffers=30 ! video/x-raw,format=I420,width=320,height=240,"
      "framerate=30/1 ! x264enc ! h264parse";
  g_clip = g_dir + "/clip.mp4";
  g_mkv = g_dir + "/clip.mkv";
  g_wav = g_dir + "/audio.wav";
  g_text = g_dir + "/notes.mp4";
  if (!launch(video + " ! mp4mux ! filesink location=" + g_clip)) return false;
  if (!launch("matroskamux name=mux ! filesink location=" + g_mkv + " " + video +
              " ! mux. audiotestsrc num-buffers=40 ! audioconvert ! vorbisenc ! mux."))
    return false;
  if (!launch("audiotestsrc num-buffers=20 ! wavenc ! filesink location=" + g_wav)) return false;
  return g_file_set_contents(g_text.c_str(), "these are notes, not a video\n", -1, nullptr);
}

void remove_tree(const std::string &dir) {
  GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
  if (!d) return;
  while (const gchar *name = g_dir_read_name(d)) g_unlink((dir + "/" + name).c_str());
  g_dir_close(d);
  g_rmdir(dir.c_str());
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  const char *tool = std::getenv("S2S_ANALYZE");
  if (!tool || !*tool) {
    std::fprintf(stderr, "S2S_ANALYZE is not set (the s2s-analyze program)\n");
    return EXIT_FAILURE;
  }
  g_tool = tool;
  // S2S_ANALYZE_SUITE=musiq: the --musiq tests, which need musiqscore (a
  // LibTorch build) and weights; skipped (77) without them.
  const char *which = std::getenv("S2S_ANALYZE_SUITE");
  const bool musiq = which && std::strcmp(which, "musiq") == 0;
  if (musiq) {
    const char *weights = std::getenv("S2S_MUSIQ_WEIGHTS");
    if (!have_real_musiq() || !weights || !*weights) {
      std::printf("SKIP: %s\n", have_real_musiq() ? "S2S_MUSIQ_WEIGHTS is not set"
                                                  : "no musiqscore in this build");
      return 77;
    }
    g_musiq_weights = weights;
  }
  gchar *dir = g_dir_make_tmp("s2s-analyze-test-XXXXXX", nullptr);
  if (!dir) return EXIT_FAILURE;
  g_dir = dir;
  g_free(dir);
  if (!make_clips()) {
    remove_tree(g_dir);
    return EXIT_FAILURE;
  }

  SRunner *sr = srunner_create(musiq ? musiq_suite() : analyze_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  if (!std::getenv("S2S_KEEP_TEST_FILES")) remove_tree(g_dir);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
