#!/usr/bin/env python3
"""The replaced service's numbers on decoded video, end to end.

Clips are encoded here with FFmpeg (a few frames each): untagged SD, HD and
FHD H.264, BT.709-tagged, full range, 4:2:2, 4:4:4 at an odd size, 4:2:0 at
an odd width (FFV1, VP9), noisy chroma and saturated colours. For each clip the
service's definitions are computed on the frames cv2.VideoCapture returns
(cv2.COLOR_BGR2GRAY, NumPy MSE, scikit-image structural_similarity
defaults; LPIPS with the `lpips` package on the RGB frames resized by
cv2.resize to 256x256, with our test weights loaded into it), and compared
with every pair of
  - s2s-analyze's defaults (--jsonl), and
  - the s2smetrics element's messages in a gst-launch-1.0 pipeline.
MSE and 1 - SSIM must agree within 1e-4 relative; where the conversion
reproduces cv2's gray bit for bit (every clip here), MSE is the same exact
mean and must agree within 1e-12 and 1 - SSIM within 1e-8. LPIPS (a float32
network) within 1e-4 relative. One clip also runs with
conversion=colorimetry, which must give different numbers (the property
takes effect).

Environment (tests/service/meson.build): S2S_ANALYZE, GST_PLUGIN_PATH_1_0,
GST_REGISTRY_1_0, S2S_LPIPS_WEIGHTS (optional: without it LPIPS is not
checked). Exit 77 (SKIP) when ffmpeg, cv2, scikit-image or gst-launch-1.0
are missing. Prints one line per clip with the worst relative errors.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

try:
    import cv2
    import numpy as np
    from skimage.metrics import structural_similarity
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(SKIP)

HERE = os.path.dirname(os.path.abspath(__file__))

# name, size, frames, ffmpeg video filter after the source, encoder options
NOISE = "noise=alls=20:allf=t"
CLIPS = [
    ("sd-untagged", "854x480", 3, NOISE, ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p"]),
    ("hd-untagged", "1280x720", 3, NOISE, ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p"]),
    ("fhd-untagged", "1920x1080", 2, NOISE, ["-c:v", "libx264", "-crf", "28", "-preset", "veryfast",
                                             "-pix_fmt", "yuv420p"]),
    ("bt709-tagged", "640x360", 3, NOISE, ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p",
                                           "-colorspace", "bt709", "-color_primaries", "bt709",
                                           "-color_trc", "bt709"]),
    ("full-range", "640x360", 3, NOISE, ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuvj420p",
                                         "-color_range", "pc"]),
    ("yuv422", "640x360", 3, NOISE, ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv422p"]),
    ("yuv444-odd", "321x241", 3, NOISE, ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv444p"]),
    ("yuv420-odd-width-ffv1", "353x240", 3, NOISE, ["-c:v", "ffv1", "-pix_fmt", "yuv420p"]),
    ("yuv420-odd-width-vp9", "641x360", 3, NOISE, ["-c:v", "libvpx-vp9", "-crf", "30", "-b:v", "0",
                                                   "-pix_fmt", "yuv420p"]),
    ("noisy-chroma", "640x360", 3, "noise=c0s=8:c1s=60:c2s=60:allf=t",
     ["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p"]),
    ("saturated", "640x360", 3, "eq=saturation=3:contrast=1.4," + NOISE,
     ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p"]),
]


def encode(tmp, name, size, frames, vf, opts):
    path = os.path.join(tmp, name + (".mp4" if "libx264" in opts else ".mkv"))
    # testsrc2 rounds odd sizes down: odd sizes are scaled from the next even one
    w, h = (int(v) for v in size.split("x"))
    src = f"testsrc2=size={w + (w & 1)}x{h + (h & 1)}:rate=25,scale={w}:{h}"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"{src},{vf}", "-frames:v", str(frames)] + opts + [path], check=True)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0",
                          path], check=True, capture_output=True, text=True).stdout.split()[0]
    if out != f"{w},{h}":
        sys.exit(f"{name}: ffmpeg made a {out} clip, not {size}")
    return path


def service_frames(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr)
    cap.release()
    return frames


def service_reference(path, lpips_model):
    """The service: cv2.VideoCapture frames, BGR2GRAY, NumPy MSE, skimage SSIM, lpips."""
    frames = service_frames(path)
    rows = []
    for a, b in zip(frames, frames[1:]):
        ga = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)
        gb = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)
        mse = float(np.mean((ga.astype(np.float64) - gb.astype(np.float64)) ** 2))
        inv = 1.0 - float(structural_similarity(ga, gb))
        lp = math.nan
        if lpips_model is not None:
            from lpips_reference import lpips_of
            lp = lpips_of(lpips_model, cv2.cvtColor(a, cv2.COLOR_BGR2RGB), cv2.cvtColor(b, cv2.COLOR_BGR2RGB), 256)
        rows.append((mse, inv, lp))
    return rows


def analyze_rows(path, weights, tmp):
    out = os.path.join(tmp, "rows.jsonl")
    cmd = [os.environ["S2S_ANALYZE"], path, "--device", "cpu", "--jsonl", out, "--progress", "none", "-q"]
    cmd += ["--lpips-model", weights] if weights else ["--metrics", "mse,inv-ssim"]
    subprocess.run(cmd, check=True)
    rows = []
    with open(out) as f:
        for line in f:
            r = json.loads(line)
            if r["frame"] == 0:
                continue
            rows.append(tuple(math.nan if r[k] is None else r[k] for k in ("mse", "inv_ssim", "lpips")))
    return rows


def full_reference_check(tmp, ref_path, failures):
    """s2s-analyze DIST --reference REF (s2scompare) reads YUV as the service's
    decoder did too: an encode of the untagged HD clip against it, frame for
    frame, with the service's definitions on cv2.VideoCapture frames."""
    dist = os.path.join(tmp, "hd-untagged-crf40.mp4")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", ref_path, "-c:v", "libx264",
                    "-crf", "40", "-pix_fmt", "yuv420p", dist], check=True)
    out = os.path.join(tmp, "compare.jsonl")
    subprocess.run([os.environ["S2S_ANALYZE"], dist, "--reference", ref_path, "--device", "cpu",
                    "--metrics", "mse,inv-ssim", "--jsonl", out, "--progress", "none", "-q"], check=True)
    with open(out) as f:
        got = [json.loads(line) for line in f]
    refs, dists = service_frames(ref_path), service_frames(dist)
    if len(got) != len(dists) or len(refs) != len(dists):
        failures.append(f"--reference: {len(got)} rows for {len(dists)} distorted, {len(refs)} reference frames")
        return
    worst = [0.0, 0.0]
    for row, a, b in zip(got, refs, dists):
        ga = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)
        gb = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)
        mse = float(np.mean((ga.astype(np.float64) - gb.astype(np.float64)) ** 2))
        inv = 1.0 - float(structural_similarity(ga, gb))
        worst[0] = max(worst[0], rel(row["mse"], mse))
        worst[1] = max(worst[1], rel(row["inv_ssim"], inv))
    print(f"{'hd-untagged --reference':24s} {'s2scompare':11s} frames {len(got)}: worst relative MSE "
          f"{worst[0]:.3g}, 1-SSIM {worst[1]:.3g}")
    for k, (label, bar) in enumerate((("MSE", 1e-12), ("1-SSIM", 1e-8))):
        if worst[k] > bar:
            failures.append(f"--reference: {label} off by {worst[k]:.3g} relative (bar {bar})")


