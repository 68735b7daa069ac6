#!/usr/bin/env python3
"""CPU benchmark: pairs/s of MSE + SSIM at 1920x1080, ours next to scikit-image.

Usage:
    python3 tests/bench/bench_cpu.py build/tests/bench/bench_pairs [--quick]
    meson test -C build --benchmark -v cpu-pairs

Generates a cycle of frames (seeded NumPy: smooth sinusoidal texture that
moves a few pixels per frame, plus sensor-like noise; never flat frames),
writes them raw to a temporary directory and runs, in the same process run:

* our CPU engine (bench_pairs) on GRAY8 and NV12 input, batch 16 and batch 1,
  in several repetitions of N pairs after a warm-up; pairs/s is reported as
  the median and min-max over the repetitions;
* the reference: scikit-image's structural_similarity(a, b, data_range=255)
  plus NumPy's mean squared error on the same frames, one pair after another,
  keeping the previous frame's gray image. For NV12 the reference also pays
  for the conversion the replaced service needed:
  cv2.cvtColor(nv12, COLOR_YUV2BGR_NV12) then cv2.cvtColor(bgr,
  COLOR_BGR2GRAY), once per frame. scikit-image takes ~0.2 s a pair, so it is
  timed on fewer pairs (one cycle of frames by default), as the table says,
  pair by pair: its pairs/s is 1 / the median pair time, with the min-max.

The engine's frame cycle repeats after --frames frames and the motion is
periodic over that cycle, so every pair (including the wrap from the last
frame to the first) has the same small motion. With a whole number of cycles
per repetition, the engine's mean MSE/SSIM equals the reference's mean over one
cycle: the table reports both as a sanity check (GRAY8 must agree to rounding;
NV12 agrees when both sides use the same YUV matrix, BT.601 by default here as
in OpenCV).

Prints a Markdown table and never asserts timings.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    from skimage.metrics import structural_similarity
    import skimage
except ImportError:  # the table then says n/a for the reference
    structural_similarity = None
    skimage = None

try:
    import cv2
except ImportError:  # no NV12 reference without OpenCV's conversion
    cv2 = None


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------

def _texture(x, y, t, n_frames):
    """Smooth moving texture in float32, roughly 0..255, periodic in t."""
    phi = np.float32(2.0 * np.pi * t / n_frames)
    two_pi = np.float32(2.0 * np.pi)
    img = np.float32(128.0)
    # ~3 px/frame horizontally, ~2 px/frame vertically (one period per cycle)
    img = img + np.float32(45.0) * np.sin(two_pi * x / 97.0 + phi) * np.cos(two_pi * y / 61.0 - phi)
    # slow diagonal swell, ~6 px/frame
    img = img + np.float32(30.0) * np.sin(two_pi * (x + 0.5 * y) / 199.0 + phi)
    # fine static detail (background)
    img = img + np.float32(12.0) * np.sin(two_pi * x / 13.0) * np.sin(two_pi * y / 17.0)
    return img


def make_frames(width, height, n_frames, seed):
    """Returns (gray_frames, nv12_frames): lists of uint8 arrays.

    gray: (h, w). nv12: (h + ceil(h/2), w) for even widths; the bytes are the
    Y plane followed by the interleaved UV plane of ceil(w/2)*2 x ceil(h/2).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cw, ch = (width + 1) // 2, (height + 1) // 2
    cy, cx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    gray_frames, nv12_frames = [], []
    for t in range(n_frames):
        base = _texture(x, y, t, n_frames)
        noise = rng.normal(0.0, 5.0, size=base.shape).astype(np.float32)
        gray = np.clip(np.rint(base + noise), 0, 255).astype(np.uint8)
        gray_frames.append(gray)

        # NV12: limited-range luma from the same texture (own noise draw),
        # smooth moving chroma.
        noise = rng.normal(0.0, 5.0, size=base.shape).astype(np.float32)
        luma = np.clip(np.rint(16.0 + (base + noise) * (219.0 / 255.0)), 16, 235).astype(np.uint8)
        phi = 2.0 * np.pi * t / n_frames
        u = 128.0 + 40.0 * np.sin(2.0 * np.pi * cx / 151.0 + phi) + rng.normal(0.0, 2.0, size=cx.shape)
        v = 128.0 + 35.0 * np.cos(2.0 * np.pi * cy / 89.0 - phi) + rng.normal(0.0, 2.0, size=cy.shape)
        uv = np.empty((ch, 2 * cw), dtype=np.uint8)
        uv[:, 0::2] = np.clip(np.rint(u), 16, 240).astype(np.uint8)
        uv[:, 1::2] = np.clip(np.rint(v), 16, 240).astype(np.uint8)
        if 2 * cw == width:
            nv12 = np.concatenate([luma, uv], axis=0)
        else:  # odd width: rows differ in length; keep the raw bytes
            nv12 = np.concatenate([luma.ravel(), uv.ravel()])
        nv12_frames.append(np.ascontiguousarray(nv12))
    return gray_frames, nv12_frames


