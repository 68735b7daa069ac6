// Network benchmark of the LibTorch engines (models/), without GStreamer:
// LPIPS pairs/s and MUSIQ frames/s on NV12 frames, from host memory
// (score()) and from device memory (score_device()).
//
//   bench_networks --lpips W.safetensors --musiq W.safetensors [options]
//   bench_networks --write-frames FILE [--width W --height H --frames N]
//
// Normally run by bench_networks.py, which also times the reference
// packages on the same frames and prints the table. Writes one JSON object
// per line on stdout: first {"machine": ...}, then one per configuration
// (network, lpips size, batch, precision, frames in host or device memory)
// with the median and min/max items/s over the repetitions; progress goes to
// stderr. --write-frames writes the benchmark's frames (raw NV12, one after
// the other) so the references get the very same pixels, and needs no GPU.
//
// Frames: N (32) distinct frames of a moving pattern with edges and noise
// (never flat), cycled. Each configuration: a warm-up (allocator, cuDNN
// algorithm choice, first launches), then --reps (5) repetitions of whole
// batches until at least --min-items items and --min-seconds have gone by,
// or --max-seconds have (slow configurations); the median and the spread
// are reported. score() and score_device() return once their results are
// on the host, and the device is synchronised before each clock read
// anyway, so a host clock around whole calls times all the work.
//
// Without a CUDA device (and without --cpu) it prints "not run: no CUDA
// device (...)" and exits 77. --cpu runs the CPU engines on host frames
// (the driver's --cpu-smoke, to check the whole path on a machine without
// a GPU).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"
#include "convert.h"
#include "frame.h"
#include "lpips_engine.h"
#include "musiq_engine.h"
#include "musiq_patches.h"
#include "pair_engine.h"

#if S2S_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace {

struct Options {
  std::string lpips_path, musiq_path, write_frames;
  bool cpu = false;
  int device = 0;
  int width = 1920, height = 1080, frames = 32;
  std::vector<int> lpips_sizes{256, 0}, lpips_batches{1, 16, 64};
  std::vector<std::string> lpips_precisions{"fp32", "fp16"};
  std::vector<int> musiq_batches{1, 8, 32};
  std::vector<std::string> musiq_precisions{"fp32", "bf16"};
  std::vector<int> musiq_sides{224, 384};
  int musiq_max_seq_len = -1;
  std::vector<std::string> inputs{"host", "device"};
  int reps = 5;
  long min_items = 600;
  double min_seconds = 0.5, max_seconds = 2.0;
};

[[noreturn]] void usage(const char *why) {
  std::fprintf(stderr,
               "bench_networks: %s\n"
               "usage: bench_networks [--lpips FILE] [--musiq FILE] [--device N | --cpu]\n"
               "         [--width W] [--height H] [--frames N] [--inputs host,device]\n"
               "         [--lpips-sizes 256,0] [--lpips-batches 1,16,64] [--lpips-precisions fp32,fp16]\n"
               "         [--musiq-batches 1,8,32] [--musiq-precisions fp32,bf16]\n"
               "         [--musiq-sides 224,384] [--musiq-max-seq-len -1]\n"
               "         [--reps 5] [--min-items 600] [--min-seconds 0.5] [--max-seconds 2]\n"
               "       bench_networks --write-frames FILE [--width W] [--height H] [--frames N]\n",
               why);
  std::exit(2);
}

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int> split_ints(const std::string &s) {
  std::vector<int> out;
  for (const std::string &item : split(s)) out.push_back(std::atoi(item.c_str()));
  return out;
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cpu") {
      o.cpu = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value after " + a).c_str());
    const std::string v = argv[++i];
    if (a == "--lpips") o.lpips_path = v;
    else if (a == "--musiq") o.musiq_path = v;
    else if (a == "--write-frames") o.write_frames = v;
    else if (a == "--device") o.device = std::atoi(v.c_str());
    else if (a == "--width") o.width = std::atoi(v.c_str());
    else if (a == "--height") o.height = std::atoi(v.c_str());
    else if (a == "--frames") o.frames = std::atoi(v.c_str());
    else if (a == "--inputs") o.inputs = split(v);
    else if (a == "--lpips-sizes") o.lpips_sizes = split_ints(v);
    else if (a == "--lpips-batches") o.lpips_batches = split_ints(v);
    else if (a == "--lpips-precisions") o.lpips_precisions = split(v);
    else if (a == "--musiq-batches") o.musiq_batches = split_ints(v);
    else if (a == "--musiq-precisions") o.musiq_precisions = split(v);
    else if (a == "--musiq-sides") o.musiq_sides = split_ints(v);
    else if (a == "--musiq-max-seq-len") o.musiq_max_seq_len = std::atoi(v.c_str());
    else if (a == "--reps") o.reps = std::atoi(v.c_str());
    else if (a == "--min-items") o.min_items = std::atol(v.c_str());
    else if (a == "--min-seconds") o.min_seconds = std::atof(v.c_str());
    else if (a == "--max-seconds") o.max_seconds = std::atof(v.c_str());
    else usage(("unknown option " + a).c_str());
  }
  // Even sizes: NV12's chroma plane is then exactly half by half, as the
  // raw file the references read assumes.
  if (o.width < 2 || o.height < 2 || o.width % 2 || o.height % 2) usage("--width/--height must be even and >= 2");
  if (o.frames < 2) usage("--frames must be >= 2");
  if (o.reps < 1) usage("--reps must be >= 1");
  return o;
}

