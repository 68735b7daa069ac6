// CPU benchmark of the pair engine (MSE + SSIM of consecutive frames), without
// GStreamer.
//
//   bench_pairs FORMAT WIDTH HEIGHT FRAMES_FILE N_FRAMES BATCH PAIRS REPS THREADS [MATRIX]
//
// FORMAT is GRAY8 or NV12. FRAMES_FILE holds N_FRAMES raw frames, tightly
// packed (NV12: the Y plane, then the interleaved UV plane of
// ceil(w/2)*2 x ceil(h/2) bytes). The program cycles over these frames, so
// memory stays small however many pairs are run, and feeds them to score() in
// batches of BATCH frames, the pair chain running on across batches (as the
// element does with a stream). THREADS 0 = one per hardware thread. MATRIX
// (YUV input only) is bt709 (default) or bt601, both limited range.
//
// A warm-up of a few batches comes first and is not timed. Then each of the
// REPS repetitions scores PAIRS pairs and prints one JSON line with its pairs/s,
// the process CPU seconds it used, and checksums (mean MSE and mean SSIM over
// its pairs), so that the work can be neither skipped nor optimized away.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "convert.h"
#include "frame.h"
#include "pair_engine.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: bench_pairs FORMAT WIDTH HEIGHT FRAMES_FILE N_FRAMES BATCH PAIRS REPS THREADS [MATRIX]\n"
               "  FORMAT: GRAY8 or NV12; THREADS: 0 = all hardware threads;\n"
               "  MATRIX (NV12 only): bt709 (default) or bt601, limited range\n");
}

bool parse_long(const char *s, long min, long *out) {
  char *end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < min) return false;
  *out = v;
  return true;
}

