// Fuzz target for the safetensors reader (models/safetensors.cpp), for
// libFuzzer or tests/fuzz/standalone_driver.cpp; tests/fuzz/run_fuzz.sh
// builds and runs it with ASan + UBSan.
//
// Besides "no crash, no out-of-bounds read" (the sanitizers' part) it checks
// what the reader promises and aborts when a promise is broken:
//   - a rejected input gives one line starting with the label;
//   - an accepted file: every tensor's bytes are readable (all are read),
//     nbytes = numel x dtype size, names are unique and find() finds them,
//     non-empty tensors do not overlap;
//   - written back by a small writer of our own and parsed again, an
//     accepted file gives the same names, dtypes, shapes, bytes and metadata.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "safetensors.h"

namespace {

[[noreturn]] void broken(const char *what, const std::string &detail) {
  std::fprintf(stderr, "fuzz_safetensors: broken promise: %s: %s\n", what, detail.c_str());
  std::abort();
}

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);  // UTF-8 the reader has validated
    }
  }
  return out + "\"";
}

// The file as a writer would produce it: metadata first, tensors one after
// the other in the reader's order, space padding to a multiple of 8.
std::vector<uint8_t> rewrite(const s2s::SafetensorsFile &f) {
  std::string h = "{";
  if (!f.metadata().empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (const auto &kv : f.metadata()) {
      h += (first ? "" : ",") + json_string(kv.first) + ":" + json_string(kv.second);
      first = false;
    }
    h += "}";
  }
  size_t offset = 0;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const s2s::TensorView &t = f.tensors()[i];
    if (i || !f.metadata().empty()) h += ",";
    h += json_string(t.name) + ":{\"dtype\":\"" + s2s::dtype_name(t.dtype) + "\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) h += (d ? "," : "") + std::to_string(t.shape[d]);
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.nbytes) + "]}";
    offset += t.nbytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<uint8_t> out;
  out.reserve(8 + h.size() + offset);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(h.size()) >> (8 * i)));
  out.insert(out.end(), h.begin(), h.end());
  for (const s2s::TensorView &t : f.tensors()) out.insert(out.end(), t.data, t.data + t.nbytes);
  return out;
}

void check_accepted(const s2s::SafetensorsFile &f) {
  volatile uint8_t sink = 0;
  std::set<std::string> names;
  std::vector<std::pair<const uint8_t *, const uint8_t *>> ranges;
  for (const s2s::TensorView &t : f.tensors()) {
    if (!names.insert(t.name).second) broken("duplicate name accepted", t.name);
    if (f.find(t.name) != &t) broken("find() does not return the tensor", t.name);
    if (t.name == "__metadata__") broken("__metadata__ taken as a tensor", t.name);
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) broken("negative dimension accepted", t.name);
      numel *= d;  // the reader guarantees no overflow (UBSan checks it)
    }
    if (numel != t.numel()) broken("numel()", t.name);
    if (static_cast<uint64_t>(numel) * s2s::dtype_size(t.dtype) != t.nbytes)
      broken("nbytes != numel x dtype size", t.name);
    if (t.nbytes && !t.data) broken("null data", t.name);
    for (size_t i = 0; i < t.nbytes; ++i) sink = static_cast<uint8_t>(sink + t.data[i]);  // ASan checks the bounds
    if (t.nbytes) ranges.emplace_back(t.data, t.data + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) broken("overlapping tensors accepted", std::to_string(i));
  for (const auto &kv : f.metadata())
    if (f.meta(kv.first,
               "\x01"
               "absent") != kv.second)
      broken("meta()", kv.first);
  (void)sink;

  // Round trip.
  const std::vector<uint8_t> again = rewrite(f);
  std::string error;
  auto g = s2s::SafetensorsFile::parse(again.data(), again.size(), "rewritten", &error);
  if (!g) broken("rewritten file rejected", error);
  if (g->metadata() != f.metadata()) broken("metadata differ after a round trip", "");
  if (g->tensors().size() != f.tensors().size()) broken("tensor count differs after a round trip", "");
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const s2s::TensorView &a = f.tensors()[i], &b = g->tensors()[i];
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.nbytes != b.nbytes ||
        (a.nbytes && std::memcmp(a.data, b.data, a.nbytes) != 0))
      broken("tensor differs after a round trip", a.name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  auto f = s2s::SafetensorsFile::parse(data, size, "fuzz", &error);
  if (!f) {
    if (error.compare(0, 6, "fuzz: ") != 0) broken("error does not start with the label", error);
    if (error.find_first_of("\n\r") != std::string::npos) broken("error is not one line", error);
    return 0;
  }
  if (!error.empty()) broken("error set on success", error);
  if (f->path() != "fuzz") broken("path()", f->path());
  check_accepted(*f);
  return 0;
}
