// Check suite for the safetensors reader (models/safetensors.{h,cpp}); no
// GStreamer, no LibTorch.
//
//   valid:     files built in memory by the small writer below, parsed back
//              and compared (names, dtypes, shapes, data bytes, metadata),
//              plus open() on real files.
//   malformed: a table of broken inputs, each of which must be rejected with
//              an error containing a given substring, on one line, starting
//              with the file's label.
//   open:      missing file, directory, empty path.
//   python:    the file written by tests/models/write_safetensors.py (path in
//              S2S_SAMPLE_SAFETENSORS), checked value by value.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "safetensors.h"

// Last: check.h defines a fail() macro that breaks the C++ stream headers.
#include <check.h>

namespace {

using s2s::DType;
using s2s::SafetensorsFile;
using s2s::TensorView;
using Bytes = std::vector<uint8_t>;

// String equality that keeps both sides alive (ck_assert_str_eq would keep
// only the pointers of temporaries).
#define EXPECT_STR(got, want)                                                                           \
  do {                                                                                                  \
    const std::string got_ = (got), want_ = (want);                                                     \
    ck_assert_msg(got_ == want_, "%s is\n  '%s'\nexpected\n  '%s'", #got, got_.c_str(), want_.c_str()); \
  } while (0)

// ---------------------------------------------------------------------------
// A minimal writer
// ---------------------------------------------------------------------------

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

struct Spec {
  std::string name, dtype;
  std::vector<int64_t> shape;
  Bytes data;
};

// 8-byte little-endian length, then the header.
Bytes with_length(const std::string &header, uint64_t declared) {
  Bytes out;
  out.reserve(8 + header.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(declared >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  return out;
}

// A file from a raw header text and data section.
Bytes raw_file(const std::string &header, const Bytes &data = {}) {
  Bytes out = with_length(header, header.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// A well-formed file: tensors laid out one after the other in `specs` order,
// header padded with spaces to a multiple of 8.
Bytes build_file(const std::vector<Spec> &specs, const std::map<std::string, std::string> &meta = {}) {
  std::string h = "{";
  bool first = true;
  if (!meta.empty()) {
    h += "\"__metadata__\":{";
    for (const auto &kv : meta) {
      if (!first) h += ",";
      first = false;
      h += json_string(kv.first) + ":" + json_string(kv.second);
    }
    h += "}";
    first = false;
  }
  Bytes data;
  for (const Spec &s : specs) {
    if (!first) h += ",";
    first = false;
    h += json_string(s.name) + ":{\"dtype\":" + json_string(s.dtype) + ",\"shape\":[";
    for (size_t i = 0; i < s.shape.size(); ++i) h += (i ? "," : "") + std::to_string(s.shape[i]);
    h +=
        "],\"data_offsets\":[" + std::to_string(data.size()) + "," + std::to_string(data.size() + s.data.size()) + "]}";
    data.insert(data.end(), s.data.begin(), s.data.end());
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  return raw_file(h, data);
}

template <typename T>
Bytes bytes_of(const std::vector<T> &v) {
  Bytes b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());  // little-endian host
  return b;
}

Bytes counting(size_t n, uint8_t start = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(start + i * 7);
  return b;
}

std::unique_ptr<SafetensorsFile> parse(const Bytes &b, std::string *error,
                                       const std::string &label = "mem.safetensors") {
  return SafetensorsFile::parse(b.data(), b.size(), label, error);
}

std::string shape_str(const std::vector<int64_t> &s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

void expect_tensor(const SafetensorsFile &f, const std::string &name, DType dtype, const std::vector<int64_t> &shape,
                   const Bytes &data) {
  const TensorView *t = f.find(name);
  ck_assert_msg(t != nullptr, "tensor '%s' not found", name.c_str());
  EXPECT_STR(t->name, name);
  ck_assert_msg(t->dtype == dtype, "tensor '%s': dtype %s, expected %s", name.c_str(), s2s::dtype_name(t->dtype),
                s2s::dtype_name(dtype));
  ck_assert_msg(t->shape == shape, "tensor '%s': shape %s, expected %s", name.c_str(), shape_str(t->shape).c_str(),
                shape_str(shape).c_str());
  ck_assert_uint_eq(t->nbytes, data.size());
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  ck_assert_int_eq(t->numel(), numel);
  ck_assert_uint_eq(t->nbytes, static_cast<size_t>(numel) * s2s::dtype_size(dtype));
  if (!data.empty())
    ck_assert_msg(std::memcmp(t->data, data.data(), data.size()) == 0, "tensor '%s': data differ", name.c_str());
}

// ---------------------------------------------------------------------------
// Valid files
// ---------------------------------------------------------------------------

START_TEST(test_basic) {
  const std::vector<float> w = {1.5f, -2.0f, 0.25f, 3.0f, 4.0f, -0.0f};
  const std::vector<float> b = {0.5f, 7.0f};
  const Bytes file =
      build_file({{"features.0.weight", "F32", {2, 3}, bytes_of(w)}, {"features.0.bias", "F32", {2}, bytes_of(b)}},
                 {{"model", "lpips-alex"}, {"version", "0.1"}, {"preprocessing", "rgb [-1,1]"}});
  std::string err = "stale";
  auto f = parse(file, &err, "weights.safetensors");
  ck_assert_msg(f != nullptr, "parse failed: %s", err.c_str());
  EXPECT_STR(err, "");
  EXPECT_STR(f->path(), "weights.safetensors");
  ck_assert_uint_eq(f->tensors().size(), 2);
  // Header order is kept.
  EXPECT_STR(f->tensors()[0].name, "features.0.weight");
  EXPECT_STR(f->tensors()[1].name, "features.0.bias");
  expect_tensor(*f, "features.0.weight", DType::kF32, {2, 3}, bytes_of(w));
  expect_tensor(*f, "features.0.bias", DType::kF32, {2}, bytes_of(b));
  std::vector<float> got(6);
  std::memcpy(got.data(), f->find("features.0.weight")->data, 24);
  ck_assert(got == w);
  ck_assert_uint_eq(f->metadata().size(), 3);
  EXPECT_STR(f->meta("model"), "lpips-alex");
  EXPECT_STR(f->meta("version"), "0.1");
  EXPECT_STR(f->meta("preprocessing"), "rgb [-1,1]");
  EXPECT_STR(f->meta("absent", "fallback"), "fallback");
  EXPECT_STR(f->meta("absent"), "");
  ck_assert(f->find("absent") == nullptr);
  ck_assert(f->find("") == nullptr);
  // The data point into the file's own copy, not into the caller's bytes.
  const uint8_t *p = f->find("features.0.weight")->data;
  ck_assert(p < file.data() || p >= file.data() + file.size());
}
END_TEST

START_TEST(test_all_dtypes) {
  struct D {
    const char *name;
    DType dtype;
    size_t size;
  } const kAll[] = {{"F64", DType::kF64, 8},   {"F32", DType::kF32, 4}, {"F16", DType::kF16, 2},
                    {"BF16", DType::kBF16, 2}, {"I64", DType::kI64, 8}, {"I32", DType::kI32, 4},
                    {"I16", DType::kI16, 2},   {"I8", DType::kI8, 1},   {"U8", DType::kU8, 1},
                    {"BOOL", DType::kBool, 1}};
  std::vector<Spec> specs;
  for (const D &d : kAll) {
    EXPECT_STR(s2s::dtype_name(d.dtype), d.name);
    ck_assert_uint_eq(s2s::dtype_size(d.dtype), d.size);
    specs.push_back({std::string("t_") + d.name, d.name, {3, 1}, counting(3 * d.size, static_cast<uint8_t>(d.size))});
  }
  std::string err;
  auto f = parse(build_file(specs), &err);
  ck_assert_msg(f != nullptr, "parse failed: %s", err.c_str());
  ck_assert_uint_eq(f->tensors().size(), 10);
  for (size_t i = 0; i < 10; ++i) expect_tensor(*f, specs[i].name, kAll[i].dtype, {3, 1}, specs[i].data);
}
END_TEST

START_TEST(test_edge_shapes) {
  // Scalars, zero-size tensors (anywhere, even inside another's range or at
  // the very end), a zero dimension next to a huge one, an empty header.
  std::string err;
  auto f = parse(build_file({{"scalar", "F32", {}, bytes_of(std::vector<float>{42.0f})},
                             {"empty", "F32", {0, 3}, {}},
                             {"huge_but_empty", "F64", {9223372036854775807LL, 0}, {}},
                             {"one", "U8", {1, 1, 1, 1}, {9}}}),
                 &err);
  ck_assert_msg(f != nullptr, "parse failed: %s", err.c_str());
  expect_tensor(*f, "scalar", DType::kF32, {}, bytes_of(std::vector<float>{42.0f}));
  expect_tensor(*f, "empty", DType::kF32, {0, 3}, {});
  expect_tensor(*f, "huge_but_empty", DType::kF64, {9223372036854775807LL, 0}, {});
  expect_tensor(*f, "one", DType::kU8, {1, 1, 1, 1}, {9});
  ck_assert_int_eq(f->find("scalar")->numel(), 1);
  ck_assert_int_eq(f->find("empty")->numel(), 0);

  // "{}" alone, with the minimum header length of 2.
  f = parse(raw_file("{}"), &err);
  ck_assert_msg(f != nullptr, "parse failed: %s", err.c_str());
  ck_assert_uint_eq(f->tensors().size(), 0);
  ck_assert_uint_eq(f->metadata().size(), 0);

  // Zero-size tensors inside another's bytes and at the end of the data.
  f = parse(raw_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                     R"("z1":{"dtype":"F32","shape":[0],"data_offsets":[2,2]},)"
                     R"("z2":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                     {1, 2, 3, 4}),
            &err);
  ck_assert_msg(f != nullptr, "parse failed: %s", err.c_str());
  ck_assert_uint_eq(f->find("z2")->nbytes, 0);
}
END_TEST

START_TEST(test_layout) {
  // Offsets out of header order, touching ranges, a gap, data at odd
  // (unaligned) positions, JSON white space everywhere.
  const Bytes data = counting(32, 3);
  const std::string header =
      "{ \"b\" : { \"shape\" : [ 2 ] ,\n\t\"data_offsets\" : [ 9 , 17 ] , \"dtype\" : \"F32\" } ,\r\n"
      "  \"a\":{\"dtype\":\"I8\",\"shape\":[9],\"data_offsets\":[0,9]},"
      "  \"c\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[21,29]}}     ";
  std::string err;
  auto f = parse(raw_file(header, data), &err);
  ck_assert_msg(f != nullptr, "parse failed: %s", err.c_str());
  expect_tensor(*f, "a", DType::kI8, {9}, Bytes(data.begin(), data.begin() + 9));
  expect_tensor(*f, "b", DType::kF32, {2}, Bytes(data.begin() + 9, data.begin() + 17));
  expect_tensor(*f, "c", DType::kF64, {1}, Bytes(data.begin() + 21, data.begin() + 29));
  // Consumers copy; the pointer itself may be unaligned.
  double c = 0;
  std::memcpy(&c, f->find("c")->data, sizeof c);
  double expected = 0;
  std::memcpy(&expected, data.data() + 21, sizeof expected);
  ck_assert(std::memcmp(&c, &expected, sizeof c) == 0);
}
END_TEST

START_TEST(test_strings) {
  // Escapes in names and metadata: \" \\ \/ \b \f \n \r \t, \u00e9, a
  // surrogate pair, raw UTF-8, an escaped NUL.
  const std::string header =
      R"({"__metadata__":{"q\"b\\s\/":"\b\f\n\r\t","caf\u00e9":"\ud83d\ude00 \u2713","raw":"é✓😀","nul":"a\u0000b"},)"
      R"("w\u00e9\uD83D\uDE00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  std::string err;
  auto f = parse(raw_file(header, {5}), &err);
  ck_assert_msg(f != nullptr, "parse failed: %s", err.c_str());
  EXPECT_STR(f->meta("q\"b\\s/"), "\b\f\n\r\t");
  EXPECT_STR(f->meta("caf\xC3\xA9"), "\xF0\x9F\x98\x80 \xE2\x9C\x93");
  EXPECT_STR(f->meta("raw"), "\xC3\xA9\xE2\x9C\x93\xF0\x9F\x98\x80");
  ck_assert(f->meta("nul") == std::string("a\0b", 3));
  expect_tensor(*f, "w\xC3\xA9\xF0\x9F\x98\x80", DType::kU8, {1}, {5});
}
END_TEST

std::string temp_dir() {
  const char *base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/test_safetensors.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  ck_assert_msg(mkdtemp(buf.data()) != nullptr, "mkdtemp failed");
  return buf.data();
}

void write_file(const std::string &path, const Bytes &b) {
  FILE *fp = std::fopen(path.c_str(), "wb");
  ck_assert_msg(fp != nullptr, "cannot write %s", path.c_str());
  ck_assert_uint_eq(std::fwrite(b.data(), 1, b.size(), fp), b.size());
  std::fclose(fp);
}

START_TEST(test_open_roundtrip) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/model.safetensors";
  const Bytes w = counting(4 * 64 * 3, 1);
  write_file(path, build_file({{"features.0.weight", "F32", {64, 3}, w}}, {{"model", "x"}}));
  std::string err;
  auto f = SafetensorsFile::open(path, &err);
  ck_assert_msg(f != nullptr, "open failed: %s", err.c_str());
  EXPECT_STR(f->path(), path);
  expect_tensor(*f, "features.0.weight", DType::kF32, {64, 3}, w);
  EXPECT_STR(f->meta("model"), "x");

  // A broken file on disk names the path and the tensor.
  Bytes broken = build_file({{"features.0.weight", "F32", {64, 3, 11, 11}, counting(23232)}});
  write_file(path, broken);
  f = SafetensorsFile::open(path, &err);
  ck_assert(f == nullptr);
  const std::string want = path +
                           ": tensor 'features.0.weight' has 23232 bytes of data, dtype F32 x shape [64,3,11,11] "
                           "needs 92928";
  EXPECT_STR(err, want);

  // A file cut short.
  broken = build_file({{"t", "F32", {4}, counting(16)}});
  broken.resize(broken.size() - 3);
  write_file(path, broken);
  f = SafetensorsFile::open(path, &err);
  ck_assert(f == nullptr);
  ck_assert_msg(err.find(path + ": data_offsets [0,16] end past the data section (13 bytes") == 0, "got: %s",
                err.c_str());
  ck_assert_msg(err.find("(tensor 't')") != std::string::npos, "got: %s", err.c_str());

  // An empty file.
  write_file(path, {});
  f = SafetensorsFile::open(path, &err);
  ck_assert(f == nullptr);
  EXPECT_STR(err, (path + ": file is 0 bytes, too short for the 8-byte header length"));

  // Errors may also be ignored.
  ck_assert(SafetensorsFile::open(path, nullptr) == nullptr);
  unlink(path.c_str());
  rmdir(dir.c_str());
}
END_TEST

START_TEST(test_open_errors) {
  const std::string dir = temp_dir();
  std::string err;
  auto f = SafetensorsFile::open(dir + "/missing.safetensors", &err);
  ck_assert(f == nullptr);
  EXPECT_STR(err, (dir + "/missing.safetensors: cannot open: No such file or directory"));

  f = SafetensorsFile::open(dir, &err);
  ck_assert(f == nullptr);
  EXPECT_STR(err, (dir + ": is a directory, not a safetensors file"));

  f = SafetensorsFile::open("/dev/null", &err);
  ck_assert(f == nullptr);
  EXPECT_STR(err, "/dev/null: is not a regular file");

  f = SafetensorsFile::open("", &err);
  ck_assert(f == nullptr);
  ck_assert_msg(err.find("empty path") != std::string::npos, "got: %s", err.c_str());

  f = SafetensorsFile::open(dir + "/missing/x.safetensors", &err);
  ck_assert(f == nullptr);
  ck_assert_msg(err.find("/missing/x.safetensors: cannot open: ") != std::string::npos, "got: %s", err.c_str());
  rmdir(dir.c_str());
}
END_TEST

// ---------------------------------------------------------------------------
// Malformed inputs
// ---------------------------------------------------------------------------

struct Bad {
  std::string what;
  Bytes bytes;
  std::string expect;  // substring of the error
};

std::vector<Bad> g_bad;

void add(const std::string &what, Bytes bytes, const std::string &expect) {
  g_bad.push_back({what, std::move(bytes), expect});
}

void add_header(const std::string &what, const std::string &header, const std::string &expect, size_t data_size = 0) {
  add(what, raw_file(header, Bytes(data_size, 0)), expect);
}

void build_bad_table() {
  const std::string ok_t = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  // --- Length prefix
  add("0 bytes", {}, "mem.safetensors: file is 0 bytes, too short for the 8-byte header length");
  add("7 bytes", Bytes(7, 0), "file is 7 bytes, too short");
  add("length 0", with_length("", 0), "header length 0 is too small");
  add("length 1", with_length("{", 1), "header length 1 is too small");
  add("length 2^63", with_length("{}", uint64_t{1} << 63), "header length 9223372036854775808 exceeds the limit");
  add("length 100 MiB + 1", with_length("{}", (uint64_t{100} << 20) + 1), "exceeds the limit of 104857600 bytes");
  add("length past the file", with_length("{}", 3), "header length 3 exceeds the file: 10 bytes, 11 needed");
  {
    Bytes b = with_length("{\"t\":" + ok_t + "}", 60);
    add("header truncated", b, "header length 60 exceeds the file");
  }
  // --- JSON syntax
  add_header("not JSON", "hello",
             "header is not valid JSON: unexpected 'h' where a value should start at header byte 0");
  add_header("JSON array", "[]", "header is an array, not a JSON object");
  add_header("JSON string", "\"{}\"", "header is a string, not a JSON object");
  add_header("JSON number", "12", "header is a number, not a JSON object");
  add_header("unterminated object", "{ ", "unexpected end of the header inside an object");
  add_header("trailing garbage", "{}x", "'x' after the end of the JSON value (only spaces may pad the header)");
  add_header("second value", "{} {}", "'{' after the end of the JSON value");
  add_header("trailing newline", "{}\n", "byte 0x0a after the end of the JSON value");
  add_header("NUL padding", std::string("{}\0\0", 4), "byte 0x00 after the end of the JSON value");
  add_header("trailing comma", "{\"t\":" + ok_t + ",}", "expected a string key, found '}'", 8);
  add_header("missing colon", "{\"t\" " + ok_t + "}", "expected ':' after an object key");
  add_header("missing comma", R"({"t":{"dtype":"F32" "shape":[2],"data_offsets":[0,8]}})",
             "expected ',' or '}' in an object, found '\"' at header byte 20 (tensor 't')", 8);
  add_header("array missing comma", R"({"t":{"dtype":"F32","shape":[2 3],"data_offsets":[0,8]}})",
             "expected ',' or ']' in an array, found '3'", 8);
  add_header("bare key", "{t:1}", "expected a string key, found 't'");
  add_header("bad literal", R"({"__metadata__":{"a":tru}})", "invalid literal at header byte 21 (in __metadata__)");
  add_header("unterminated string", "{\"abc", "unterminated string");
  add_header("bad escape", R"({"__metadata__":{"a":"x\qy"}})", "invalid escape \\q");
  add_header("bad \\u escape", R"({"__metadata__":{"a":"\u12G4"}})", "invalid \\u escape ('G' is not a hex digit)");
  add_header("truncated \\u escape", R"({"__metadata__":{"a":"\u12)", "truncated \\u escape");
  add_header("lone high surrogate", R"({"__metadata__":{"a":"\uD83Dx"}})", "lone high surrogate");
  add_header("high + non-low surrogate", R"({"__metadata__":{"a":"\uD83D\u0041"}})", "lone high surrogate");
  add_header("lone low surrogate", R"({"__metadata__":{"a":"\uDE00"}})", "lone low surrogate");
  add_header("control character", "{\"__metadata__\":{\"a\":\"x\ty\"}}", "unescaped control character (byte 0x09)");
  add_header("invalid UTF-8 byte", "{\"t\xFF\":" + ok_t + "}", "invalid UTF-8 in a string (byte 0xff)", 8);
  add_header("overlong UTF-8", "{\"t\xC0\x80\":" + ok_t + "}", "invalid UTF-8 in a string (byte 0xc0)", 8);
  add_header("UTF-8 surrogate", "{\"t\xED\xA0\x80\":" + ok_t + "}", "invalid UTF-8 in a string (byte 0xa0 in a 3-byte",
             8);
  add_header("UTF-8 above U+10FFFF", "{\"t\xF4\x90\x80\x80\":" + ok_t + "}", "invalid UTF-8", 8);
  add_header("truncated UTF-8", "{\"t\xE2\x9C", "invalid UTF-8 in a string (truncated character)");
  add_header("leading zero", R"({"t":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}})",
             "invalid number (leading zero) at header byte 30 (tensor 't')", 8);
  add_header("bare minus", R"({"t":{"dtype":"F32","shape":[-],"data_offsets":[0,8]}})",
             "invalid number (no digit after '-')", 8);
  add_header("bare dot", R"({"t":{"dtype":"F32","shape":[2.],"data_offsets":[0,8]}})", "no digit after '.'", 8);
  add_header("bare exponent", R"({"t":{"dtype":"F32","shape":[2e],"data_offsets":[0,8]}})", "no digit in the exponent",
             8);
  add_header("NUL in header", std::string("{\0}", 3), "expected a string key, found byte 0x00");
  {
    std::string deep = "{\"__metadata__\":";
    for (int i = 0; i < 70; ++i) deep += "[";
    for (int i = 0; i < 70; ++i) deep += "]";
    add_header("deep nesting", deep + "}", "JSON nested deeper than 64 levels");
    std::string deep_obj;
    for (int i = 0; i < 100; ++i) deep_obj += "{\"a\":";
    add_header("deep objects, unterminated", deep_obj, "JSON nested deeper than 64 levels");
  }
  // --- Schema: top level and metadata
  add_header("duplicate tensor", "{\"t\":" + ok_t + ",\"t\":" + ok_t + "}",
             "name appears twice in the header (tensor 't')", 8);
  add_header("duplicate __metadata__", R"({"__metadata__":{},"__metadata__":{}})", "duplicate key '__metadata__'");
  add_header("duplicate metadata key", R"({"__metadata__":{"k":"a","k":"b"}})", "duplicate key 'k' in __metadata__");
  add_header("metadata number value", R"({"__metadata__":{"version":1}})",
             "__metadata__ value of 'version' is a number, not a string");
  add_header("metadata null value", R"({"__metadata__":{"version":null}})", "is null, not a string");
  add_header("metadata nested object", R"({"__metadata__":{"a":{"b":"c"}}})", "is an object, not a string");
  add_header("metadata array", R"({"__metadata__":["a","b"]})", "__metadata__ is an array, not an object of strings");
  // --- Schema: tensor entries
  add_header("entry not an object", R"({"t":[1,2]})", "entry is an array, not an object (tensor 't')");
  add_header("unknown key", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"offsets":[0,8]}})",
             "unknown key 'offsets' (only dtype, shape and data_offsets are allowed) (tensor 't')", 8);
  add_header("duplicate key in entry", R"({"t":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
             "duplicate key 'dtype' (tensor 't')", 8);
  add_header("missing dtype", R"({"t":{"shape":[2],"data_offsets":[0,8]}})", "missing key 'dtype' (tensor 't')", 8);
  add_header("missing shape", R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", "missing key 'shape'", 8);
  add_header("missing data_offsets", R"({"t":{"dtype":"F32","shape":[2]}})", "missing key 'data_offsets'", 8);
  add_header("empty entry", R"({"t":{}})", "missing key 'dtype' (tensor 't')");
  add_header(
      "bad dtype", R"({"features.0.weight":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})",
      "unknown dtype 'F8' (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL) (tensor 'features.0.weight')",
      2);
  add_header("lower-case dtype", R"({"t":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", "unknown dtype 'f32'", 8);
  add_header("dtype number", R"({"t":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", "dtype is a number, not a string",
             8);
  add_header("shape not array", R"({"t":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})",
             "shape is a string, not an array", 8);
  add_header("negative shape", R"({"t":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,8]}})",
             "shape[1] is -3, not a non-negative integer (tensor 't')", 8);
  add_header("negative zero shape", R"({"t":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}})",
             "shape[0] is -0, not a non-negative integer");
  add_header("float shape", R"({"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})",
             "shape[0] is 2.0, not a non-negative integer", 8);
  add_header("exponent shape", R"({"t":{"dtype":"F32","shape":[1e2],"data_offsets":[0,400]}})",
             "shape[0] is 1e2, not a non-negative integer", 400);
  add_header("string shape entry", R"({"t":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})",
             "shape[0] is a string, not a non-negative integer", 8);
  add_header("shape entry past int64", R"({"t":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,8]}})",
             "shape[0] is 9223372036854775808, larger than the int64 maximum", 8);
  add_header("shape entry far past int64",
             R"({"t":{"dtype":"U8","shape":[123456789012345678901234567890],"data_offsets":[0,8]}})",
             "larger than the int64 maximum", 8);
  add_header("shape product overflow", R"({"t":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
             "shape [4294967296,4294967296] has too many elements (overflows int64) (tensor 't')", 8);
  add_header("byte count overflow", R"({"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}})",
             "dtype F64 x shape [2305843009213693952] is too many bytes (overflows int64)", 8);
  {
    std::string rank = R"({"t":{"dtype":"U8","shape":[)";
    for (int i = 0; i < 65; ++i) rank += i ? ",1" : "1";
    add_header("rank 65", rank + R"(],"data_offsets":[0,1]}})", "shape has more than 64 dimensions", 1);
  }
  add_header("offsets not array", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":8}})",
             "data_offsets is a number, not an array [begin, end]", 8);
  add_header("offsets 1 entry", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8]}})",
             "data_offsets has 1 entry, not 2", 8);
  add_header("offsets 3 entries", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}})",
             "data_offsets has 3 entries, not 2", 16);
  add_header("offsets negative", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})",
             "data_offsets begin is -8, not a non-negative integer", 8);
  add_header("offsets float", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})",
             "data_offsets end is 8.0, not a non-negative integer", 8);
  add_header("offsets reversed", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",
             "data_offsets [8,0] are reversed (begin > end) (tensor 't')", 8);
  add_header("offsets past end", R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
             "data_offsets [4,12] end past the data section (8 bytes after the header; truncated file?) (tensor 't')",
             8);
  add_header("offsets past int64", R"({"t":{"dtype":"U8","shape":[0],"data_offsets":[0,18446744073709551616]}})",
             "data_offsets end is 18446744073709551616, larger than the int64 maximum");
  add_header(
      "size mismatch", R"({"features.0.weight":{"dtype":"F32","shape":[64,3,11,11],"data_offsets":[0,23232]}})",
      "mem.safetensors: tensor 'features.0.weight' has 23232 bytes of data, dtype F32 x shape [64,3,11,11] needs "
      "92928",
      23232);
  add_header("size mismatch, BF16", R"({"t":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}})",
             "tensor 't' has 8 bytes of data, dtype BF16 x shape [3] needs 6", 8);
  add_header("size mismatch, empty", R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[0,4]}})",
             "has 4 bytes of data, dtype F32 x shape [0] needs 0", 8);
  add_header(
      "overlap",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      "data_offsets [4,12] overlap those of tensor 'a' [0,8] (tensor 'b')", 12);
  add_header(
      "overlap, same range",
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
      "overlap those of tensor", 4);
  add_header(
      "overlap, contained, header order reversed",
      R"({"inner":{"dtype":"U8","shape":[2],"data_offsets":[20,22]},"mid":{"dtype":"U8","shape":[8],"data_offsets":[8,16]},)"
      R"("outer":{"dtype":"U8","shape":[30],"data_offsets":[2,32]}})",
      "data_offsets [8,16] overlap those of tensor 'outer' [2,32] (tensor 'mid')", 32);
  add_header(
      "overlap behind a long tensor",
      R"({"long":{"dtype":"U8","shape":[100],"data_offsets":[0,100]},"a":{"dtype":"U8","shape":[10],"data_offsets":[10,20]},)"
      R"("b":{"dtype":"U8","shape":[10],"data_offsets":[50,60]}})",
      "overlap those of tensor 'long'", 100);
  {
    Bytes b = build_file({{"t", "F32", {4}, counting(16)}});
    b.resize(b.size() - 1);
    add("truncated data", b,
        "data_offsets [0,16] end past the data section (15 bytes after the header; truncated file?)");
  }
  // Names are shown on one line, control bytes escaped.
  add_header("newline in a name", R"({"a\nb":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", "(tensor 'a\\x0ab')",
             8);
  add_header("long name", "{\"" + std::string(500, 'n') + "\":{\"dtype\":\"F33\",\"shape\":[],\"data_offsets\":[0,4]}}",
             "(tensor '" + std::string(120, 'n') + "...')", 4);
}