bool parse_precision(const std::string &name, s2s::NetPrecision *p) {
  if (name == "fp32") *p = s2s::NetPrecision::kFp32;
  else if (name == "fp16") *p = s2s::NetPrecision::kFp16;
  else if (name == "bf16") *p = s2s::NetPrecision::kBf16;
  else return false;
  return true;
}

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// JSON has no NaN: non-finite numbers become null.
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

// Tight NV12 frames, one after the other (Y plane, then interleaved UV).
struct Frames {
  int width = 0, height = 0, count = 0;
  size_t y_bytes = 0, frame_bytes = 0;
  std::vector<uint8_t> host;
  uint8_t *device = nullptr;  // the same bytes in device memory, uploaded once
  std::vector<s2s::FrameView> host_views, device_views;

  ~Frames() {
#if S2S_HAVE_CUDA
    if (device) cudaFree(device);
#endif
  }
};

// xorshift64*: fast enough for 100 M noise samples and fully determined by
// the seed, so every run (and the references) see the same frames.
struct Noise {
  uint64_t s;
  int next(int amplitude) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    const uint64_t r = s * 0x2545F4914F6CDD1DULL;
    return static_cast<int>((r >> 33) % static_cast<uint64_t>(2 * amplitude + 1)) - amplitude;
  }
};

uint8_t clamp8(double v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : std::lround(v))); }

// Frame t: a sine texture and a checkerboard drifting at different speeds
// (edges and gradients for the networks), plus noise, on luma and chroma.
// Consecutive frames differ everywhere, and no frame is flat.
void make_frames(int width, int height, int count, Frames *f) {
  f->width = width;
  f->height = height;
  f->count = count;
  f->y_bytes = static_cast<size_t>(width) * height;
  f->frame_bytes = f->y_bytes + f->y_bytes / 2;
  f->host.resize(f->frame_bytes * count);
  std::vector<double> sx(width), cy(height);
  for (int t = 0; t < count; ++t) {
    uint8_t *y_plane = f->host.data() + t * f->frame_bytes;
    uint8_t *uv_plane = y_plane + f->y_bytes;
    Noise noise{0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(t + 1)};
    // Separable sine texture: one table per row and per column, so making
    // 32 1080p frames takes well under a second.
    for (int x = 0; x < width; ++x) sx[x] = std::sin((x + 6.0 * t) / 11.0);
    for (int y = 0; y < height; ++y) cy[y] = std::cos((y - 4.0 * t) / 17.0);
    for (int y = 0; y < height; ++y) {
      uint8_t *row = y_plane + static_cast<size_t>(y) * width;
      for (int x = 0; x < width; ++x) {
        const int check = (((x + 9 * t) / 48 + y / 40) & 1) * 35;
        row[x] = clamp8(110 + 50 * sx[x] * cy[y] + check + noise.next(12));
      }
    }
    for (int y = 0; y < height / 2; ++y) {
      uint8_t *row = uv_plane + static_cast<size_t>(y) * width;
      for (int x = 0; x < width / 2; ++x) {
        row[2 * x] = clamp8(128 + 30 * sx[(2 * x + 5 * t) % width] + noise.next(6));
        row[2 * x + 1] = clamp8(128 + 30 * cy[(2 * y + 3 * t) % height] + noise.next(6));
      }
    }
  }
  for (int t = 0; t < count; ++t) {
    s2s::FrameView v;
    v.format = s2s::PixelFormat::kNv12;
    v.width = width;
    v.height = height;
    v.planes[0] = f->host.data() + t * f->frame_bytes;
    v.strides[0] = width;
    v.planes[1] = v.planes[0] + f->y_bytes;
    v.strides[1] = width;
    f->host_views.push_back(v);
  }
}

