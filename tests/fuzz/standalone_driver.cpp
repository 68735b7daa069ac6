// A small stand-in for libFuzzer, for machines without clang's libFuzzer:
// runs LLVMFuzzerTestOneInput over every corpus file, then over random
// mutations of them (a fixed seed: runs are reproducible) until -runs or
// -max_total_time is reached. run_fuzz.sh builds it with g++ and ASan +
// UBSan; when the target is also built with -fsanitize-coverage=trace-pc,
// inputs that reach new code (hashed edges, bucketed hit counts, as AFL
// does) join the pool that mutations start from.
//
// usage: standalone_driver [-runs=N] [-seed=N] [-max_total_time=S]
//          [-max_len=N] [-dict=FILE] [-artifact_prefix=P] FILE_OR_DIR...
// On a crash the input is written to <artifact_prefix>crash-<hash>.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
// From the sanitizer runtimes, when linked in.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------
// Coverage: called at every basic block of code built with
// -fsanitize-coverage=trace-pc (not this file).
// ---------------------------------------------------------------------------
namespace {
constexpr size_t kMapSize = 1 << 16;
uint8_t g_hits[kMapSize];  // this run
uint8_t g_seen[kMapSize];  // bucket bits seen over all runs
uintptr_t g_prev_pc = 0;
bool g_have_coverage = false;
}  // namespace

extern "C" void __sanitizer_cov_trace_pc(void) {
  const uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  const uintptr_t edge = (pc ^ (g_prev_pc >> 1)) * 0x9E3779B97F4A7C15ull;
  g_prev_pc = pc;
  uint8_t &h = g_hits[edge >> (64 - 16)];
  if (h != 255) ++h;
  g_have_coverage = true;
}