START_TEST(test_malformed) {
  const Bad &bad = g_bad[static_cast<size_t>(_i)];
  std::string err;
  auto f = SafetensorsFile::parse(bad.bytes.data(), bad.bytes.size(), "mem.safetensors", &err);
  ck_assert_msg(f == nullptr, "case '%s': accepted", bad.what.c_str());
  std::printf("malformed %-40s -> %s\n", bad.what.c_str(), err.c_str());
  std::fflush(stdout);
  ck_assert_msg(err.rfind("mem.safetensors: ", 0) == 0, "case '%s': error does not start with the label: %s",
                bad.what.c_str(), err.c_str());
  ck_assert_msg(err.find('\n') == std::string::npos && err.find('\r') == std::string::npos,
                "case '%s': error is not one line: %s", bad.what.c_str(), err.c_str());
  ck_assert_msg(err.find(bad.expect) != std::string::npos, "case '%s': error\n  %s\nlacks\n  %s", bad.what.c_str(),
                err.c_str(), bad.expect.c_str());
  // Errors may also be ignored.
  ck_assert(SafetensorsFile::parse(bad.bytes.data(), bad.bytes.size(), "x", nullptr) == nullptr);
}
END_TEST

START_TEST(test_prefixes) {
  // Every proper prefix of a valid file is rejected cleanly (the sanitizer
  // builds of the fuzzer check the "cleanly" part more strictly).
  const Bytes file = build_file({{"a", "F16", {3}, counting(6)}, {"b", "U8", {2}, {1, 2}}}, {{"model", "m"}});
  for (size_t n = 0; n < file.size(); ++n) {
    std::string err;
    auto f = SafetensorsFile::parse(file.data(), n, "prefix", &err);
    ck_assert_msg(f == nullptr, "prefix of %zu bytes accepted", n);
    ck_assert_msg(err.rfind("prefix: ", 0) == 0, "prefix of %zu bytes: %s", n, err.c_str());
  }
  std::string err;
  ck_assert_msg(SafetensorsFile::parse(file.data(), file.size(), "whole", &err) != nullptr, "%s", err.c_str());
  ck_assert(SafetensorsFile::parse(nullptr, 0, "null", &err) == nullptr);
  EXPECT_STR(err, "null: file is 0 bytes, too short for the 8-byte header length");
}
END_TEST

