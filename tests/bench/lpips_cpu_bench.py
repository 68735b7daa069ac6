#!/usr/bin/env python3
"""LPIPS on the CPU, side by side in one run (issue 15):

  ref:  the `lpips` package (AlexNet v0.1, the replaced service's LPIPS) on
        ready 256x256 tensors (frames of the clip, decoded and resized
        beforehand, not timed), batches of 16 pairs, both frames of each pair
        through AlexNet, torch's default threads (all cores);
  ours: gst-launch-1.0 filesrc ! qtdemux ! h264parse ! avdec_h264 !
        s2smetrics metrics=lpips device=cpu ! fakesink on a 1280x720 H.264
        clip: H.264 decoding included. Each frame is paired with the one
        before, so frames/s is pairs/s. Timed by gst-launch's "Execution
        ended after" (PLAYING to EOS: LibTorch and model loading outside).

Both run the same weights: the build's real ones when present (the default
of s2smetrics), else seeded random ones (`lpips_weights.py random`); speed
does not depend on the values. The two alternate, round after round, so a
change in the load of a shared machine hits both; the table gives the median
(min-max) of the rounds, the CPU time per pair (all threads; less sensitive
to other load than pairs/s) and the ratio of the medians. The target of
issue 15 is ours >= 1.8x the reference. Never asserts timings.

    python3 tests/bench/lpips_cpu_bench.py [--build build] [--rounds 5]
        [--frames 300] [--ref-pairs 64] [--props "batch-size=16"] [--markdown]
        [--compare OTHER_BUILD]

--compare adds a third row, the same pipeline with another build's plugin
(e.g. one of an earlier commit), in the same rounds: before and after.
    meson test -C build --benchmark -v lpips-cpu
"""

import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
WIDTH, HEIGHT, FPS = 1280, 720, 30


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_clip(cache, frames):
    """A 1280x720 H.264 clip: FFmpeg's testsrc2 (moving objects, gradients,
    text) with temporal noise, x264 veryfast CRF 23, as e2e_bench.py's."""
    path = os.path.join(cache, f"lpips-bench-{WIDTH}x{HEIGHT}-{frames}.mp4")
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    tmp = path + ".part.mp4"
    if shutil.which("ffmpeg"):
        src = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS},noise=alls=10:allf=t+u,format=yuv420p"
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src,
               "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60",
               "-pix_fmt", "yuv420p", tmp]
    else:
        cmd = ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={frames}", "pattern=zone-plate",
               "kx2=20", "ky2=20", "kt=1", "kxt=3", "!",
               f"video/x-raw,width={WIDTH},height={HEIGHT},framerate={FPS}/1,format=I420", "!",
               "x264enc", "speed-preset=veryfast", "key-int-max=60", "!", "mp4mux", "!", "filesink",
               f"location={tmp}"]
    subprocess.run(cmd, check=True)
    os.replace(tmp, path)
    return path


def weights_for(build, cache):
    """(path, label): the build's real weights, else seeded random ones."""
    real = os.path.join(build, "models", "lpips-alex-v0.1.safetensors")
    if os.path.isfile(real):
        return real, "real (the build's default)"
    path = os.path.join(cache, "lpips-random-seed1.safetensors")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "models", "tools", "lpips_weights.py"), "random",
                        "--seed", "1", path], check=True)
    return path, "seeded random (no real weights in this build)"


