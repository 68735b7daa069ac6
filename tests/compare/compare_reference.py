#!/usr/bin/env python3
"""Reference values for s2scompare (full-reference comparison).

    compare_reference.py OUTDIR [LPIPS_WEIGHTS]

Makes small reference and distorted clips (fixed seeds) and computes, per
(reference, distorted) frame pair, with independent tools only:

  mse, psnr  NumPy on the gray frames: mean((a - b)^2) in float64 and
             10*log10(255^2 / mse) (inf when the frames are identical)
  ssim       skimage.metrics.structural_similarity(a, b, data_range=255)
  lpips      the `lpips` package (AlexNet v0.1) on the RGB frames resized by
             cv2.resize(INTER_LINEAR) to 256x256, with the weights of
             LPIPS_WEIGHTS loaded by name (tests/lpips/lpips_reference.py);
             nan without weights or without the package
  ffmpeg     FFmpeg's psnr filter on the gray clips (rawvideo, pix_fmt gray):
             its per-frame mse_y and psnr_y from the stats file (two
             decimals); nan where ffmpeg is not installed

Gray of RGB frames is cv2.cvtColor(COLOR_RGB2GRAY), the replaced service's
conversion. Writes OUTDIR/compare-cases.txt:

    case NAME FORMAT WIDTH HEIGHT NFRAMES
    frame INDEX REFFILE DISTFILE      (packed planes)
    pair INDEX MSE PSNR SSIM LPIPS FFMPEG_MSE FFMPEG_PSNR
    summary PSNR_OF_MEAN_MSE FFMPEG_AVERAGE
    end
"""
import math
import os
import re
import shutil
import subprocess
import sys

import cv2
import numpy as np
from skimage.metrics import structural_similarity


def natural(rng, w, h, t):
    """Smooth moving texture with edges and noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    for c in range(3):
        img[..., c] = (128 + 60 * np.sin((x + 5 * t) / (9 + 4 * c)) * np.cos((y - 3 * t) / (13 + c))
                       + 40 * ((x + 7 * t) % 64 < 32) + rng.normal(0, 6, (h, w)))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def distort(rng, img, i):
    """A different distortion per frame; frame 2 is left identical."""
    if i == 2:
        return img.copy()
    if i % 3 == 0:
        out = img.astype(np.float64) + rng.normal(0, 4 + 3 * i, img.shape)
    elif i % 3 == 1:
        out = cv2.GaussianBlur(img, (5, 5), 1.0 + 0.5 * i).astype(np.float64)
    else:
        out = (img.astype(np.float64) // 16) * 16 + 8      # coarse quantisation
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def ffmpeg_psnr(outdir, name, w, h, ref_frames, dist_frames):
    n = len(ref_frames)
    nan = [(math.nan, math.nan)] * n, math.nan
    if not shutil.which("ffmpeg"):
        return nan
    ref_path = os.path.join(outdir, f"cmp-{name}-ref.yuv")
    dist_path = os.path.join(outdir, f"cmp-{name}-dist.yuv")
    stats = os.path.join(outdir, f"cmp-{name}-psnr.log")
    with open(ref_path, "wb") as f:
        f.write(b"".join(g.tobytes() for g in ref_frames))
    with open(dist_path, "wb") as f:
        f.write(b"".join(g.tobytes() for g in dist_frames))
    raw = ["-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}", "-framerate", "30", "-i"]
    run = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-y"] + raw + [dist_path] + raw + [ref_path]
                         + ["-lavfi", f"[0:v][1:v]psnr=stats_file={stats}", "-f", "null", "-"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("ffmpeg failed: " + run.stderr)
    per_frame = []
    with open(stats) as f:
        for line in f:
            fields = dict(kv.split(":", 1) for kv in line.split())
            per_frame.append((float(fields["mse_y"]), float(fields["psnr_y"])))
    m = re.search(r"PSNR y:(\S+)", run.stderr)
    average = float(m.group(1)) if m else math.nan
    return per_frame, average


def lpips_model(weights):
    if not weights:
        return None
    try:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lpips"))
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models",
                                        "tools"))
        import torch
        from lpips_reference import load_model
        torch.set_num_threads(2)
        return load_model(weights)
    except ImportError as e:
        print(f"no LPIPS reference: {e}", file=sys.stderr)
        return None


def lpips_of(model, a_rgb, b_rgb):
    from lpips_reference import lpips_of as ref_lpips_of
    return ref_lpips_of(model, a_rgb, b_rgb, 256)


CASES = [
    # name, format, width, height, frames
    ("gray", "GRAY8", 96, 64, 5),
    ("rgb", "RGB", 80, 60, 4),
]


def main():
    outdir = sys.argv[1]
    weights = sys.argv[2] if len(sys.argv) > 2 else None
    os.makedirs(outdir, exist_ok=True)
    model = lpips_model(weights)
    rng = np.random.default_rng(20)
    lines = []
    for name, fmt, w, h, n in CASES:
        lines.append(f"case {name} {fmt} {w} {h} {n}")
        refs, dists, ref_gray, dist_gray = [], [], [], []
        for i in range(n):
            ref = natural(rng, w, h, i)
            dist = distort(rng, ref, i)
            if fmt == "GRAY8":
                ref = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
                dist = distort(rng, ref, i)
                rg, dg = ref, dist
                ref_rgb, dist_rgb = np.repeat(ref[..., None], 3, 2), np.repeat(dist[..., None], 3, 2)
            else:
                rg, dg = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY), cv2.cvtColor(dist, cv2.COLOR_RGB2GRAY)
                ref_rgb, dist_rgb = ref, dist
            files = []
            for kind, img in (("ref", ref), ("dist", dist)):
                path = os.path.join(outdir, f"cmp-{name}-{kind}-{i}.raw")
                with open(path, "wb") as f:
                    f.write(np.ascontiguousarray(img).tobytes())
                files.append(os.path.basename(path))
            lines.append(f"frame {i} {files[0]} {files[1]}")
            refs.append(ref_rgb)
            dists.append(dist_rgb)
            ref_gray.append(rg)
            dist_gray.append(dg)
        ff, ff_average = ffmpeg_psnr(outdir, name, w, h, ref_gray, dist_gray) if fmt == "GRAY8" else \
            ([(math.nan, math.nan)] * n, math.nan)
        mses = []
        for i in range(n):
            a, b = ref_gray[i], dist_gray[i]
            mse = float(np.mean((a.astype(np.float64) - b) ** 2))
            psnr = math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)
            ssim = float(structural_similarity(a, b, data_range=255))
            lp = lpips_of(model, refs[i], dists[i]) if model is not None else math.nan
            mses.append(mse)
            lines.append(f"pair {i} {mse!r} {psnr!r} {ssim!r} {lp!r} {ff[i][0]!r} {ff[i][1]!r}")
        mean_mse = float(np.mean(mses))
        lines.append(f"summary {10 * math.log10(255.0 ** 2 / mean_mse)!r} {ff_average!r}")
        lines.append("end")
    with open(os.path.join(outdir, "compare-cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
