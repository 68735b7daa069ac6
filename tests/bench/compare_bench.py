#!/usr/bin/env python3
"""Full-reference benchmark: an encode against its source, ours beside
FFmpeg's psnr + ssim filters on the same pair of clips (docs/performance.md).

Clips: FFmpeg's testsrc2 with temporal noise, encoded once with x264
(the source at crf 18, the encode of that source at crf 32), cached under
the build directory. Rows, each timed --runs times (median, min-max):

  ffmpeg-decode   ffmpeg -i encoded -i source, both decoded, nothing else
  ffmpeg-psnr-ssim  the same with psnr and ssim filters (Y, U, V; CPU)
  ours-decode     gst-launch: both decoded (avdec_h264) into fakesinks
  ours-compare    gst-launch: both decoded into s2scompare
                  metrics=mse+inv-ssim (MSE, PSNR, SSIM on gray; CPU or GPU
                  as --device says)
  ours-analyze    s2s-analyze encoded --reference source (the same, plus the
                  program's outputs)

The numbers are not the same metrics (FFmpeg: Y, U, V planes and x264's
8x8 SSIM; ours: gray, scikit-image's SSIM); their means are printed for
orientation. Never asserts a time.

    python3 tests/bench/compare_bench.py --build build [--size 1280x720]
        [--frames 150] [--runs 3] [--device cpu]
    meson test -C build --benchmark -v compare
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def make_clips(cache, size, frames):
    os.makedirs(cache, exist_ok=True)
    src = os.path.join(cache, f"source-{size}-{frames}.mp4")
    enc = os.path.join(cache, f"encoded-{size}-{frames}.mp4")
    if not os.path.exists(src):
        sh(["ffmpeg", "-hide_banner", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
            "-vf", "noise=alls=4:allf=t,format=yuv420p", "-frames:v", str(frames), "-c:v", "libx264",
            "-crf", "18", "-preset", "veryfast", src])
    if not os.path.exists(enc):
        sh(["ffmpeg", "-hide_banner", "-y", "-i", src, "-c:v", "libx264", "-crf", "32", "-preset", "veryfast",
            enc])
    return src, enc


def timed(cmd, env=None, runs=3):
    times, out = [], None
    for _ in range(runs):
        t0 = time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        times.append(time.monotonic() - t0)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {out.stderr[-2000:]}")
    return times, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if not shutil.which("ffmpeg") or not shutil.which("gst-launch-1.0"):
        print("SKIP: needs ffmpeg and gst-launch-1.0")
        return 77
    build = os.path.abspath(args.build)
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "gst"), GST_DEBUG="0")
    src, enc = make_clips(os.path.join(build, "tests", "bench", "compare-clips"), args.size, args.frames)
    n = args.frames

    def dec(path, name):
        return f"filesrc location={path} ! qtdemux ! h264parse ! avdec_h264 ! {name}"

    rows = []
    t, _ = timed(["ffmpeg", "-hide_banner", "-i", enc, "-i", src, "-map", "0:v", "-map", "1:v", "-f", "null", "-"],
                 runs=args.runs)
    rows.append(("ffmpeg-decode", "ffmpeg: both decoded, no metric", t, ""))
    t, out = timed(["ffmpeg", "-hide_banner", "-i", enc, "-i", src, "-lavfi",
                    "[0:v]split[a][b];[1:v]split[c][d];[a][c]psnr;[b][d]ssim", "-f", "null", "-"], runs=args.runs)
    psnr = re.search(r"PSNR y:(\S+) .*average:(\S+)", out.stderr)
    ssim = re.search(r"SSIM Y:(\S+) .*All:(\S+)", out.stderr)
    rows.append(("ffmpeg-psnr-ssim", "ffmpeg: psnr + ssim filters (Y, U, V)", t,
                 f"PSNR y {psnr.group(1)} dB (average of Y,U,V {psnr.group(2)}), SSIM Y {ssim.group(1)}"
                 if psnr and ssim else ""))
    t, _ = timed(["gst-launch-1.0", "-q", *(dec(enc, "fakesink sync=false") + " " + dec(src, "fakesink sync=false")).split()],
                 env=env, runs=args.runs)
    rows.append(("ours-decode", "gst: both decoded (avdec_h264), no metric", t, ""))
    launch = (f"s2scompare name=c device={args.device} metrics=mse+inv-ssim ! fakesink sync=false "
              + dec(enc, "c.distorted") + " " + dec(src, "c.reference"))
    t, out = timed(["gst-launch-1.0", "-m", *launch.split()], env=env, runs=args.runs)
    m = re.search(r"psnr-of-mean-mse=\(double\)(\S+?),.*[ ,]ssim-mean=\(double\)(\S+?),", out.stdout)
    rows.append(("ours-compare", f"gst: both decoded into s2scompare mse+inv-ssim ({args.device})", t,
                 f"PSNR (gray, of the mean MSE) {float(m.group(1)):.4f} dB, SSIM {float(m.group(2)):.6f}"
                 if m else ""))
    t, _ = timed([os.path.join(build, "tools", "s2s-analyze"), enc, "--reference", src, "--metrics", "mse,inv-ssim",
                  "--device", args.device, "-q"], env=env, runs=args.runs)
    rows.append(("ours-analyze", f"s2s-analyze ENC --reference SRC, mse+inv-ssim ({args.device})", t, ""))

    print(f"\nFull reference, {n} frames {args.size} H.264 (encode crf 32 against source crf 18), "
          f"{os.cpu_count()} CPUs, {args.runs} runs each\n")
    print("| row | what | frames/s median (min–max) | s per run | means |")
    print("|---|---|---:|---:|---|")
    for name, what, t, note in rows:
        fps = [n / x for x in t]
        print(f"| {name} | {what} | {statistics.median(fps):.1f} ({min(fps):.1f}–{max(fps):.1f}) | "
              f"{statistics.median(t):.2f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
