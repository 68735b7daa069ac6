// Safetensors reader for untrusted files; the format and the rules are in
// safetensors.h. The header is parsed by a small strict JSON parser of our
// own (no dependency), then checked as a whole before any tensor is exposed.
#include "safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <set>
#include <utility>

namespace s2s {

namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;  // 100 MiB
constexpr int kMaxDepth = 64;                              // JSON nesting
constexpr size_t kMaxShownBytes = 120;                     // of a name in a message
constexpr size_t kMaxShownDims = 16;                       // of a shape in a message
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// A user-controlled string (tensor name, key, dtype, number text, path) as
// it may appear inside a one-line message: control bytes escaped, long
// strings cut (at a UTF-8 character boundary) and marked with "...".
std::string shown(const std::string &s) {
  std::string out;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool continuation = (c & 0xC0) == 0x80;
    if (out.size() >= kMaxShownBytes && !continuation) break;
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

std::string quoted(const std::string &s) {
  return "'" + shown(s) + "'";
}

std::string describe_byte(unsigned char c) {
  char buf[16];
  if (c >= 0x21 && c < 0x7F)
    std::snprintf(buf, sizeof buf, "'%c'", c);
  else
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  return buf;
}

std::string shape_text(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i == kMaxShownDims) {
      out += ",...(" + std::to_string(shape.size()) + " dims)";
      break;
    }
    if (i) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// ---------------------------------------------------------------------------
// JSON
//
// The header is read twice. Pass 1 checks that it is strict RFC 8259 JSON
// (UTF-8, escapes, surrogate pairs, number syntax, nesting depth, nothing
// but space padding after it) without storing anything. Pass 2 walks the
// now known-good text along the safetensors schema and keeps only what the
// file exposes, so a hostile header costs little more memory than its size.
// ---------------------------------------------------------------------------

bool is_digit(uint8_t c) {
  return c >= '0' && c <= '9';
}

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string *out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A JSON number as written.
struct Number {
  std::string text;
  bool is_count = false;  // a non-negative integer: no '-', '.', exponent
  bool fits = false;      // ... whose value fits int64
  int64_t value = 0;      // that value when both hold
};

class Scanner {
 public:
  Scanner(const uint8_t *p, size_t n) : p_(p), n_(n) {}

  // Pass 1: the whole header is one JSON value and space padding.
  bool check_document() {
    pos_ = 0;
    ws();
    if (!skip_value(0)) return false;
    while (pos_ < n_ && p_[pos_] == ' ') ++pos_;
    if (pos_ < n_)
      return fail(describe_byte(p_[pos_]) + " after the end of the JSON value (only spaces may pad the header)");
    return true;
  }

  const std::string &error() const { return error_; }

  // Pass 2 primitives. They check again what they read, so they are safe
  // on any input, but after pass 1 they do not fail.
  void rewind() { pos_ = 0; }
  void ws() {
    while (pos_ < n_) {
      const uint8_t c = p_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }
  // Next byte after white space, 0 at the end.
  uint8_t peek() {
    ws();
    return pos_ < n_ ? p_[pos_] : 0;
  }
  // Consumes `c` (after white space) if it is next.
  bool eat(uint8_t c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  // Kind of the value starting with byte c, with its article, for messages.
  static const char *kind_of(uint8_t c) {
    switch (c) {
      case '{': return "an object";
      case '[': return "an array";
      case '"': return "a string";
      case 't':
      case 'f': return "a boolean";
      case 'n': return "null";
      default: return c == '-' || is_digit(c) ? "a number" : "not a value";
    }
  }
  // String at pos_ (after white space); out may be null.
  bool string(std::string *out) {
    if (peek() != '"') return fail("expected a string");
    ++pos_;
    for (;;) {
      if (pos_ >= n_) return fail("unterminated string");
      const uint8_t c = p_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (c < 0x20) {
        return fail("unescaped control character (" + describe_byte(c) + ") in a string");
      } else if (c < 0x80) {
        if (out) out->push_back(static_cast<char>(c));
        ++pos_;
      } else if (!utf8(out)) {
        return false;
      }
    }
  }
  // Number at pos_ (after white space); out may be null.
  bool number(Number *out) {
    ws();
    const size_t start = pos_;
    bool negative = false, fraction = false, exponent = false;
    if (pos_ < n_ && p_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    if (pos_ >= n_ || !is_digit(p_[pos_])) return fail("invalid number (no digit after '-')");
    if (p_[pos_] == '0') {
      ++pos_;
      if (pos_ < n_ && is_digit(p_[pos_])) return fail("invalid number (leading zero)");
    } else {
      while (pos_ < n_ && is_digit(p_[pos_])) ++pos_;
    }
    if (pos_ < n_ && p_[pos_] == '.') {
      fraction = true;
      ++pos_;
      if (pos_ >= n_ || !is_digit(p_[pos_])) return fail("invalid number (no digit after '.')");
      while (pos_ < n_ && is_digit(p_[pos_])) ++pos_;
    }
    if (pos_ < n_ && (p_[pos_] == 'e' || p_[pos_] == 'E')) {
      exponent = true;
      ++pos_;
      if (pos_ < n_ && (p_[pos_] == '+' || p_[pos_] == '-')) ++pos_;
      if (pos_ >= n_ || !is_digit(p_[pos_])) return fail("invalid number (no digit in the exponent)");
      while (pos_ < n_ && is_digit(p_[pos_])) ++pos_;
    }
    if (!out) return true;
    out->text.assign(reinterpret_cast<const char *>(p_ + start), pos_ - start);
    out->is_count = !negative && !fraction && !exponent;
    out->fits = false;
    out->value = 0;
    if (out->is_count) {
      int64_t v = 0;
      out->fits = true;
      for (size_t i = start; i < pos_; ++i) {
        const int d = p_[i] - '0';
        if (v > (kInt64Max - d) / 10) {
          out->fits = false;
          break;
        }
        v = v * 10 + d;
      }
      if (out->fits) out->value = v;
    }
    return true;
  }
  // Any value (syntax only); depth counts the containers around it.
  bool skip_value(int depth) {
    const uint8_t c = peek();
    if (pos_ >= n_) return fail("unexpected end of the header");
    switch (c) {
      case '{': return skip_object(depth + 1);
      case '[': return skip_array(depth + 1);
      case '"': return string(nullptr);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default:
        if (c == '-' || is_digit(c)) return number(nullptr);
        return fail("unexpected " + describe_byte(c) + " where a value should start");
    }
  }

 private:
  bool fail(const std::string &what) {
    if (error_.empty()) {
      error_ = what + " at header byte " + std::to_string(pos_);
      if (in_member_) error_ += member_ == "__metadata__" ? " (in __metadata__)" : " (tensor " + quoted(member_) + ")";
    }
    return false;
  }

  bool literal(const char *word) {
    const size_t len = std::strlen(word);
    if (n_ - pos_ < len || std::memcmp(p_ + pos_, word, len) != 0) return fail("invalid literal");
    pos_ += len;
    return true;
  }

  bool skip_object(int depth) {
    if (depth > kMaxDepth) return fail("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
    ++pos_;  // '{'
    if (eat('}')) return true;
    for (;;) {
      const uint8_t c = peek();
      if (pos_ >= n_) return fail("unexpected end of the header inside an object");
      if (c != '"') return fail("expected a string key, found " + describe_byte(c));
      // Top-level keys are kept to say which tensor a later error is in.
      std::string key;
      if (!string(depth == 1 ? &key : nullptr)) return false;
      if (!eat(':')) return fail("expected ':' after an object key");
      if (depth == 1) {
        member_ = std::move(key);
        in_member_ = true;
      }
      if (!skip_value(depth)) return false;
      if (depth == 1) in_member_ = false;
      const uint8_t d = peek();
      if (pos_ >= n_) return fail("unexpected end of the header inside an object");
      ++pos_;
      if (d == ',') continue;
      if (d == '}') return true;
      --pos_;
      return fail("expected ',' or '}' in an object, found " + describe_byte(d));
    }
  }

  bool skip_array(int depth) {
    if (depth > kMaxDepth) return fail("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
    ++pos_;  // '['
    if (eat(']')) return true;
    for (;;) {
      if (!skip_value(depth)) return false;
      const uint8_t d = peek();
      if (pos_ >= n_) return fail("unexpected end of the header inside an array");
      ++pos_;
      if (d == ',') continue;
      if (d == ']') return true;
      --pos_;
      return fail("expected ',' or ']' in an array, found " + describe_byte(d));
    }
  }

  // Four hex digits at pos_.
  bool hex4(uint32_t *cp) {
    if (n_ - pos_ < 4) return fail("truncated \\u escape");
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      const int h = hex_value(p_[pos_ + i]);
      if (h < 0) return fail("invalid \\u escape (" + describe_byte(p_[pos_ + i]) + " is not a hex digit)");
      v = (v << 4) | static_cast<uint32_t>(h);
    }
    pos_ += 4;
    *cp = v;
    return true;
  }

  bool escape(std::string *out) {
    if (n_ - pos_ < 2) return fail("unterminated string");
    const uint8_t c = p_[pos_ + 1];
    char simple = 0;
    switch (c) {
      case '"': simple = '"'; break;
      case '\\': simple = '\\'; break;
      case '/': simple = '/'; break;
      case 'b': simple = '\b'; break;
      case 'f': simple = '\f'; break;
      case 'n': simple = '\n'; break;
      case 'r': simple = '\r'; break;
      case 't': simple = '\t'; break;
      case 'u': break;
      default:
        return fail("invalid escape \\" +
                    (c >= 0x21 && c < 0x7F ? std::string(1, static_cast<char>(c)) : "followed by " + describe_byte(c)));
    }
    if (simple) {
      if (out) out->push_back(simple);
      pos_ += 2;
      return true;
    }
    pos_ += 2;  // "\u"
    uint32_t cp = 0;
    if (!hex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate in a \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (n_ - pos_ < 2 || p_[pos_] != '\\' || p_[pos_ + 1] != 'u')
        return fail("lone high surrogate in a \\u escape (no low surrogate follows)");
      pos_ += 2;
      uint32_t low = 0;
      if (!hex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) return fail("lone high surrogate in a \\u escape (no low surrogate follows)");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out) append_utf8(out, cp);
    return true;
  }

  // One UTF-8 character at pos_ (first byte >= 0x80): shortest form, no
  // surrogates, nothing above U+10FFFF.
  bool utf8(std::string *out) {
    const uint8_t c = p_[pos_];
    size_t len = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return fail("invalid UTF-8 in a string (" + describe_byte(c) + ")");
    }
    if (n_ - pos_ < len) return fail("invalid UTF-8 in a string (truncated character)");
    for (size_t i = 1; i < len; ++i) {
      const uint8_t b = p_[pos_ + i];
      if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
        return fail("invalid UTF-8 in a string (" + describe_byte(b) + " in a " + std::to_string(len) +
                    "-byte sequence)");
    }
    if (out) out->append(reinterpret_cast<const char *>(p_ + pos_), len);
    pos_ += len;
    return true;
  }

  const uint8_t *p_;
  size_t n_;
  size_t pos_ = 0;
  std::string error_;
  std::string member_;  // top-level key whose value is being read
  bool in_member_ = false;
};

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

constexpr size_t kMaxRank = 64;

bool dtype_from_name(const std::string &s, DType *d) {
  static const std::pair<const char *, DType> kNames[] = {
      {"F64", DType::kF64}, {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"I64", DType::kI64},
      {"I32", DType::kI32}, {"I16", DType::kI16}, {"I8", DType::kI8},   {"U8", DType::kU8},     {"BOOL", DType::kBool},
  };
  for (const auto &e : kNames) {
    if (s == e.first) {
      *d = e.second;
      return true;
    }
  }
  return false;
}

// What the file holds, data as offsets into the file bytes.
struct Layout {
  std::map<std::string, std::string> metadata;
  std::vector<TensorView> tensors;                    // data not yet set
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // data_offsets
  uint64_t data_start = 0;                            // 8 + header length
};

class Validator {
 public:
  explicit Validator(const std::string &label) : label_(shown(label)) {}

  bool run(const uint8_t *bytes, size_t size, Layout *out) {
    if (size < 8) return fail("file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
    if (n < 2) return fail("header length " + std::to_string(n) + " is too small (at least 2, for '{}')");
    if (n > kMaxHeaderBytes)
      return fail("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                  " bytes (100 MiB)");
    if (n > size - 8)
      return fail("header length " + std::to_string(n) + " exceeds the file: " + std::to_string(size) + " bytes, " +
                  std::to_string(n + 8) + " needed (truncated file?)");
    out->data_start = 8 + n;
    data_size_ = size - out->data_start;

    Scanner s(bytes + 8, static_cast<size_t>(n));
    if (!s.check_document()) return fail("header is not valid JSON: " + s.error());
    s.rewind();
    if (!header(s, out)) return false;
    return no_overlap(*out);
  }

  const std::string &error() const { return error_; }

 private:
  bool fail(const std::string &what) {
    error_ = label_ + ": " + what;
    return false;
  }
  bool fail(const std::string &what, const std::string &tensor) {
    error_ = label_ + ": " + what + " (tensor " + quoted(tensor) + ")";
    return false;
  }
  // A primitive failed after pass 1 accepted the header: cannot happen.
  bool internal(const Scanner &s) { return fail("header is not valid JSON: " + s.error()); }

  bool header(Scanner &s, Layout *out) {
    if (s.peek() != '{') return fail(std::string("header is ") + Scanner::kind_of(s.peek()) + ", not a JSON object");
    s.eat('{');
    if (s.eat('}')) return true;
    std::set<std::string> seen;
    do {
      std::string key;
      if (!s.string(&key) || !s.eat(':')) return internal(s);
      if (!seen.insert(key).second) {
        if (key == "__metadata__") return fail("duplicate key '__metadata__' in the header");
        return fail("name appears twice in the header", key);
      }
      if (key == "__metadata__") {
        if (!metadata(s, &out->metadata)) return false;
        continue;
      }
      out->tensors.emplace_back();
      out->ranges.emplace_back();
      if (!tensor(s, key, &out->tensors.back(), &out->ranges.back())) return false;
    } while (s.eat(','));
    if (!s.eat('}')) return internal(s);
    return true;
  }

  bool metadata(Scanner &s, std::map<std::string, std::string> *out) {
    if (s.peek() != '{')
      return fail(std::string("__metadata__ is ") + Scanner::kind_of(s.peek()) + ", not an object of strings");
    s.eat('{');
    if (s.eat('}')) return true;
    do {
      std::string key, value;
      if (!s.string(&key) || !s.eat(':')) return internal(s);
      if (s.peek() != '"')
        return fail("__metadata__ value of " + quoted(key) + " is " + Scanner::kind_of(s.peek()) + ", not a string");
      if (!s.string(&value)) return internal(s);
      if (out->count(key)) return fail("duplicate key " + quoted(key) + " in __metadata__");
      out->emplace(std::move(key), std::move(value));
    } while (s.eat(','));
    if (!s.eat('}')) return internal(s);
    return true;
  }

  // A shape entry or an offset: a non-negative int64.
  bool count(Scanner &s, const std::string &what, const std::string &name, int64_t *out) {
    const uint8_t c = s.peek();
    if (c != '-' && !is_digit(c))
      return fail(what + " is " + Scanner::kind_of(c) + ", not a non-negative integer", name);
    Number num;
    if (!s.number(&num)) return internal(s);
    if (!num.is_count) return fail(what + " is " + shown(num.text) + ", not a non-negative integer", name);
    if (!num.fits) return fail(what + " is " + shown(num.text) + ", larger than the int64 maximum", name);
    *out = num.value;
    return true;
  }

  bool tensor(Scanner &s, const std::string &name, TensorView *t, std::pair<uint64_t, uint64_t> *range) {
    t->name = name;
    t->data = nullptr;
    t->nbytes = 0;
    if (s.peek() != '{') return fail(std::string("entry is ") + Scanner::kind_of(s.peek()) + ", not an object", name);
    s.eat('{');
    bool have_dtype = false, have_shape = false, have_offsets = false;
    std::vector<int64_t> offsets;
    if (!s.eat('}')) {
      do {
        std::string key;
        if (!s.string(&key) || !s.eat(':')) return internal(s);
        bool *have = key == "dtype"          ? &have_dtype
                     : key == "shape"        ? &have_shape
                     : key == "data_offsets" ? &have_offsets
                                             : nullptr;
        if (!have)
          return fail("unknown key " + quoted(key) + " (only dtype, shape and data_offsets are allowed)", name);
        if (*have) return fail("duplicate key " + quoted(key), name);
        *have = true;
        if (key == "dtype") {
          if (s.peek() != '"')
            return fail(std::string("dtype is ") + Scanner::kind_of(s.peek()) + ", not a string", name);
          std::string dtype;
          if (!s.string(&dtype)) return internal(s);
          if (!dtype_from_name(dtype, &t->dtype))
            return fail(
                "unknown dtype " + quoted(dtype) + " (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)",
                name);
        } else if (key == "shape") {
          if (s.peek() != '[')
            return fail(std::string("shape is ") + Scanner::kind_of(s.peek()) + ", not an array", name);
          s.eat('[');
          if (!s.eat(']')) {
            do {
              if (t->shape.size() == kMaxRank)
                return fail("shape has more than " + std::to_string(kMaxRank) + " dimensions", name);
              int64_t dim = 0;
              if (!count(s, "shape[" + std::to_string(t->shape.size()) + "]", name, &dim)) return false;
              t->shape.push_back(dim);
            } while (s.eat(','));
            if (!s.eat(']')) return internal(s);
          }
        } else {
          if (s.peek() != '[')
            return fail(std::string("data_offsets is ") + Scanner::kind_of(s.peek()) + ", not an array [begin, end]",
                        name);
          s.eat('[');
          size_t entries = 0;
          if (!s.eat(']')) {
            do {
              int64_t v = 0;
              if (!count(s,
                         entries == 0   ? "data_offsets begin"
                         : entries == 1 ? "data_offsets end"
                                        : "data_offsets[" + std::to_string(entries) + "]",
                         name, &v))
                return false;
              if (entries < 2) offsets.push_back(v);
              ++entries;
            } while (s.eat(','));
            if (!s.eat(']')) return internal(s);
          }
          if (entries != 2)
            return fail("data_offsets has " + std::to_string(entries) + (entries == 1 ? " entry" : " entries") +
                            ", not 2 ([begin, end])",
                        name);
        }
      } while (s.eat(','));
      if (!s.eat('}')) return internal(s);
    }
    if (!have_dtype) return fail("missing key 'dtype'", name);
    if (!have_shape) return fail("missing key 'shape'", name);
    if (!have_offsets) return fail("missing key 'data_offsets'", name);

    int64_t numel = 1;
    if (std::find(t->shape.begin(), t->shape.end(), int64_t{0}) != t->shape.end()) {
      numel = 0;
    } else {
      for (int64_t dim : t->shape)
        if (__builtin_mul_overflow(numel, dim, &numel))
          return fail("shape " + shape_text(t->shape) + " has too many elements (overflows int64)", name);
    }
    int64_t needed = 0;
    if (__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(t->dtype)), &needed))
      return fail(std::string("dtype ") + dtype_name(t->dtype) + " x shape " + shape_text(t->shape) +
                      " is too many bytes (overflows int64)",
                  name);

    const int64_t begin = offsets[0], end = offsets[1];
    const std::string range_text = "[" + std::to_string(begin) + "," + std::to_string(end) + "]";
    if (begin > end) return fail("data_offsets " + range_text + " are reversed (begin > end)", name);
    if (static_cast<uint64_t>(end) > data_size_)
      return fail("data_offsets " + range_text + " end past the data section (" + std::to_string(data_size_) +
                      " bytes after the header; truncated file?)",
                  name);
    if (end - begin != needed) {
      error_ = label_ + ": tensor " + quoted(name) + " has " + std::to_string(end - begin) + " bytes of data, dtype " +
               dtype_name(t->dtype) + " x shape " + shape_text(t->shape) + " needs " + std::to_string(needed);
      return false;
    }
    t->nbytes = static_cast<size_t>(needed);
    *range = {static_cast<uint64_t>(begin), static_cast<uint64_t>(end)};
    return true;
  }

  // Non-empty tensors, ordered by begin, must each start at or after the
  // furthest end seen so far.
  bool no_overlap(const Layout &l) {
    std::vector<size_t> order;
    for (size_t i = 0; i < l.tensors.size(); ++i)
      if (l.ranges[i].first != l.ranges[i].second) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l.ranges[a] < l.ranges[b]; });
    bool have_prev = false;
    size_t prev = 0;  // the tensor reaching furthest so far
    for (size_t i : order) {
      const auto &a = l.ranges[prev], &b = l.ranges[i];
      if (have_prev && b.first < a.second)
        return fail("data_offsets [" + std::to_string(b.first) + "," + std::to_string(b.second) +
                        "] overlap those of tensor " + quoted(l.tensors[prev].name) + " [" + std::to_string(a.first) +
                        "," + std::to_string(a.second) + "]",
                    l.tensors[i].name);
      if (!have_prev || b.second > a.second) prev = i;
      have_prev = true;
    }
    return true;
  }

  std::string label_;
  std::string error_;
  uint64_t data_size_ = 0;
};

// Reads a whole regular file; "" on success, else the reason.
std::string read_file(const std::string &path, std::vector<uint8_t> *out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  std::string why;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    why = std::string("cannot stat: ") + std::strerror(errno);
  } else if (S_ISDIR(st.st_mode)) {
    why = "is a directory, not a safetensors file";
  } else if (!S_ISREG(st.st_mode)) {
    why = "is not a regular file";
  } else {
    try {
      out->resize(static_cast<size_t>(st.st_size));
      size_t got = 0;
      while (got < out->size()) {
        const ssize_t r = ::read(fd, out->data() + got, out->size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
          why = std::string("read failed: ") + std::strerror(errno);
          break;
        }
        if (r == 0) {
          why =
              "file shrank while being read (" + std::to_string(got) + " of " + std::to_string(out->size()) + " bytes)";
          break;
        }
        got += static_cast<size_t>(r);
      }
    } catch (const std::bad_alloc &) {
      why = "out of memory reading " + std::to_string(st.st_size) + " bytes";
    }
  }
  ::close(fd);
  return why;
}

}  // namespace

const char *dtype_name(DType d) {
  switch (d) {
    case DType::kF64: return "F64";
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kI16: return "I16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kBool: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType d) {
  switch (d) {
    case DType::kF64:
    case DType::kI64: return 8;
    case DType::kF32:
    case DType::kI32: return 4;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16: return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool: return 1;
  }
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated not to overflow
  return n;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string &path, std::string *error) {
  std::string ignored;
  if (!error) error = &ignored;
  if (path.empty()) {
    *error = "safetensors: empty path given for a weights file";
    return nullptr;
  }
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  const std::string why = read_file(path, &f->bytes_);
  if (!why.empty()) {
    *error = shown(path) + ": " + why;
    return nullptr;
  }
  Layout layout;
  Validator v(path);
  try {
    if (!v.run(f->bytes_.data(), f->bytes_.size(), &layout)) {
      *error = v.error();
      return nullptr;
    }
  } catch (const std::bad_alloc &) {
    *error = shown(path) + ": out of memory parsing the header";
    return nullptr;
  }
  f->path_ = path;
  f->metadata_ = std::move(layout.metadata);
  f->tensors_ = std::move(layout.tensors);
  for (size_t i = 0; i < f->tensors_.size(); ++i)
    f->tensors_[i].data = f->bytes_.data() + layout.data_start + layout.ranges[i].first;
  error->clear();
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t *bytes, size_t size, const std::string &label,
                                                        std::string *error) {
  std::string ignored;
  if (!error) error = &ignored;
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  Layout layout;
  Validator v(label);
  try {
    if (size > 0) f->bytes_.assign(bytes, bytes + size);
    if (!v.run(f->bytes_.data(), f->bytes_.size(), &layout)) {
      *error = v.error();
      return nullptr;
    }
  } catch (const std::bad_alloc &) {
    *error = shown(label) + ": out of memory parsing the header";
    return nullptr;
  }
  f->path_ = label;
  f->metadata_ = std::move(layout.metadata);
  f->tensors_ = std::move(layout.tensors);
  for (size_t i = 0; i < f->tensors_.size(); ++i)
    f->tensors_[i].data = f->bytes_.data() + layout.data_start + layout.ranges[i].first;
  error->clear();
  return f;
}

const TensorView *SafetensorsFile::find(const std::string &name) const {
  for (const TensorView &t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::string SafetensorsFile::meta(const std::string &key, const std::string &fallback) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? fallback : it->second;
}

}  // namespace s2s
