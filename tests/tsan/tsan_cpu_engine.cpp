// ThreadSanitizer run over the CPU engine's threading (reliability row 22):
// several streams at once, each with engines of its own whose thread pools
// are started, used batch after batch and torn down again, as instances of
// the elements are in a busy application. Every result must equal, bit for
// bit, the same stream scored alone on one thread (the engine's band
// boundaries are fixed, so threading must not change a sum).
//
// Built and run by run_tsan.sh with -fsanitize=thread; prints
// "tsan-cpu-engine: N streams x M frames ... 0 differences" and exits 1 on a
// difference (TSan itself exits 66 on a report).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "convert.h"
#include "pair_engine.h"

namespace {

using s2s::PixelFormat;

struct Stream {
  PixelFormat format;
  int width, height;
  std::vector<std::vector<uint8_t>> planes;  // [frame * 3 + plane]
  std::vector<s2s::FrameView> frames;
};

// Bytes per row and rows of plane p (the formats used here only).
void geometry(PixelFormat f, int p, int w, int h, int *row, int *rows) {
  *row = 0, *rows = 0;
  switch (f) {
    case PixelFormat::kGray8:
      if (p == 0) *row = w, *rows = h;
      break;
    case PixelFormat::kRgba:
      if (p == 0) *row = 4 * w, *rows = h;
      break;
    case PixelFormat::kNv12:
      if (p == 0) *row = w, *rows = h;
      if (p == 1) *row = 2 * ((w + 1) / 2), *rows = (h + 1) / 2;
      break;
    default:  // I420
      if (p == 0) *row = w, *rows = h;
      if (p > 0) *row = (w + 1) / 2, *rows = (h + 1) / 2;
      break;
  }
}

Stream make_stream(PixelFormat f, int w, int h, int n, uint32_t seed) {
  Stream s{f, w, h, {}, {}};
  uint32_t x = seed;
  s.planes.resize(static_cast<size_t>(n) * 3);
  for (int i = 0; i < n; ++i) {
    s2s::FrameView v;
    v.format = f, v.width = w, v.height = h;
    for (int p = 0; p < 3; ++p) {
      int row, rows;
      geometry(f, p, w, h, &row, &rows);
      if (rows == 0) continue;
      const int stride = row + 3;  // padded rows, as GStreamer's may be
      auto &bytes = s.planes[static_cast<size_t>(i) * 3 + p];
      bytes.resize(static_cast<size_t>(stride) * rows);
      for (auto &b : bytes) {
        x = x * 1664525u + 1013904223u;
        b = static_cast<uint8_t>(x >> 24);
      }
      v.planes[p] = bytes.data();
      v.strides[p] = stride;
    }
    s.frames.push_back(v);
  }
  return s;
}

// Scores the stream in batches of the given sizes (cycled) on a fresh engine
// of `threads` threads per `lifetime` frames; results in order.
std::vector<s2s::PairResult> score(const Stream &s, int threads, const std::vector<int> &batches, int lifetime) {
  s2s::StreamFormat format;
  format.format = s.format, format.width = s.width, format.height = s.height;
  format.yuv = s2s::make_yuv_to_rgb(0.2126, 0.0722, false);  // BT.709, limited range
  std::vector<s2s::PairResult> out;
  std::unique_ptr<s2s::PairEngine> engine;
  std::string error;
  size_t i = 0, k = 0;
  while (i < s.frames.size()) {
    if (!engine || static_cast<int>(i) % lifetime == 0) {
      // A new engine (new pool) that picks up the chain where the last left
      // it: its first frame is re-scored unpaired, as after a restart.
      engine = s2s::make_cpu_pair_engine(threads);
      if (!engine->configure(format, &error)) {
        std::fprintf(stderr, "configure: %s\n", error.c_str());
        std::exit(2);
      }
      if (i > 0) {
        uint8_t no = 0;
        s2s::PairResult r;
        engine->score(&s.frames[i - 1], &no, 1, s2s::PairOptions{}, &r, &error);
      }
    }
    const size_t n = std::min<size_t>(batches[k++ % batches.size()], s.frames.size() - i);
    std::vector<uint8_t> paired(n, 1);
    if (i == 0) paired[0] = 0;
    std::vector<s2s::PairResult> r(n);
    if (!engine->score(&s.frames[i], paired.data(), n, s2s::PairOptions{}, r.data(), &error)) {
      std::fprintf(stderr, "score: %s\n", error.c_str());
      std::exit(2);
    }
    out.insert(out.end(), r.begin(), r.end());
    i += n;
  }
  return out;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

int main() {
  const PixelFormat formats[] = {PixelFormat::kNv12, PixelFormat::kI420, PixelFormat::kGray8, PixelFormat::kRgba};
  const int kStreams = 6, kFrames = 14;
  std::vector<Stream> streams;
  for (int t = 0; t < kStreams; ++t)
    streams.push_back(make_stream(formats[t % 4], t % 2 ? 97 : 64, t % 2 ? 61 : 48, kFrames, 7u + t));

  // Alone, one thread, batch 1: the reference.
  std::vector<std::vector<s2s::PairResult>> want;
  for (const auto &s : streams) want.push_back(score(s, 1, {1}, kFrames));

  // All at once, pools of two or three threads, mixed batch sizes, engines
  // replaced every few frames.
  std::vector<std::vector<s2s::PairResult>> got(kStreams);
  std::vector<std::thread> threads;
  for (int t = 0; t < kStreams; ++t)
    threads.emplace_back([&, t] { got[t] = score(streams[t], 2 + t % 2, {3, 1, 5, 2}, 5 + t % 3); });
  for (auto &th : threads) th.join();

  int differences = 0;
  for (int t = 0; t < kStreams; ++t)
    for (int i = 0; i < kFrames; ++i)
      if (!same(got[t][i].mse, want[t][i].mse) || !same(got[t][i].ssim, want[t][i].ssim)) {
        if (differences++ < 10)
          std::fprintf(stderr, "stream %d frame %d: mse %.17g / %.17g, ssim %.17g / %.17g\n", t, i, got[t][i].mse,
                       want[t][i].mse, got[t][i].ssim, want[t][i].ssim);
      }
  std::printf("tsan-cpu-engine: %d streams x %d frames in %d threads (pools of 2-3), %d differences\n", kStreams,
              kFrames, kStreams, differences);
  return differences == 0 ? 0 : 1;
}