// ---------------------------------------------------------------------------
// The file written by tests/models/write_safetensors.py
// ---------------------------------------------------------------------------

template <typename T>
std::vector<T> values(const SafetensorsFile &f, const std::string &name) {
  const TensorView *t = f.find(name);
  ck_assert_msg(t != nullptr, "tensor '%s' missing", name.c_str());
  ck_assert_msg(t->nbytes % sizeof(T) == 0, "tensor '%s': %zu bytes", name.c_str(), t->nbytes);
  std::vector<T> v(t->nbytes / sizeof(T));
  if (t->nbytes) std::memcpy(v.data(), t->data, t->nbytes);
  return v;
}

void expect_meta(const TensorView *t, const char *name, DType dtype, const std::vector<int64_t> &shape) {
  ck_assert_msg(t != nullptr, "tensor '%s' missing", name);
  ck_assert_msg(t->dtype == dtype, "tensor '%s': dtype %s", name, s2s::dtype_name(t->dtype));
  ck_assert_msg(t->shape == shape, "tensor '%s': shape %s", name, shape_str(t->shape).c_str());
}

// Registered only with S2S_SAMPLE_SAFETENSORS set (made by NumPy at configure time).
START_TEST(test_python_sample) {
  const char *path = std::getenv("S2S_SAMPLE_SAFETENSORS");
  std::string err;
  auto f = SafetensorsFile::open(path, &err);
  ck_assert_msg(f != nullptr, "open failed: %s", err.c_str());

  ck_assert_uint_eq(f->metadata().size(), 4);
  EXPECT_STR(f->meta("model"), "lpips-alex");
  EXPECT_STR(f->meta("version"), "0.1");
  EXPECT_STR(f->meta("preprocessing"), "RGB, scaled to [-1,1], NCHW");
  EXPECT_STR(f->meta("note"), "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80 \"q\"\n");

  const char *const kOrder[] = {"bytes",
                                "features.0.weight",
                                "features.0.bias",
                                "half",
                                "double",
                                "count",
                                "i32",
                                "i16",
                                "i8",
                                "mask",
                                "bf16",
                                "scalar",
                                "empty",
                                "lin.\xC3\xA9\xF0\x9F\x98\x80"};
  ck_assert_uint_eq(f->tensors().size(), 14);
  for (size_t i = 0; i < 14; ++i) EXPECT_STR(f->tensors()[i].name, kOrder[i]);

  expect_meta(f->find("bytes"), "bytes", DType::kU8, {5});
  ck_assert(values<uint8_t>(*f, "bytes") == (std::vector<uint8_t>{0, 1, 127, 128, 255}));

  expect_meta(f->find("features.0.weight"), "features.0.weight", DType::kF32, {4, 3, 2, 2});
  const std::vector<float> w = values<float>(*f, "features.0.weight");
  ck_assert_uint_eq(w.size(), 48);
  for (size_t i = 0; i < 48; ++i) ck_assert_msg(w[i] == static_cast<float>(i) * 0.25f - 5.0f, "w[%zu] = %g", i, w[i]);
  ck_assert_msg(reinterpret_cast<uintptr_t>(f->find("features.0.weight")->data) % 4 != 0,
                "the sample is meant to hold unaligned F32 data");

  expect_meta(f->find("features.0.bias"), "features.0.bias", DType::kF32, {4});
  ck_assert(values<float>(*f, "features.0.bias") == (std::vector<float>{0.5f, -1.0f, 3.25f, 1e30f}));

  expect_meta(f->find("half"), "half", DType::kF16, {2, 3});
  ck_assert(values<uint16_t>(*f, "half") == (std::vector<uint16_t>{0x0000, 0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001}));

  expect_meta(f->find("double"), "double", DType::kF64, {3});
  const std::vector<double> d = values<double>(*f, "double");
  ck_assert(d[0] == 3.141592653589793);
  ck_assert(d[1] == 0.0 && std::signbit(d[1]));
  ck_assert(d[2] == 1e300);

  expect_meta(f->find("count"), "count", DType::kI64, {2});
  ck_assert(values<int64_t>(*f, "count") == (std::vector<int64_t>{(int64_t{1} << 40) + 3, -7}));
  expect_meta(f->find("i32"), "i32", DType::kI32, {2});
  ck_assert(values<int32_t>(*f, "i32") == (std::vector<int32_t>{INT32_MIN, INT32_MAX}));
  expect_meta(f->find("i16"), "i16", DType::kI16, {2});
  ck_assert(values<int16_t>(*f, "i16") == (std::vector<int16_t>{-32768, 12345}));
  expect_meta(f->find("i8"), "i8", DType::kI8, {3});
  ck_assert(values<int8_t>(*f, "i8") == (std::vector<int8_t>{-128, 127, -1}));
  expect_meta(f->find("mask"), "mask", DType::kBool, {3});
  ck_assert(values<uint8_t>(*f, "mask") == (std::vector<uint8_t>{1, 0, 1}));
  expect_meta(f->find("bf16"), "bf16", DType::kBF16, {2, 2});
  ck_assert(values<uint16_t>(*f, "bf16") == (std::vector<uint16_t>{0x3F80, 0xC000, 0x4049, 0x0000}));
  expect_meta(f->find("scalar"), "scalar", DType::kF32, {});
  ck_assert(values<float>(*f, "scalar") == (std::vector<float>{42.0f}));
  expect_meta(f->find("empty"), "empty", DType::kF32, {0, 3});
  ck_assert_uint_eq(f->find("empty")->nbytes, 0);
  expect_meta(f->find("lin.\xC3\xA9\xF0\x9F\x98\x80"), "lin.e-acute.emoji", DType::kF32, {1});
  ck_assert(values<float>(*f, "lin.\xC3\xA9\xF0\x9F\x98\x80") == (std::vector<float>{7.0f}));
}
END_TEST