#if S2S_HAVE_CUDA
bool upload_frames(Frames *f, std::string *error) {
  void *device = nullptr;
  cudaError_t e = cudaMalloc(&device, f->host.size());
  if (e == cudaSuccess) {
    f->device = static_cast<uint8_t *>(device);
    e = cudaMemcpy(f->device, f->host.data(), f->host.size(), cudaMemcpyHostToDevice);
  }
  if (e != cudaSuccess) {
    *error = std::string("frames to the device: ") + cudaGetErrorString(e);
    return false;
  }
  for (const s2s::FrameView &h : f->host_views) {
    s2s::FrameView d = h;
    const size_t offset = static_cast<size_t>(h.planes[0] - f->host.data());
    d.planes[0] = f->device + offset;
    d.planes[1] = d.planes[0] + f->y_bytes;
    f->device_views.push_back(d);
  }
  return true;
}
#endif

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

// Scores frames[0 .. n) into out[0 .. n); false with *error on failure.
using BatchCall = std::function<bool(const s2s::FrameView *, size_t, double *, std::string *)>;

struct Timing {
  std::vector<double> rates;  // items/s per repetition
  std::vector<long> items;    // items per repetition
  double mean_score = NAN;    // checksum: the mean result of the timed calls
  long nonfinite = 0;         // timed results that were NaN or infinite
  double warmup_s = 0;
  std::string error;
};

void sync_device(bool cuda) {
#if S2S_HAVE_CUDA
  if (cuda) cudaDeviceSynchronize();
#else
  (void)cuda;
#endif
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Items are frames for MUSIQ, and pairs for LPIPS: its chain runs on across
// calls, so after the warm-up every frame scored closes one pair.
Timing time_config(const BatchCall &call, const std::vector<s2s::FrameView> &views, int batch, const Options &o,
                   bool cuda) {
  Timing t;
  std::vector<s2s::FrameView> frames(static_cast<size_t>(batch));
  std::vector<double> out(static_cast<size_t>(batch));
  size_t next = 0;
  double sum = 0;
  long finite = 0;
  // One call of `batch` frames, the frames cycling through the distinct ones.
  auto one_call = [&](bool count) {
    for (int i = 0; i < batch; ++i) {
      frames[static_cast<size_t>(i)] = views[next];
      next = (next + 1) % views.size();
    }
    if (!call(frames.data(), frames.size(), out.data(), &t.error)) return false;
    if (count) {
      for (const double v : out) {
        if (std::isfinite(v)) {
          sum += v;
          ++finite;
        } else {
          ++t.nonfinite;
        }
      }
    }
    return true;
  };

  // Warm-up: the first calls allocate, choose cuDNN algorithms and load
  // kernels; a few more at steady state settle clocks and caches.
  sync_device(cuda);
  auto w0 = std::chrono::steady_clock::now();
  for (int k = 0; k < 3 || seconds_since(w0) < 0.5 * o.min_seconds; ++k)
    if (!one_call(false)) return t;
  sync_device(cuda);
  t.warmup_s = seconds_since(w0);

  for (int r = 0; r < o.reps; ++r) {
    long items = 0;
    sync_device(cuda);
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      if (!one_call(true)) return t;
      items += batch;
      sync_device(cuda);
      elapsed = seconds_since(t0);
    } while (!((items >= o.min_items && elapsed >= o.min_seconds) || elapsed >= o.max_seconds));
    t.rates.push_back(static_cast<double>(items) / elapsed);
    t.items.push_back(items);
  }
  t.mean_score = finite ? sum / static_cast<double>(finite) : NAN;
  return t;
}

struct Config {
  std::string network, precision, frames_in, unit;
  int size = -1;  // LPIPS input size (0: native); -1 for MUSIQ
  int batch = 0;
};

