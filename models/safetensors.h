// Reader for safetensors weight files, written for untrusted input.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {str: str}, "<tensor>": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ...}, then the data; offsets are relative
// to the end of the header.
//
// Everything is validated before any tensor is exposed: header length bounds,
// JSON syntax, dtypes, shapes (non-negative, no overflow), offsets inside the
// file, sizes matching dtype x shape, no two tensors overlapping. Any
// violation gives an error naming the file (and the tensor), never a crash
// or an out-of-bounds read. No LibTorch, no GStreamer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace s2s {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as written in the file.
const char *dtype_name(DType d);
size_t dtype_size(DType d);

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data;  // inside the file's bytes, valid while the file lives
  size_t nbytes;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Reads and validates `path`. On failure returns nullptr and sets *error
  // to one line naming the path and, where it applies, the tensor.
  static std::unique_ptr<SafetensorsFile> open(const std::string &path, std::string *error);

  // Same from bytes already in memory (copied); `label` names them in
  // errors. Used by the fuzzer and the tests.
  static std::unique_ptr<SafetensorsFile> parse(const uint8_t *bytes, size_t size, const std::string &label,
                                                std::string *error);

  const std::string &path() const { return path_; }
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  const std::vector<TensorView> &tensors() const { return tensors_; }
  // nullptr if absent.
  const TensorView *find(const std::string &name) const;

  // Metadata value or `fallback`.
  std::string meta(const std::string &key, const std::string &fallback = "") const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::vector<uint8_t> bytes_;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorView> tensors_;
};

}  // namespace s2s