DOUBLE = r"\(double\)([-+0-9.eEnaif]+)"


def element_rows(path, weights, extra=""):
    props = f'lpips-model="{weights}"' if weights else "metrics=mse+inv-ssim"
    desc = (f'filesrc location="{path}" ! decodebin ! videoconvert ! s2smetrics device=cpu {props} {extra} '
            "! fakesink")
    out = subprocess.run(["gst-launch-1.0", "-m"] + desc.split(" "), check=True, capture_output=True,
                         text=True).stdout
    rows = []
    for line in out.splitlines():
        if ": s2smetrics, " not in line:
            continue
        frame = int(re.search(r"frame=\(guint64\)(\d+)", line).group(1))
        if frame == 0:
            continue
        vals = []
        for key in ("mse", "inv-ssim", "lpips"):
            m = re.search(key + "=" + DOUBLE, line)
            vals.append(float(m.group(1)) if m else math.nan)
        rows.append(tuple(vals))
    return rows


def rel(a, b):
    if math.isnan(a) and math.isnan(b):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    if b == 0:
        return abs(a)
    return abs(a - b) / abs(b)


def main():
    for tool in ("ffmpeg", "gst-launch-1.0"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} not found")
            return SKIP
    weights = os.environ.get("S2S_LPIPS_WEIGHTS") or None
    model = None
    if weights:
        sys.path.insert(0, os.path.join(HERE, "..", "lpips"))
        try:
            import torch
            from lpips_reference import load_model
            torch.set_num_threads(2)
            model = load_model(weights)
        except ImportError as e:
            print(f"LPIPS not checked: {e}")
            weights = None
    failures = []
    with tempfile.TemporaryDirectory(prefix="s2s-service-") as tmp:
        for i, (name, size, frames, vf, opts) in enumerate(CLIPS):
            path = encode(tmp, name, size, frames, vf, opts)
            want = service_reference(path, model)
            # every clip through s2s-analyze; the element directly on every other
            # clip and on the SD one (each run starts a pipeline and LibTorch)
            sides = [("s2s-analyze", analyze_rows(path, weights, tmp))]
            if i % 2 == 0:
                sides.append(("s2smetrics", element_rows(path, weights)))
            for side, got in sides:
                if len(got) != len(want):
                    failures.append(f"{name} {side}: {len(got)} pairs, the service has {len(want)}")
                    continue
                worst = [0.0, 0.0, 0.0]
                for g, w in zip(got, want):
                    for k in range(3):
                        worst[k] = max(worst[k], rel(g[k], w[k]))
                bars = (1e-12, 1e-8, 1e-4)
                print(f"{name:24s} {side:11s} first pair ours {got[0]}, service {want[0]}")
                print(f"{name:24s} {side:11s} pairs {len(want)}: worst relative MSE {worst[0]:.3g}, "
                      f"1-SSIM {worst[1]:.3g}, LPIPS " + (f"{worst[2]:.3g}" if weights else "not checked"))
                for k, label in enumerate(("MSE", "1-SSIM", "LPIPS")):
                    if worst[k] > bars[k] or (k < 2 and any(math.isnan(g[k]) for g in got)):
                        failures.append(f"{name} {side}: {label} off by {worst[k]:.3g} relative (bar {bars[k]})")
            if name == "hd-untagged":
                full_reference_check(tmp, path, failures)
                other = element_rows(path, None, "conversion=colorimetry")
                d = max(rel(g[0], w[0]) for g, w in zip(other, want))
                print(f"{name:24s} conversion=colorimetry: MSE differs from the service by up to {d:.3g} relative")
                if d < 1e-3:
                    failures.append("conversion=colorimetry gives the service's numbers: the property has no effect")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
