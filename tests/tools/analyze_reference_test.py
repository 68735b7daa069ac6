#!/usr/bin/env python3
"""s2s-analyze DIST --reference REF against independent references.

Clips: lossless FFV1 in Matroska, 8-bit gray (so no colour conversion stands
between the decoded frames and the metrics), made here by FFmpeg: a moving
test pattern (REF) and the same with temporal noise (DIST), one frame left
identical (PSNR inf).

References, on the frames FFmpeg decodes (not GStreamer):
  mse   NumPy mean((a - b)^2), psnr 10*log10(255^2/mse)
  ssim  skimage.metrics.structural_similarity(a, b, data_range=255)
  FFmpeg's psnr filter: per-frame psnr_y (two decimals in its stats file)
  lpips the `lpips` package on the test weights (S2S_LPIPS_WEIGHTS), when
        both are available

Then the frame-count and size checks: a shorter or longer reference is an
error (exit 1) naming both; --allow-length-mismatch compares the common
part; a reference of another size is an error naming both sizes.

Env: S2S_ANALYZE (the program), GST_PLUGIN_PATH (our plugin),
S2S_LPIPS_WEIGHTS (optional). Exit 77 (skip) without ffmpeg or avdec_ffv1.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from skimage.metrics import structural_similarity

W, H, N = 96, 64, 12
SKIP = 77


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_clip(path, frames, size=(W, H), noise=True):
    """frames test pattern frames; with noise, frame 3 is left clean."""
    src = f"testsrc2=size={size[0]}x{size[1]}:rate=30:duration={frames / 30}"
    chain = "format=gray"
    if noise:                   # temporal noise on every frame but the fourth
        chain += ",noise=alls=25:allf=t:enable='not(eq(n,3))',format=gray"
    ffmpeg("-f", "lavfi", "-i", src, "-vf", chain, "-c:v", "ffv1", "-frames:v", str(frames), path)


def decode(path):
    out = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", path, "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    frames = np.frombuffer(out, np.uint8)
    return frames.reshape(-1, H, W)


def ffmpeg_psnr(dist, ref, tmp):
    stats = os.path.join(tmp, "psnr.log")
    ffmpeg("-i", dist, "-i", ref, "-lavfi", f"[0:v]format=gray[d];[1:v]format=gray[r];[d][r]psnr=stats_file={stats}", "-f", "null", "-")
    out = []
    with open(stats) as f:
        for line in f:
            fields = dict(kv.split(":", 1) for kv in line.split())
            out.append(float(fields["psnr_y"]))
    return out


def run(*args):
    r = subprocess.run([os.environ["S2S_ANALYZE"], *args], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def check(cond, message):
    if not cond:
        print("FAIL: " + message)
        sys.exit(1)


def lpips_reference(ref, dist):
    weights = os.environ.get("S2S_LPIPS_WEIGHTS")
    if not weights:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "lpips"))
    sys.path.insert(0, os.path.join(here, "..", "..", "models", "tools"))
    try:
        import torch
        from lpips_reference import load_model, lpips_of
    except ImportError as e:
        print(f"no LPIPS reference: {e}")
        return None
    torch.set_num_threads(2)
    model = load_model(weights)
    rgb = lambda g: np.repeat(g[..., None], 3, axis=2)  # noqa: E731 (gray frames as RGB, as the engine)
    return [lpips_of(model, rgb(a), rgb(b), 256) for a, b in zip(ref, dist)]


def main():
    if not shutil.which("ffmpeg"):
        print("SKIP: no ffmpeg")
        return SKIP
    if subprocess.run(["gst-inspect-1.0", "avdec_ffv1"], capture_output=True).returncode != 0:
        print("SKIP: no avdec_ffv1 (gst-libav)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="s2s-analyze-reference-")
    try:
        ref, dist = os.path.join(tmp, "ref.mkv"), os.path.join(tmp, "dist.mkv")
        make_clip(ref, N, noise=False)
        make_clip(dist, N)
        a, b = decode(ref), decode(dist)
        check(a.shape == (N, H, W) and b.shape == (N, H, W), f"decoded {a.shape} {b.shape}")
        ff = ffmpeg_psnr(dist, ref, tmp)
        lp = lpips_reference(a, b)

        # Per-frame values.
        args = [dist, "--reference", ref, "--jsonl", "-", "--batch-size", "5"]
        args += ["--lpips-model", os.environ["S2S_LPIPS_WEIGHTS"]] if lp else ["--metrics", "mse,inv-ssim"]
        rc, out, err = run(*args, "-q")
        check(rc == 0, f"exit {rc}: {err}")
        rows = [json.loads(line) for line in out.splitlines()]
        check(len(rows) == N, f"{len(rows)} rows, expected {N}")
        for i, r in enumerate(rows):
            x, y = a[i].astype(np.float64), b[i].astype(np.float64)
            mse = float(np.mean((x - y) ** 2))
            ssim = float(structural_similarity(a[i], b[i], data_range=255))
            check(r["frame"] == i and r["status"] == "ok", f"row {i}: {r}")
            check(abs(r["mse"] - mse) <= 1e-9 * max(1, mse), f"frame {i}: mse {r['mse']}, NumPy {mse}")
            check(abs(r["inv_ssim"] - (1 - ssim)) <= 1e-9, f"frame {i}: 1-ssim {r['inv_ssim']}, "
                  f"scikit-image {1 - ssim}")
            if mse == 0:
                check(r["psnr"] is None and math.isinf(ff[i]), f"frame {i}: identical, psnr {r['psnr']}")
            else:
                psnr = 10 * math.log10(255 ** 2 / mse)
                check(abs(r["psnr"] - psnr) <= 1e-9, f"frame {i}: psnr {r['psnr']}, NumPy {psnr}")
                check(abs(r["psnr"] - ff[i]) <= 0.0051, f"frame {i}: psnr {r['psnr']}, FFmpeg {ff[i]}")
            if lp:
                check(abs(r["lpips"] - lp[i]) <= 1e-4, f"frame {i}: lpips {r['lpips']}, lpips package {lp[i]}")
        check(any(r["psnr"] is None for r in rows), "no identical frame in the clip")
        print(f"{N} frames match NumPy, scikit-image and FFmpeg's psnr" + (" and lpips" if lp else ""))

        # CSV writes the infinite PSNR as inf; the plot is drawn.
        csv, png = os.path.join(tmp, "out.csv"), os.path.join(tmp, "out.png")
        rc, out, err = run(dist, "--reference", ref, "--metrics", "mse,inv-ssim", "--csv", csv, "--plot", png,
                           "-q")
        check(rc == 0, f"exit {rc}: {err}")
        lines = open(csv).read().splitlines()
        check(lines[0] == "frame,pts,time,mse,inv_ssim,lpips,weighted,psnr,status", lines[0])
        check(lines[4].split(",")[7] == "inf", f"identical frame: {lines[4]}")
        check(open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "no PNG")

        # Lengths.
        short, long_ = os.path.join(tmp, "short.mkv"), os.path.join(tmp, "long.mkv")
        make_clip(short, 8, noise=False)
        make_clip(long_, N + 6, noise=False)
        rc, out, err = run(dist, "--reference", short, "--metrics", "mse", "-q")
        check(rc == 1 and "has 8 frames" in err and "lengths differ" in err, f"short reference: {rc} {err}")
        rc, out, err = run(dist, "--reference", long_, "--metrics", "mse", "-q")
        check(rc == 1 and "more frames" in err, f"long reference: {rc} {err}")
        rc, out, err = run(dist, "--reference", short, "--metrics", "mse", "--allow-length-mismatch",
                           "--jsonl", "-", "-q")
        rows = [json.loads(line) for line in out.splitlines()]
        check(rc == 0 and len(rows) == 8 and all(r["status"] == "ok" for r in rows),
              f"--allow-length-mismatch: {rc} {len(rows)} rows {err}")

        # Sizes.
        small = os.path.join(tmp, "small.mkv")
        make_clip(small, N, size=(80, 64), noise=False)
        rc, out, err = run(dist, "--reference", small, "--metrics", "mse", "-q")
        check(rc == 1 and "80x64" in err and "96x64" in err, f"size mismatch: {rc} {err}")
        print("length and size mismatches: errors naming both")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