def write_frames(path, frames):
    with open(path, "wb") as f:
        for fr in frames:
            f.write(fr.tobytes())


# --------------------------------------------------------------------------
# Our engine
# --------------------------------------------------------------------------

def run_engine(binary, fmt, width, height, path, n_frames, batch, pairs, reps, threads, matrix):
    cmd = [binary, fmt, str(width), str(height), path, str(n_frames), str(batch), str(pairs), str(reps),
           str(threads), matrix]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError("%s failed with status %d" % (" ".join(cmd), proc.returncode))
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(rows) != reps:
        raise RuntimeError("expected %d result lines from bench_pairs, got %d" % (reps, len(rows)))
    return rows


# --------------------------------------------------------------------------
# Reference: scikit-image + NumPy (+ OpenCV conversion for NV12)
# --------------------------------------------------------------------------

def nv12_to_gray(nv12):
    bgr = cv2.cvtColor(nv12, cv2.COLOR_YUV2BGR_NV12)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def run_reference(frames, n_pairs, to_gray):
    """Scores pairs (F-1, 0), (0, 1), ... like the engine's cycle.

    Each timed step converts the new frame (to_gray, or nothing for gray
    input) and computes SSIM + MSE against the previous frame's gray image.
    Returns (pairs_per_s from the median pair time, per-pair seconds,
    mean_mse, mean_ssim, CPU seconds per pair).
    """
    conv = to_gray if to_gray is not None else (lambda a: a)
    n = len(frames)
    # warm-up, not timed: imports, allocations, caches
    prev = conv(frames[n - 1])
    first = conv(frames[0])
    structural_similarity(prev, first, data_range=255)
    np.mean((prev.astype(np.float64) - first) ** 2)

    times, mses, ssims = [], [], []
    prev = conv(frames[n - 1])
    cpu0 = time.process_time()
    for k in range(n_pairs):
        t0 = time.perf_counter()
        cur = conv(frames[k % n])
        s = structural_similarity(prev, cur, data_range=255)
        m = np.mean((prev.astype(np.float64) - cur) ** 2)
        t1 = time.perf_counter()
        times.append(t1 - t0)
        mses.append(float(m))
        ssims.append(float(s))
        prev = cur
    cpu = time.process_time() - cpu0
    return 1.0 / statistics.median(times), times, float(np.mean(mses)), float(np.mean(ssims)), cpu / n_pairs


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def load_average():
    """1-minute load average, or None: other work on the machine skews timings."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def fmt_rate(v):
    if v is None:
        return "n/a"
    return "%.1f" % v if v < 100 else "%.0f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", help="path to bench_pairs (e.g. build/tests/bench/bench_pairs)")
    ap.add_argument("--quick", action="store_true", help="short run (few pairs), for a smoke test")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--frames", type=int, default=32, help="distinct frames in the cycle (default 32)")
    ap.add_argument("--pairs", type=int, help="engine pairs per repetition (default 640, quick 64)")
    ap.add_argument("--reps", type=int, help="engine repetitions per point (default 5, quick 3)")
    ap.add_argument("--ref-pairs", type=int, help="scikit-image pairs timed per input (default --frames, quick 4)")
    ap.add_argument("--batches", default="16,1", help="comma-separated batch sizes (default 16,1)")
    ap.add_argument("--threads", type=int, default=0, help="engine threads, 0 = all (default)")
    ap.add_argument("--matrix", default="bt601", choices=["bt601", "bt709", "service"],
                    help="YUV matrix of the engine for NV12 (default bt601, as OpenCV's COLOR_YUV2BGR_NV12)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--output", help="also write the Markdown report to this file")
    args = ap.parse_args()

    pairs = args.pairs or (64 if args.quick else 640)
    reps = args.reps or (3 if args.quick else 5)
    ref_pairs = args.ref_pairs or (4 if args.quick else args.frames)
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    w, h, nf = args.width, args.height, args.frames
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit("not an executable: %s" % binary)

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = load_average()
    print("generating %d frames %dx%d (seed %d) ..." % (nf, w, h, args.seed), flush=True)
    gray_frames, nv12_frames = make_frames(w, h, nf, args.seed)

    inputs = [("GRAY8", gray_frames, None), ("NV12", nv12_frames, nv12_to_gray if cv2 is not None else None)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="s2s-bench-") as tmp:
        for fmt, frames, to_gray in inputs:
            path = os.path.join(tmp, fmt.lower() + ".raw")
            write_frames(path, frames)

            # reference first (same frames, same run)
            ref = None
            if structural_similarity is not None and (fmt == "GRAY8" or to_gray is not None):
                print("%s: scikit-image reference on %d pairs ..." % (fmt, ref_pairs), flush=True)
                ref = run_reference(frames, ref_pairs, to_gray)
            else:
                print("%s: reference unavailable (scikit-image or OpenCV missing)" % fmt, flush=True)

            for batch in batches:
                print("%s batch %d: engine, %d reps x %d pairs ..." % (fmt, batch, reps, pairs), flush=True)
                res = run_engine(binary, fmt, w, h, path, nf, batch, pairs, reps, args.threads, args.matrix)
                rates = [r["pairs_per_s"] for r in res]
                rows.append({
                    "fmt": fmt, "batch": batch, "threads": res[0]["threads"],
                    "median": statistics.median(rates), "min": min(rates), "max": max(rates),
                    "mse": statistics.mean(r["mean_mse"] for r in res),
                    "ssim": statistics.mean(r["mean_ssim"] for r in res),
                    "cpu_ms": 1e3 * statistics.median(r["cpu_seconds"] / r["pairs"] for r in res),
                    "ref": ref,
                })

    load_end = load_average()
    whole_cycles = pairs % nf == 0 and ref_pairs % nf == 0
    lines = []
    lines.append("### CPU pairs/s, MSE + SSIM, %dx%d" % (w, h))
    lines.append("")
    lines.append("| input | batch | our pairs/s, median (min–max) | our threads | our pairs timed | "
                 "scikit-image pairs/s, median (min–max) | scikit-image pairs timed | ratio of medians (our min) |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ref = r["ref"]
        ref_rate = ref[0] if ref else None
        ratio = "n/a" if not ref else "%.1f× (%.1f×)" % (r["median"] / ref_rate, r["min"] / ref_rate)
        ref_cell = "n/a" if not ref else "%s (%s–%s)" % (
            fmt_rate(ref_rate), fmt_rate(1.0 / max(ref[1])), fmt_rate(1.0 / min(ref[1])))
        lines.append("| %s | %d | %s (%s–%s) | %d | %d × %d | %s | %s | %s |" % (
            r["fmt"], r["batch"], fmt_rate(r["median"]), fmt_rate(r["min"]), fmt_rate(r["max"]), r["threads"],
            reps, pairs, ref_cell, "n/a" if not ref else "%d" % ref_pairs, ratio))
    lines.append("")
    lines.append("Checksums (mean over the pairs; engine: all repetitions, reference: its timed pairs):")
    lines.append("")
    lines.append("| input | batch | engine MSE | reference MSE | engine SSIM | reference SSIM |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        ref = r["ref"]
        lines.append("| %s | %d | %.6f | %s | %.8f | %s |" % (
            r["fmt"], r["batch"], r["mse"], "n/a" if not ref else "%.6f" % ref[2], r["ssim"],
            "n/a" if not ref else "%.8f" % ref[3]))
    lines.append("")
    lines.append("CPU time per pair (all threads; less sensitive than pairs/s to other load on the machine):")
    lines.append("")
    lines.append("| input | batch | engine ms CPU/pair (median) | reference ms CPU/pair | ratio |")
    lines.append("|---|---:|---:|---:|---:|")
    for r in rows:
        ref = r["ref"]
        lines.append("| %s | %d | %.2f | %s | %s |" % (
            r["fmt"], r["batch"], r["cpu_ms"], "n/a" if not ref else "%.1f" % (1e3 * ref[4]),
            "n/a" if not ref else "%.1f×" % (1e3 * ref[4] / r["cpu_ms"])))
    if not whole_cycles:
        lines.append("")
        lines.append("(Partial frame cycles: engine and reference checksums cover different pairs and need not "
                     "agree.)")
    lines.append("")
    lines.append("- Frames: %d distinct %dx%d frames cycled (seeded sinusoidal texture moving 2–6 px/frame "
                 "+ Gaussian noise σ=5; NV12 limited range with moving chroma)." % (nf, w, h))
    lines.append("- Engine: `bench_pairs`, CPU engine, MSE + SSIM (7×7 uniform window, as scikit-image), "
                 "warm-up then %d repetitions of %d pairs per point; NV12 converted to gray in the engine "
                 "(%s limited range)." % (reps, pairs, args.matrix.upper().replace("BT", "BT.")))
    lines.append("- Reference: `skimage.metrics.structural_similarity(a, b, data_range=255)` + "
                 "`np.mean((a.astype(np.float64) - b) ** 2)`, one pair at a time after one warm-up pair, "
                 "timed pair by pair; pairs/s = 1 / median pair time, min–max over the pairs. scikit-image and NumPy "
                 "run on one thread; NV12 adds `cv2.cvtColor(nv12, COLOR_YUV2BGR_NV12)` + "
                 "`cv2.cvtColor(bgr, COLOR_BGR2GRAY)` per frame (OpenCV's default threads, %s). Timed on %d "
                 "pairs per input (it takes ~0.2 s a pair), one frame cycle by default." % (
                     cv2.getNumThreads() if cv2 else "n/a", ref_pairs))
    lines.append("- Machine: %d usable CPUs (nproc), %s; %s %s; Python %s, NumPy %s, scikit-image %s, OpenCV %s." % (
        usable_cpus(), cpu_model(), platform.system(), platform.release(), platform.python_version(),
        np.__version__, skimage.__version__ if skimage else "n/a", cv2.__version__ if cv2 else "n/a"))
    lines.append("- Date: %s (UTC); 1-minute load average %s at start, %s at end (other work on the machine "
                 "lowers and spreads the figures)." % (
                     started.strftime("%Y-%m-%d %H:%M"),
                     "n/a" if load_start is None else "%.2f" % load_start,
                     "n/a" if load_end is None else "%.2f" % load_end))
    report = "\n".join(lines)
    print()
    print(report, flush=True)
    if args.output:
        with open(args.output, "w") as f:
            f.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