void print_result(const Config &c, const Options &o, const std::string &device_name, const Timing &t,
                  const std::string &extra) {
  std::string line = "{\"network\":" + json_string(c.network) + ",\"width\":" + std::to_string(o.width) +
                     ",\"height\":" + std::to_string(o.height) + ",\"format\":\"NV12\"";
  if (c.size >= 0) line += ",\"size\":" + std::to_string(c.size);
  line += ",\"batch\":" + std::to_string(c.batch) + ",\"precision\":" + json_string(c.precision) +
          ",\"frames_in\":" + json_string(c.frames_in) + ",\"device\":" + json_string(device_name) +
          ",\"unit\":" + json_string(c.unit) + extra;
  if (!t.error.empty() || t.rates.empty()) {
    line += ",\"error\":" + json_string(t.error.empty() ? "no repetition ran" : t.error) + "}";
  } else {
    std::vector<double> sorted = t.rates;
    std::sort(sorted.begin(), sorted.end());
    line += ",\"median\":" + json_number(sorted[sorted.size() / 2]) + ",\"min\":" + json_number(sorted.front()) +
            ",\"max\":" + json_number(sorted.back()) + ",\"rates\":[";
    for (size_t i = 0; i < t.rates.size(); ++i) line += (i ? "," : "") + json_number(t.rates[i]);
    line += "],\"items\":[";
    for (size_t i = 0; i < t.items.size(); ++i) line += (i ? "," : "") + std::to_string(t.items[i]);
    line += "],\"mean_score\":" + json_number(t.mean_score) + ",\"nonfinite\":" + std::to_string(t.nonfinite) +
            ",\"warmup_s\":" + json_number(t.warmup_s) + "}";
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

bool write_frames(const Options &o) {
  Frames f;
  make_frames(o.width, o.height, o.frames, &f);
  FILE *file = std::fopen(o.write_frames.c_str(), "wb");
  if (!file || std::fwrite(f.host.data(), 1, f.host.size(), file) != f.host.size()) {
    std::fprintf(stderr, "bench_networks: cannot write %s\n", o.write_frames.c_str());
    if (file) std::fclose(file);
    return false;
  }
  return std::fclose(file) == 0;
}

// The machine line; false (with *why) when there is no CUDA device to use.
bool machine_line(const Options &o, std::string *why) {
  std::string line = "{\"machine\":{\"engine_device\":" +
                     json_string(o.cpu ? "cpu" : "cuda:" + std::to_string(o.device));
#if S2S_HAVE_CUDA
  if (!o.cpu) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      *why = e != cudaSuccess ? cudaGetErrorString(e) : "0 devices";
      return false;
    }
    if (o.device < 0 || o.device >= count) {
      *why = "device " + std::to_string(o.device) + " of " + std::to_string(count);
      return false;
    }
    cudaSetDevice(o.device);
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, o.device);
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    line += ",\"gpu\":" + json_string(prop.name) + ",\"sms\":" + std::to_string(prop.multiProcessorCount) +
            ",\"memory_gib\":" + json_number(static_cast<double>(prop.totalGlobalMem) / (1 << 30)) +
            ",\"cuda_driver_api\":" + std::to_string(driver) + ",\"cuda_runtime\":" + std::to_string(runtime);
  }
#else
  if (!o.cpu) {
    *why = "this build has no CUDA";
    return false;
  }