// CPU time of the whole process (all threads), seconds: less sensitive than
// wall time to other work on the machine.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 10 && argc != 11) {
    usage();
    return 2;
  }
  const std::string format_arg = argv[1];
  long width = 0, height = 0, n_frames = 0, batch = 0, pairs = 0, reps = 0, threads = 0;
  const char *path = argv[4];
  if (!parse_long(argv[2], 1, &width) || !parse_long(argv[3], 1, &height) || !parse_long(argv[5], 1, &n_frames) ||
      !parse_long(argv[6], 1, &batch) || !parse_long(argv[7], 1, &pairs) || !parse_long(argv[8], 1, &reps) ||
      !parse_long(argv[9], 0, &threads)) {
    usage();
    return 2;
  }
  const std::string matrix = argc == 11 ? argv[10] : "bt709";

  s2s::StreamFormat fmt;
  fmt.width = static_cast<int>(width);
  fmt.height = static_cast<int>(height);
  const size_t y_size = static_cast<size_t>(width) * height;
  const size_t uv_stride = static_cast<size_t>((width + 1) / 2) * 2;
  const size_t uv_rows = static_cast<size_t>((height + 1) / 2);
  size_t frame_size = 0;
  if (format_arg == "GRAY8") {
    fmt.format = s2s::PixelFormat::kGray8;
    frame_size = y_size;
  } else if (format_arg == "NV12") {
    fmt.format = s2s::PixelFormat::kNv12;
    frame_size = y_size + uv_stride * uv_rows;
    if (matrix == "bt709") {
      fmt.yuv = s2s::make_yuv_to_rgb(0.2126, 0.0722, false);
    } else if (matrix == "bt601") {
      fmt.yuv = s2s::make_yuv_to_rgb(0.299, 0.114, false);
    } else if (matrix == "service") {  // the elements' default conversion (cv2's swscale)
      fmt.yuv = s2s::make_service_yuv_to_rgb(s2s::PixelFormat::kNv12, fmt.height, false);
    } else {
      std::fprintf(stderr, "unknown matrix '%s'\n", matrix.c_str());
      return 2;
    }
  } else {
    std::fprintf(stderr, "unknown format '%s'\n", format_arg.c_str());
    usage();
    return 2;
  }

  // Load the frames.
  std::vector<uint8_t> data(frame_size * static_cast<size_t>(n_frames));
  FILE *f = std::fopen(path, "rb");
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", path);
    return 1;
  }
  const size_t got = std::fread(data.data(), 1, data.size(), f);
  std::fclose(f);
  if (got != data.size()) {
    std::fprintf(stderr, "%s: expected %zu bytes (%ld frames of %zu), read %zu\n", path, data.size(), n_frames,
                 frame_size, got);
    return 1;
  }

  std::vector<s2s::FrameView> views(static_cast<size_t>(n_frames));
  for (long i = 0; i < n_frames; ++i) {
    s2s::FrameView &v = views[static_cast<size_t>(i)];
    v.format = fmt.format;
    v.width = fmt.width;
    v.height = fmt.height;
    uint8_t *base = data.data() + frame_size * static_cast<size_t>(i);
    v.planes[0] = base;
    v.strides[0] = width;
    if (fmt.format == s2s::PixelFormat::kNv12) {
      v.planes[1] = base + y_size;
      v.strides[1] = static_cast<int64_t>(uv_stride);
    }
  }

  auto engine = s2s::make_cpu_pair_engine(static_cast<int>(threads));
  std::string error;
  if (!engine->configure(fmt, &error)) {
    std::fprintf(stderr, "configure: %s\n", error.c_str());
    return 1;
  }

  const int threads_used =
      threads > 0 ? static_cast<int>(threads) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const s2s::PairOptions options;  // MSE + SSIM, scikit-image's 7x7 uniform window
  std::vector<s2s::FrameView> batch_frames(static_cast<size_t>(batch));
  std::vector<uint8_t> pair_flags(static_cast<size_t>(batch), 1);
  std::vector<s2s::PairResult> results(static_cast<size_t>(batch));
  size_t next_frame = 0;  // index into the cycle of frames from the file

  // Runs `count` frames through the engine in batches. Every frame is paired
  // with its predecessor (the first frame ever has none and yields NaN).
  // Adds the finite results to the sums.
  auto run_frames = [&](long count, double *mse_sum, double *ssim_sum, long *scored) -> bool {
    long done = 0;
    while (done < count) {
      const size_t n = static_cast<size_t>(std::min(batch, count - done));
      for (size_t i = 0; i < n; ++i) {
        batch_frames[i] = views[next_frame];
        next_frame = (next_frame + 1) % views.size();
      }
      if (!engine->score(batch_frames.data(), pair_flags.data(), n, options, results.data(), &error)) {
        std::fprintf(stderr, "score: %s\n", error.c_str());
        return false;
      }
      for (size_t i = 0; i < n; ++i) {
        if (std::isfinite(results[i].mse) && std::isfinite(results[i].ssim)) {
          *mse_sum += results[i].mse;
          *ssim_sum += results[i].ssim;
          ++*scored;
        }
      }
      done += static_cast<long>(n);
    }
    return true;
  };

  // Warm-up (not timed): thread pool start-up, buffer allocation, caches.
  {
    double m = 0, s = 0;
    long k = 0;
    const long warm = std::max(4 * batch, 32L);
    if (!run_frames(warm, &m, &s, &k)) return 1;
  }

  for (long r = 0; r < reps; ++r) {
    double mse_sum = 0, ssim_sum = 0;
    long scored = 0;
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    if (!run_frames(pairs, &mse_sum, &ssim_sum, &scored)) return 1;
    const auto t1 = std::chrono::steady_clock::now();
    const double cpu_seconds = process_cpu_seconds() - c0;
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    // JSON has no NaN: a repetition without any scored pair reports null.
    char mse_text[64] = "null", ssim_text[64] = "null";
    if (scored > 0) {
      std::snprintf(mse_text, sizeof mse_text, "%.9f", mse_sum / scored);
      std::snprintf(ssim_text, sizeof ssim_text, "%.9f", ssim_sum / scored);
    }
    std::printf(
        "{\"rep\": %ld, \"format\": \"%s\", \"width\": %ld, \"height\": %ld, \"batch\": %ld, \"threads\": %d, "
        "\"pairs\": %ld, \"scored\": %ld, \"seconds\": %.6f, \"cpu_seconds\": %.6f, \"pairs_per_s\": %.3f, \"mean_mse\": %s, "
        "\"mean_ssim\": %s, \"engine\": \"%s\"}\n",
        r, format_arg.c_str(), width, height, batch, threads_used, pairs, scored, seconds, cpu_seconds, pairs / seconds, mse_text,
        ssim_text, engine->name());
    std::fflush(stdout);
  }
  return 0;
}