namespace {

uint8_t bucket(uint8_t n) {
  if (n == 0) return 0;
  if (n <= 3) return static_cast<uint8_t>(1u << (n - 1));  // 1, 2, 4
  if (n <= 7) return 8;
  if (n <= 15) return 16;
  if (n <= 31) return 32;
  if (n <= 127) return 64;
  return 128;
}

// Whether the last run reached a new (edge, hit-count bucket) pair.
size_t new_coverage() {
  size_t found = 0;
  for (size_t i = 0; i < kMapSize; ++i) {
    if (!g_hits[i]) continue;
    const uint8_t b = bucket(g_hits[i]);
    if (!(g_seen[i] & b)) {
      g_seen[i] |= b;
      ++found;
    }
  }
  return found;
}

size_t edges_seen() {
  size_t n = 0;
  for (size_t i = 0; i < kMapSize; ++i) n += g_seen[i] != 0;
  return n;
}

// ---------------------------------------------------------------------------
// Crash artifacts
// ---------------------------------------------------------------------------
Bytes g_current;
std::string g_artifact_prefix = "./";
volatile sig_atomic_t g_saved = 0;
uint64_t g_runs = 0;  // runs started so far

void save_current() {
  if (g_saved) return;
  g_saved = 1;
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (uint8_t c : g_current) h = (h ^ c) * 1099511628211ull;
  char name[64];
  std::snprintf(name, sizeof name, "crash-%016llx", static_cast<unsigned long long>(h));
  const std::string path = g_artifact_prefix + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t done = 0;
    while (done < g_current.size()) {
      const ssize_t w = ::write(fd, g_current.data() + done, g_current.size() - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    ::close(fd);
    std::fprintf(stderr, "standalone: crash at run #%llu; input (%zu bytes) written to %s\n",
                 static_cast<unsigned long long>(g_runs), g_current.size(), path.c_str());
  }
}

void on_signal(int sig) {
  save_current();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------
bool read_file(const std::string &path, size_t max_len, Bytes *out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (out->size() > max_len) out->resize(max_len);
  return true;
}

void load(const std::string &path, size_t max_len, std::vector<Bytes> *corpus) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "standalone: cannot stat %s\n", path.c_str());
    std::exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    Bytes b;
    if (read_file(path, max_len, &b)) corpus->push_back(std::move(b));
    return;
  }
  DIR *d = ::opendir(path.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (const dirent *e = ::readdir(d))
    if (e->d_name[0] != '.') names.push_back(path + "/" + e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());  // reproducible order
  for (const std::string &n : names) {
    Bytes b;
    if (::stat(n.c_str(), &st) == 0 && S_ISREG(st.st_mode) && read_file(n, max_len, &b))
      corpus->push_back(std::move(b));
  }
}

// libFuzzer dictionary: lines `name="value"` or `"value"`, with \\, \" and
// \xAB escapes; '#' starts a comment.
std::vector<Bytes> load_dict(const std::string &path) {
  std::vector<Bytes> out;
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "standalone: cannot read dictionary %s\n", path.c_str());
    std::exit(2);
  }
  std::string line;
  while (std::getline(in, line)) {
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const size_t a = line.find('"'), b = line.rfind('"');
    if (a == std::string::npos || b <= a) continue;
    Bytes tok;
    for (size_t i = a + 1; i < b; ++i) {
      if (line[i] == '\\' && i + 1 < b) {
        const char c = line[i + 1];
        if (c == 'x' && i + 3 < b) {
          tok.push_back(static_cast<uint8_t>(std::stoi(line.substr(i + 2, 2), nullptr, 16)));
          i += 3;
        } else {
          tok.push_back(static_cast<uint8_t>(c));
          ++i;
        }
      } else {
        tok.push_back(static_cast<uint8_t>(line[i]));
      }
    }
    if (!tok.empty()) out.push_back(std::move(tok));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------
class Mutator {
 public:
  Mutator(uint64_t seed, std::vector<Bytes> dict, size_t max_len)
      : rng_(seed), dict_(std::move(dict)), max_len_(max_len) {
    static const char *const kTokens[] = {"{",
                                          "}",
                                          "[",
                                          "]",
                                          ":",
                                          ",",
                                          "\"",
                                          "\\",
                                          "\\u",
                                          "\\uD83D",
                                          "\\uDE00",
                                          "\\u0000",
                                          " ",
                                          "\n",
                                          "-",
                                          ".",
                                          "e",
                                          "0",
                                          "1",
                                          "-1",
                                          "1.5",
                                          "1e3",
                                          "00",
                                          "4294967296",
                                          "9223372036854775807",
                                          "9223372036854775808",
                                          "18446744073709551616",
                                          "null",
                                          "true",
                                          "\"dtype\"",
                                          "\"shape\"",
                                          "\"data_offsets\"",
                                          "\"__metadata__\"",
                                          "\"F32\"",
                                          "\"F16\"",
                                          "\"BF16\"",
                                          "\"F64\"",
                                          "\"I64\"",
                                          "\"U8\"",
                                          "\"BOOL\"",
                                          "[0,0]",
                                          "[]",
                                          "{}",
                                          "\xC3\xA9",
                                          "\xF0\x9F\x98\x80",
                                          "\xED\xA0\x80",
                                          "\xC0\x80",
                                          "\xFF"};
    for (const char *t : kTokens) dict_.emplace_back(t, t + std::strlen(t));
  }

  // A mutant of `in`; `other` is a second pool entry to splice from.
  Bytes mutate(const Bytes &in, const Bytes &other) {
    Bytes out = in;
    // Mostly: mutate the header text and fix the length prefix, so that
    // mutants get past the length check into the JSON and the schema.
    uint64_t n = 0;
    for (int i = 7; i >= 0 && out.size() >= 8; --i) n = (n << 8) | out[static_cast<size_t>(i)];
    const bool structured = out.size() >= 8 && n <= out.size() - 8 && below(5) != 0;
    if (structured) {
      Bytes header(out.begin() + 8, out.begin() + 8 + static_cast<std::ptrdiff_t>(n));
      Bytes data(out.begin() + 8 + static_cast<std::ptrdiff_t>(n), out.end());
      const size_t k = 1 + below(4);
      for (size_t i = 0; i < k; ++i) {
        if (below(6) == 0)
          edit(&data, other);
        else
          edit(&header, other);
      }
      uint64_t len = header.size();
      if (below(10) == 0) len += below(5) - 2;  // slightly wrong length
      out.clear();
      for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(len >> (8 * i)));
      out.insert(out.end(), header.begin(), header.end());
      out.insert(out.end(), data.begin(), data.end());
    } else {
      const size_t k = 1 + below(4);
      for (size_t i = 0; i < k; ++i) {
        if (out.size() >= 8 && below(8) == 0)
          set_length(&out);
        else
          edit(&out, other);
      }
    }
    if (out.size() > max_len_) out.resize(max_len_);
    return out;
  }

  size_t below(size_t n) { return n ? static_cast<size_t>(rng_() % n) : 0; }

 private:
  void set_length(Bytes *b) {
    static const uint64_t kLengths[] = {
        0, 1, 2, 7, 8, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, ~0ull, 100ull << 20, (100ull << 20) + 1};
    uint64_t v = below(3) == 0 ? kLengths[below(sizeof kLengths / sizeof kLengths[0])] : b->size() - 8 + below(9) - 4;
    for (int i = 0; i < 8; ++i) (*b)[static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
  }

  void edit(Bytes *b, const Bytes &other) {
    const size_t size = b->size();
    switch (below(9)) {
      case 0:  // flip a bit
        if (size) (*b)[below(size)] ^= static_cast<uint8_t>(1u << below(8));
        break;
      case 1:  // random byte
        if (size) (*b)[below(size)] = static_cast<uint8_t>(below(256));
        break;
      case 2: {  // erase a range
        if (!size) break;
        const size_t at = below(size), len = 1 + below(std::min<size_t>(16, size - at));
        b->erase(b->begin() + static_cast<std::ptrdiff_t>(at), b->begin() + static_cast<std::ptrdiff_t>(at + len));
        break;
      }
      case 3:
      case 4: {  // insert a token
        const Bytes &t = dict_[below(dict_.size())];
        b->insert(b->begin() + static_cast<std::ptrdiff_t>(below(size + 1)), t.begin(), t.end());
        break;
      }
      case 5: {  // replace a range with a token
        const Bytes &t = dict_[below(dict_.size())];
        const size_t at = below(size + 1), len = std::min(size - at, below(t.size() + 2));
        b->erase(b->begin() + static_cast<std::ptrdiff_t>(at), b->begin() + static_cast<std::ptrdiff_t>(at + len));
        b->insert(b->begin() + static_cast<std::ptrdiff_t>(at), t.begin(), t.end());
        break;
      }
      case 6: {  // duplicate a range
        if (!size) break;
        const size_t at = below(size), len = 1 + below(std::min<size_t>(64, size - at));
        const Bytes chunk(b->begin() + static_cast<std::ptrdiff_t>(at),
                          b->begin() + static_cast<std::ptrdiff_t>(at + len));
        b->insert(b->begin() + static_cast<std::ptrdiff_t>(below(size + 1)), chunk.begin(), chunk.end());
        break;
      }
      case 7: {  // a run of digits becomes another number
        if (!size) break;
        size_t at = below(size);
        while (at < size && !((*b)[at] >= '0' && (*b)[at] <= '9')) ++at;
        if (at == size) break;
        size_t end = at;
        while (end < size && (*b)[end] >= '0' && (*b)[end] <= '9') ++end;
        static const char *const kNumbers[] = {"0",
                                               "1",
                                               "2",
                                               "3",
                                               "4",
                                               "7",
                                               "8",
                                               "9",
                                               "12",
                                               "16",
                                               "64",
                                               "255",
                                               "256",
                                               "65536",
                                               "4294967295",
                                               "4294967296",
                                               "9223372036854775807",
                                               "9223372036854775808",
                                               "18446744073709551615",
                                               "-1",
                                               "1.0",
                                               "1e2"};
        std::string num =
            below(2) ? kNumbers[below(sizeof kNumbers / sizeof kNumbers[0])] : std::to_string(below(1000));
        b->erase(b->begin() + static_cast<std::ptrdiff_t>(at), b->begin() + static_cast<std::ptrdiff_t>(end));
        b->insert(b->begin() + static_cast<std::ptrdiff_t>(at), num.begin(), num.end());
        break;
      }
      case 8: {  // splice in a chunk of another input
        if (other.empty()) break;
        const size_t from = below(other.size()), len = 1 + below(std::min<size_t>(128, other.size() - from));
        b->insert(b->begin() + static_cast<std::ptrdiff_t>(below(size + 1)),
                  other.begin() + static_cast<std::ptrdiff_t>(from),
                  other.begin() + static_cast<std::ptrdiff_t>(from + len));
        break;
      }
    }
  }

  std::mt19937_64 rng_;
  std::vector<Bytes> dict_;
  size_t max_len_;
};

bool arg(const char *a, const char *name, std::string *value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(a, name, n) != 0 || a[n] != '=') return false;
  *value = a + n + 1;
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  uint64_t max_runs = UINT64_MAX, seed = 1;
  double max_time = 60;
  size_t max_len = 65536;
  std::string dict_path;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (arg(argv[i], "-runs", &v))
      max_runs = std::stoull(v);
    else if (arg(argv[i], "-seed", &v))
      seed = std::stoull(v);
    else if (arg(argv[i], "-max_total_time", &v))
      max_time = std::stod(v);
    else if (arg(argv[i], "-max_len", &v))
      max_len = std::stoull(v);
    else if (arg(argv[i], "-dict", &v))
      dict_path = v;
    else if (arg(argv[i], "-artifact_prefix", &v))
      g_artifact_prefix = v;
    else if (argv[i][0] == '-') {
      std::fprintf(stderr, "standalone: unknown option %s\n", argv[i]);
      return 2;
    } else {
      inputs.emplace_back(argv[i]);
    }
  }

  if (__sanitizer_set_death_callback) {
    __sanitizer_set_death_callback(save_current);
  } else {
    ::signal(SIGSEGV, on_signal);
    ::signal(SIGBUS, on_signal);
    ::signal(SIGFPE, on_signal);
    ::signal(SIGILL, on_signal);
  }
  ::signal(SIGABRT, on_signal);  // the target's broken promises; not the sanitizers'

  std::vector<Bytes> pool;
  for (const std::string &in : inputs) load(in, max_len, &pool);
  if (pool.empty()) pool.push_back({2, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
  const size_t corpus_files = pool.size();

  auto run = [](const Bytes &b) {
    ++g_runs;
    g_current = b;
    std::memset(g_hits, 0, sizeof g_hits);
    g_prev_pc = 0;
    // A copy of exactly the input's size, so that ASan sees reads past it.
    Bytes exact(b);
    LLVMFuzzerTestOneInput(exact.empty() ? nullptr : exact.data(), exact.size());
    return new_coverage();
  };

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  uint64_t runs = 0, added = 0;
  for (size_t i = 0; i < corpus_files; ++i, ++runs) run(pool[i]);

  std::vector<Bytes> dict;
  if (!dict_path.empty()) dict = load_dict(dict_path);
  Mutator m(seed, std::move(dict), max_len);
  double next_report = 10;
  for (uint64_t i = 0; i < max_runs; ++i) {
    if ((i & 63) == 0) {
      const double t = elapsed();
      if (t >= max_time) break;
      if (t >= next_report) {
        std::printf("standalone: #%llu runs, %zu edges, pool %zu, %.0f s\n", static_cast<unsigned long long>(runs),
                    edges_seen(), pool.size(), t);
        std::fflush(stdout);
        next_report += 10;
      }
    }
    // Newer pool entries (new coverage) are picked more often.
    const size_t pick = m.below(2) && pool.size() > corpus_files ? corpus_files + m.below(pool.size() - corpus_files)
                                                                 : m.below(pool.size());
    Bytes mutant = m.mutate(pool[pick], pool[m.below(pool.size())]);
    ++runs;
    if (run(mutant) && pool.size() < 20000) {
      pool.push_back(std::move(mutant));
      ++added;
    }
  }
  std::printf(
      "standalone: %llu runs (%zu corpus inputs, then mutations, seed %llu) in %.1f s; coverage feedback %s, "
      "%zu edges, %llu inputs added\n",
      static_cast<unsigned long long>(runs), corpus_files, static_cast<unsigned long long>(seed), elapsed(),
      g_have_coverage ? "on" : "off", edges_seen(), static_cast<unsigned long long>(added));
  return 0;
}
