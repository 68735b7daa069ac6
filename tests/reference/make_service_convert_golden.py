"""Golden cases for the service conversion (kernels/convert.cpp,
make_service_yuv_to_rgb): what cv2.VideoCapture returns for YUV frames.

Each case is a short clip encoded here with FFmpeg, losslessly (x264 -qp 0,
or FFV1 where x264 cannot take the size), so the decoded planes are exactly
the planes written. The planes the decoder outputs (ffmpeg -f rawvideo) and
the BGR frame cv2.VideoCapture reads from the same clip are stored side by
side; the test converts the planes with our kernels and must give the same
bytes. The content covers every (U, V) pair of 8-bit chroma with varied
luma, the extreme corners (where libswscale's 4:4:4 path overflows) and a
noisy natural-like picture.

    make_service_convert_golden.py OUTDIR

writes OUTDIR/service_convert_cases.txt:
    case NAME FORMAT WIDTH HEIGHT FULL_RANGE MATRIX YUV_FILE BGR_FILE
FORMAT is the GStreamer name of the planar layout (I420, Y42B, Y444);
MATRIX the clip's matrix tag (FFmpeg's name, "unknown" when untagged); the
YUV file holds the Y, U, V planes without padding, the BGR file cv2's
frame (height x width x 3).
"""
import os
import subprocess
import sys

import cv2
import numpy as np

SUB = {"I420": (1, 1), "Y42B": (1, 0), "Y444": (0, 0)}
FFMPEG_FMT = {"I420": "yuv420p", "Y42B": "yuv422p", "Y444": "yuv444p"}


def chroma_size(fmt, w, h):
    sx, sy = SUB[fmt]
    return (w + sx) >> sx, (h + sy) >> sy


def all_pairs_planes(rng, fmt, w, h):
    """Chroma cycles through all 65536 (U, V) pairs; luma random, with a
    bright band so that bright luma meets every chroma pair too."""
    cw, ch = chroma_size(fmt, w, h)
    p = np.arange(cw * ch, dtype=np.int64)
    u = (p & 255).reshape(ch, cw)
    v = ((p >> 8) & 255).reshape(ch, cw)
    y = rng.integers(0, 256, (h, w))
    y[: h // 4] = rng.integers(224, 256, (h // 4, w))
    return [a.astype(np.uint8) for a in (y, u, v)]


def natural_planes(rng, fmt, w, h):
    """Smooth moving texture with saturated patches and noisy chroma."""
    cw, ch = chroma_size(fmt, w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    y = 128 + 70 * np.sin(xx / 11) * np.cos(yy / 17) + rng.normal(0, 12, (h, w))
    cy, cx = np.mgrid[0:ch, 0:cw].astype(np.float64)
    u = 128 + 100 * np.sin(cx / 7 + cy / 5) + rng.normal(0, 25, (ch, cw))
    v = 128 + 100 * np.cos(cx / 9 - cy / 6) + rng.normal(0, 25, (ch, cw))
    return [np.clip(np.rint(a), 0, 255).astype(np.uint8) for a in (y, u, v)]


def make_case(outdir, name, fmt, w, h, full, planes, codec, matrix="unknown"):
    pix = FFMPEG_FMT[fmt]
    if full:
        pix = pix.replace("yuv", "yuvj")
    src = os.path.join(outdir, name + ".in.yuv")
    clip = os.path.join(outdir, name + (".mkv"))
    with open(src, "wb") as f:
        for p in planes:
            f.write(p.tobytes())
    enc = ["-c:v", "libx264", "-qp", "0", "-preset", "ultrafast"] if codec == "x264" else ["-c:v", "ffv1"]
    if matrix != "unknown":
        enc += ["-colorspace", matrix]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", pix,
                    "-s", f"{w}x{h}", "-i", src] + enc + ["-pix_fmt", pix, clip], check=True)
    decoded = os.path.join(outdir, name + ".yuv")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", clip, "-f", "rawvideo",
                    "-pix_fmt", pix, decoded], check=True)
    with open(src, "rb") as a, open(decoded, "rb") as b:
        if a.read() != b.read():
            sys.exit(f"{name}: the clip is not lossless")
    os.remove(src)
    cap = cv2.VideoCapture(clip)
    ok, bgr = cap.read()
    cap.release()
    if not ok or bgr.shape != (h, w, 3):
        sys.exit(f"{name}: cv2.VideoCapture did not read the clip")
    bgr_file = os.path.join(outdir, name + ".bgr")
    bgr.tofile(bgr_file)
    os.remove(clip)
    return (f"case {name} {fmt} {w} {h} {int(full)} {matrix} {os.path.basename(decoded)} "
            f"{os.path.basename(bgr_file)}\n")


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(14)
    lines = []
    for fmt, w, h in (("I420", 512, 512), ("Y42B", 512, 256), ("Y444", 256, 256)):
        for full in (False, True):
            name = f"pairs_{fmt}_{'full' if full else 'limited'}"
            lines.append(make_case(outdir, name, fmt, w, h, full, all_pairs_planes(rng, fmt, w, h), "x264"))
    # 4:4:4 corners: bright luma against the largest chroma (the int32
    # overflow of swscale's full-chroma path), every luma against them
    y = np.repeat(np.arange(256, dtype=np.uint8)[None, :], 64, 0)
    cu = np.tile(np.repeat(np.arange(192, 256, dtype=np.uint8)[:, None], 4, 1), (1, 64))
    corners = [y, cu, 255 - cu]
    for full in (False, True):
        lines.append(make_case(outdir, f"corners_Y444_{'full' if full else 'limited'}", "Y444", 256, 64, full,
                               [a.copy() for a in corners], "x264"))
    # tagged matrices: cv2 converts with the tag's swscale table
    for fmt, w, h, full, matrix in (("I420", 512, 512, False, "bt709"), ("I420", 512, 512, True, "fcc"),
                                    ("Y42B", 512, 256, False, "smpte240m"), ("Y444", 256, 256, True, "bt2020nc"),
                                    ("Y444", 256, 256, False, "bt470bg")):
        name = f"tagged_{matrix}_{fmt}_{'full' if full else 'limited'}"
        lines.append(make_case(outdir, name, fmt, w, h, full, all_pairs_planes(rng, fmt, w, h), "x264", matrix))
    # natural content; widths that are no multiple of 8 (and odd) for
    # swscale's SIMD loop, which works 8 pixels at a time
    for fmt, w, h, codec in (("I420", 350, 240, "x264"), ("I420", 353, 240, "ffv1"), ("Y42B", 321, 96, "ffv1"),
                             ("Y444", 203, 97, "ffv1")):
        lines.append(make_case(outdir, f"natural_{fmt}_{w}x{h}", fmt, w, h, False,
                               natural_planes(rng, fmt, w, h), codec))
    with open(os.path.join(outdir, "service_convert_cases.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