class Reference:
    """The lpips package on ready tensors."""

    def __init__(self, weights, clip, batch=16):
        warnings.filterwarnings("ignore")
        import cv2
        import torch

        sys.path.insert(0, os.path.join(ROOT, "tests", "lpips"))
        from lpips_reference import load_model

        self.torch = torch
        self.model = load_model(weights)
        self.batch = batch
        cap = cv2.VideoCapture(clip)
        frames = []
        while len(frames) < 2 * batch + 1:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (256, 256), interpolation=cv2.INTER_LINEAR)
            frames.append(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255 * 2 - 1)
        cap.release()
        if len(frames) < batch + 1:
            raise RuntimeError(f"{clip}: cv2.VideoCapture read {len(frames)} frames")
        self.frames = torch.stack(frames)
        with torch.no_grad():
            self.step(0)  # warm-up

    def step(self, k):
        """One call of `batch` pairs (frame i against i+1)."""
        n = self.frames.shape[0] - self.batch
        k %= n
        return self.model(self.frames[k:k + self.batch], self.frames[k + 1:k + 1 + self.batch])

    def run(self, pairs):
        """(pairs/s, CPU ms per pair) over at least `pairs` pairs."""
        calls = max(1, -(-pairs // self.batch))
        with self.torch.no_grad():
            c0, t0 = self_cpu(), time.perf_counter()
            for k in range(calls):
                self.step(k)
            t1, c1 = time.perf_counter(), self_cpu()
        done = calls * self.batch
        return done / (t1 - t0), (c1 - c0) * 1000 / done


def run_ours(build, clip, frames, weights, props):
    """(pairs/s, CPU ms per pair) of one gst-launch run, decoding included."""
    env = dict(os.environ)
    env["GST_PLUGIN_PATH"] = os.path.join(build, "gst") + (
        ":" + env["GST_PLUGIN_PATH"] if env.get("GST_PLUGIN_PATH") else "")
    env["GST_DEBUG"] = "s2smetrics:4"
    desc = (f"filesrc location={clip} ! qtdemux ! h264parse ! avdec_h264 ! s2smetrics metrics=lpips device=cpu "
            f"lpips-model={weights} {props} ! fakesink sync=false async=false")
    c0 = children_cpu()
    p = subprocess.run(["gst-launch-1.0"] + desc.split(), env=env, capture_output=True, text=True)
    cpu = children_cpu() - c0
    m = re.search(r"Execution ended after (\d+):(\d+):(\d+\.\d+)", p.stdout + p.stderr)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"gst-launch failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    if not re.search(r"LPIPS model \S+ on cpu", p.stderr):
        raise RuntimeError("the LPIPS model did not load on the CPU:\n" + p.stderr[-2000:])
    seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    pairs = frames - 1
    # CPU time includes process start-up and model loading (~1-2 s): an
    # upper bound per pair.
    return pairs / seconds, cpu * 1000 / pairs


def spread(values, fmt="{:.3g}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--frames", type=int, default=300, help="frames of the clip ours decodes and scores")
    ap.add_argument("--ref-pairs", type=int, default=64, help="pairs the reference scores per round")
    ap.add_argument("--props", default="", help="extra s2smetrics properties, e.g. batch-size=1")
    ap.add_argument("--compare", help="another build directory whose plugin runs as a third row")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    if not os.path.exists(os.path.join(args.build, "gst")):
        log(f"lpips-cpu: no build at {args.build}")
        return 77
    try:
        import lpips  # noqa: F401
        import cv2  # noqa: F401
    except ImportError as e:
        log(f"lpips-cpu: not run: {e} (scripts/setup.sh installs the references)")
        return 77
    cache = os.path.join(args.build, "lpips-bench")
    clip = make_clip(cache, args.frames)
    weights, label = weights_for(args.build, cache)
    log(f"lpips-cpu: clip {clip}, weights {label}")
    ref = Reference(weights, clip)
    run_ours(args.build, clip, args.frames, weights, args.props)  # warm-up (page cache, LibTorch)

    if args.compare:
        run_ours(args.compare, clip, args.frames, weights, args.props)

    ref_fps, ref_cpu, our_fps, our_cpu, cmp_fps, cmp_cpu = [], [], [], [], [], []
    for r in range(args.rounds):
        f, c = ref.run(args.ref_pairs)
        ref_fps.append(f)
        ref_cpu.append(c)
        f2, c2 = run_ours(args.build, clip, args.frames, weights, args.props)
        our_fps.append(f2)
        our_cpu.append(c2)
        line = (f"lpips-cpu: round {r + 1}/{args.rounds}: lpips package {f:.3g} pairs/s ({c:.0f} CPU ms/pair), "
                f"ours {f2:.3g} pairs/s ({c2:.0f} CPU ms/pair), ratio {f2 / f:.2f}")
        if args.compare:
            f3, c3 = run_ours(args.compare, clip, args.frames, weights, args.props)
            cmp_fps.append(f3)
            cmp_cpu.append(c3)
            line += f"; {args.compare}: {f3:.3g} pairs/s ({c3:.0f} CPU ms/pair), ratio {f3 / f:.2f}"
        log(line)

    ratio = statistics.median(our_fps) / statistics.median(ref_fps)
    ratios = [o / f for o, f in zip(our_fps, ref_fps)]
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    import torch

    print(f"LPIPS on the CPU, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {platform.node()}: "
          f"{os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"load average now {load}; weights {label}; {args.rounds} alternating rounds")
    rows = [
        ("lpips package, ready 256×256 tensors, 16 pairs per call", spread(ref_fps), spread(ref_cpu, "{:.0f}"),
         f"{args.rounds} × {-(-args.ref_pairs // 16) * 16}"),
        (f"ours, avdec_h264 {WIDTH}×{HEIGHT} ! s2smetrics metrics=lpips device=cpu {args.props}".strip(),
         spread(our_fps), spread(our_cpu, "{:.0f}") + " (incl. start-up)", f"{args.rounds} × {args.frames - 1}"),
    ]
    if args.compare:
        rows.append((f"the same with {args.compare}'s plugin", spread(cmp_fps), spread(cmp_cpu, "{:.0f}")
                     + " (incl. start-up)", f"{args.rounds} × {args.frames - 1}"))
    if args.markdown:
        print("\n| what | pairs/s, median (min–max) | CPU ms per pair | pairs timed |\n|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
        print(f"\nratio of medians: **{ratio:.2f}×** (per round {min(ratios):.2f}–{max(ratios):.2f}); target ≥ 1.8×")
        if args.compare:
            print(f"{args.compare}: {statistics.median(cmp_fps) / statistics.median(ref_fps):.2f}×")
    else:
        for r in rows:
            print(f"  {r[0]:<70} {r[1]:>20} pairs/s  {r[2]:>26} CPU ms/pair  {r[3]} pairs")
        print(f"  ratio of medians {ratio:.2f}x (per round {min(ratios):.2f}–{max(ratios):.2f}); target >= 1.8x: "
              f"{'met' if ratio >= 1.8 else 'NOT met'}")
        if args.compare:
            print(f"  {args.compare}: ratio of medians {statistics.median(cmp_fps) / statistics.median(ref_fps):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