#endif
  std::printf("%s}}\n", line.c_str());
  std::fflush(stdout);
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  const Options o = parse(argc, argv);
  if (!o.write_frames.empty()) return write_frames(o) ? 0 : 1;

  std::string why;
  if (!machine_line(o, &why)) {
    std::printf("not run: no CUDA device (%s)\n", why.c_str());
    return 77;
  }

  std::fprintf(stderr, "bench_networks: making %d frames of %dx%d NV12\n", o.frames, o.width, o.height);
  Frames frames;
  make_frames(o.width, o.height, o.frames, &frames);
  std::vector<std::string> inputs;
  for (const std::string &in : o.inputs) {
    if (in == "host") {
      inputs.push_back(in);
    } else if (in == "device") {
      // Device frames need a GPU; the CPU smoke has host frames only.
      if (o.cpu) continue;
#if S2S_HAVE_CUDA
      std::string error;
      if (!upload_frames(&frames, &error)) {
        std::fprintf(stderr, "bench_networks: %s\n", error.c_str());
        return 1;
      }
      inputs.push_back(in);
#endif
    } else {
      usage(("unknown input " + in).c_str());
    }
  }

  s2s::StreamFormat format;
  format.format = s2s::PixelFormat::kNv12;
  format.width = o.width;
  format.height = o.height;
  // BT.601 limited range: what OpenCV's COLOR_YUV2RGB_NV12 uses, so the
  // references (which convert the same NV12 bytes with OpenCV) score the
  // same RGB pixels and the mean scores can be compared.
  format.yuv = s2s::make_yuv_to_rgb(0.299, 0.114, false);
  const bool cuda = !o.cpu;
  int failures = 0;

  if (!o.lpips_path.empty()) {
    for (const std::string &prec : o.lpips_precisions) {
      s2s::LpipsConfig config;
      config.model_path = o.lpips_path;
      config.cuda = cuda;
      config.cuda_device = o.device;
      if (!parse_precision(prec, &config.precision)) usage(("unknown precision " + prec).c_str());
      std::string error;
      // One engine per precision, as an element holds one; it is
      // reconfigured for each size, which drops the kept frame.
      std::unique_ptr<s2s::LpipsEngine> engine = s2s::make_lpips_engine(config, &error);
      for (const int size : o.lpips_sizes) {
        for (const std::string &in : inputs) {
          for (const int batch : o.lpips_batches) {
            Config c{"lpips", prec, in, "pairs/s", size, batch};
            Timing t;
            if (!engine) {
              t.error = error;
            } else if (!engine->configure(format, size, &t.error)) {
              // t.error set by configure()
            } else {
              std::fprintf(stderr, "bench_networks: lpips size %d batch %d %s %s frames\n", size, batch,
                           prec.c_str(), in.c_str());
              std::vector<uint8_t> pair(static_cast<size_t>(batch), 1);
              const bool device = in == "device";
              BatchCall call = [&](const s2s::FrameView *f, size_t n, double *out, std::string *err) {
                return device ? engine->score_device(f, pair.data(), n, nullptr, out, err)
                              : engine->score(f, pair.data(), n, out, err);
              };
              t = time_config(call, device ? frames.device_views : frames.host_views, batch, o, cuda);
            }
            if (!t.error.empty()) ++failures;
            print_result(c, o, engine ? engine->device_name() : "", t, "");
          }
        }
      }
    }
  }

  if (!o.musiq_path.empty()) {
    for (const std::string &prec : o.musiq_precisions) {
      s2s::MusiqConfig config;
      config.model_path = o.musiq_path;
      config.cuda = cuda;
      config.cuda_device = o.device;
      config.patches.longer_sides = o.musiq_sides;
      config.patches.max_seq_len = o.musiq_max_seq_len;
      if (!parse_precision(prec, &config.precision)) usage(("unknown precision " + prec).c_str());
      std::string error;
      std::unique_ptr<s2s::MusiqEngine> engine = s2s::make_musiq_engine(config, &error);
      const int64_t tokens = s2s::musiq_token_count(config.patches, o.width, o.height);
      std::string sides;
      for (const int s : o.musiq_sides) sides += (sides.empty() ? "" : ",") + std::to_string(s);
      const std::string extra = ",\"tokens\":" + std::to_string(tokens) + ",\"sides\":" + json_string(sides) +
                                ",\"max_seq_len\":" + std::to_string(o.musiq_max_seq_len);
      for (const std::string &in : inputs) {
        for (const int batch : o.musiq_batches) {
          Config c{"musiq", prec, in, "frames/s", -1, batch};
          Timing t;
          if (!engine) {
            t.error = error;
          } else if (!engine->configure(format, &t.error)) {
            // t.error set by configure()
          } else {
            std::fprintf(stderr, "bench_networks: musiq batch %d %s %s frames\n", batch, prec.c_str(), in.c_str());
            const bool device = in == "device";
            BatchCall call = [&](const s2s::FrameView *f, size_t n, double *out, std::string *err) {
              return device ? engine->score_device(f, n, nullptr, out, err) : engine->score(f, n, out, err);
            };
            t = time_config(call, device ? frames.device_views : frames.host_views, batch, o, cuda);
          }
          if (!t.error.empty()) ++failures;
          print_result(c, o, engine ? engine->device_name() : "", t, extra);
        }
      }
    }
  }
  return failures ? 1 : 0;
}