Suite *safetensors_suite() {
  Suite *s = suite_create("safetensors");
  TCase *valid = tcase_create("valid");
  tcase_add_test(valid, test_basic);
  tcase_add_test(valid, test_all_dtypes);
  tcase_add_test(valid, test_edge_shapes);
  tcase_add_test(valid, test_layout);
  tcase_add_test(valid, test_strings);
  suite_add_tcase(s, valid);

  TCase *files = tcase_create("open");
  tcase_add_test(files, test_open_roundtrip);
  tcase_add_test(files, test_open_errors);
  const char *sample = std::getenv("S2S_SAMPLE_SAFETENSORS");
  if (sample && *sample)
    tcase_add_test(files, test_python_sample);
  else
    std::printf("SKIP: test_python_sample: S2S_SAMPLE_SAFETENSORS unset (no numpy at configure time)\n");
  suite_add_tcase(s, files);

  TCase *malformed = tcase_create("malformed");
  tcase_add_loop_test(malformed, test_malformed, 0, static_cast<int>(g_bad.size()));
  tcase_add_test(malformed, test_prefixes);
  suite_add_tcase(s, malformed);
  return s;
}

}  // namespace

int main() {
  build_bad_table();
  std::printf("safetensors: %zu malformed cases\n", g_bad.size());
  SRunner *sr = srunner_create(safetensors_suite());
  srunner_run_all(sr, CK_NORMAL);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
