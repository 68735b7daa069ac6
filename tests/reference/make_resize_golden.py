#!/usr/bin/env python3
"""Golden cases for the resize kernel: cv2.resize(INTER_LINEAR) on 8-bit images.

Usage: make_resize_golden.py OUTDIR

Writes OUTDIR/resize_cases.txt and raw files under OUTDIR/resize/:
  <source>.in       a source image, height x width x channels bytes, rows
                    packed (shared by the cases that resize it)
  <source>_to_WxH.out  cv2.resize(src, (dst_w, dst_h), interpolation=cv2.INTER_LINEAR),
              dst_h x dst_w x channels bytes, rows packed

resize_cases.txt: lines starting with '#' are comments (the first names the
OpenCV version); every other line is one case:
  NAME CHANNELS SRC_W SRC_H DST_W DST_H INPUT_FILE OUTPUT_FILE
with the file names relative to OUTDIR.

Images are seeded (reproducible): uniform noise (every byte value, no
structure, so every weight and rounding path is hit), natural-like content
(smooth shading, blobs, hard edges, mild noise) and saturated stripes (0/255,
which stress the clamps). Sizes cover the service's use (any frame to
256x256 RGB), the exact-2x and same-size special cases, integer factors,
upscales, 1-pixel sources and destinations, very tall/wide images, ragged row
ends (dst_width*channels not a multiple of 16/32), sizes where computing the
sampling position in float instead of double would change the weights, and
sizes where the two weights of a tap sum to 2047 or 2049 (1 - f rounded in
float), so that a = 2048 - b would be wrong.
"""
import os
import sys

import numpy as np

try:
    import cv2
except ImportError:
    sys.stderr.write('make_resize_golden.py: cv2 (opencv-python-headless) is required\n')
    sys.exit(1)

SEED = 20240917


def noise(rng, h, w, cn):
    return rng.integers(0, 256, size=(h, w, cn), dtype=np.uint8)


def natural(rng, h, w, cn):
    y = np.linspace(0.0, 1.0, h, dtype=np.float64)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float64)[None, :]
    out = np.empty((h, w, cn), dtype=np.uint8)
    for c in range(cn):
        fx, fy = rng.uniform(0.5, 6.0, size=2)
        ph = rng.uniform(0, 2 * np.pi, size=2)
        v = 0.35 + 0.25 * np.sin(2 * np.pi * fx * x + ph[0]) * np.cos(2 * np.pi * fy * y + ph[1])
        v = v + 0.2 * x * (c + 1) / cn - 0.1 * y
        for _ in range(4):  # soft blobs
            cx, cy = rng.uniform(0, 1, size=2)
            r = rng.uniform(0.03, 0.3)
            v = v + rng.uniform(-0.4, 0.4) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        for _ in range(3):  # hard-edged rectangles
            x0, x1 = np.sort(rng.uniform(0, 1, size=2))
            y0, y1 = np.sort(rng.uniform(0, 1, size=2))
            v = np.where((x >= x0) & (x < x1) & (y >= y0) & (y < y1), v + rng.uniform(-0.5, 0.5), v)
        v = v + rng.normal(0.0, 0.02, size=(h, w))
        out[:, :, c] = np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)
    return out


def stripes(rng, h, w, cn):
    period = int(rng.integers(1, 5))
    yy, xx = np.mgrid[0:h, 0:w]
    base = (((xx // period) + (yy // (period + 1))) % 2).astype(np.uint8) * 255
    out = np.repeat(base[:, :, None], cn, axis=2)
    out[:, :, cn - 1] = 255 - out[:, :, cn - 1]  # the last channel inverted
    return out


CONTENT = {'noise': noise, 'natural': natural, 'stripes': stripes}

# Sources: (src_w, src_h, channels, contents, destinations); every content
# image of a source is resized to each of its destinations (dst_w, dst_h).
SQ = (256, 256)
SOURCES = [
    # The service: any frame to 256x256 RGB; the same in gray; other sizes.
    (1920, 1080, 3, ('natural', 'noise'), (SQ, (224, 224))),
    (1920, 1080, 1, ('natural',), (SQ,)),
    (1280, 720, 3, ('natural', 'noise'), (SQ, (1, 1), (1, 256), (333, 111))),
    (1280, 720, 1, ('noise',), (SQ, (1279, 3))),
    (640, 480, 3, ('natural', 'noise', 'stripes'), (SQ,)),
    (640, 480, 1, ('natural', 'noise'), (SQ,)),
    (257, 300, 3, ('noise',), (SQ,)),
    (257, 300, 1, ('noise',), (SQ,)),
    (300, 257, 3, ('noise',), (SQ,)),
    (300, 257, 1, ('noise',), (SQ,)),
    (100, 90, 3, ('natural', 'noise'), (SQ, (33, 7))),
    (100, 90, 1, ('noise',), (SQ,)),
    (17, 13, 3, ('noise', 'stripes'), (SQ,)),
    (17, 13, 1, ('noise',), (SQ,)),
    (64, 4096, 3, ('noise',), (SQ,)),
    (64, 4096, 1, ('natural',), (SQ,)),
    (4096, 8, 3, ('noise',), (SQ,)),
    # Special paths: exact 2x downscale (2x2 mean) and same size (copy); a
    # 2x factor on one axis only and the integer factors 3x and 4x are linear.
    (512, 512, 3, ('natural', 'noise'), (SQ, (256, 512), (512, 256))),
    (512, 512, 1, ('noise',), (SQ, (512, 256))),
    (640, 360, 3, ('natural', 'noise'), ((320, 180), (333, 111), (640, 180), (320, 150))),
    (640, 360, 1, ('noise',), ((320, 180), (333, 111))),
    (3, 5, 3, ('noise',), ((1, 2),)),  # not 2x: 3 != 2*1
    (2, 2, 3, ('noise',), ((1, 1),)),
    (256, 256, 3, ('noise',), (SQ, (512, 512), (128, 128))),
    (256, 256, 1, ('noise',), (SQ, (128, 128))),
    (7, 3, 3, ('noise',), ((7, 3),)),
    (768, 768, 3, ('noise',), (SQ,)),
    (1024, 512, 3, ('noise',), ((256, 128), (512, 128), (512, 256))),
    (1024, 1024, 1, ('noise',), (SQ,)),
    # Upscales.
    (1, 1, 3, ('noise',), (SQ,)),
    (1, 1, 1, ('noise',), (SQ,)),
    (3, 5, 1, ('noise',), (SQ,)),
    (7, 2, 3, ('noise',), (SQ,)),
    (7, 2, 1, ('noise',), (SQ,)),
    (128, 128, 3, ('noise',), (SQ,)),
    (255, 255, 3, ('noise',), (SQ,)),
    (1, 300, 3, ('noise',), (SQ,)),
    (300, 1, 1, ('noise',), (SQ,)),
    # Float vs double sampling position differs here (7->97, 13->1023).
    (7, 7, 3, ('noise',), ((97, 97),)),
    (13, 9, 1, ('noise',), ((1023, 97),)),
    # Weights that do not sum to 2048 (float rounding of 1 - f at the first
    # output index): 9835 -> 5463, 9004 -> 5467.
    (9835, 4, 3, ('noise',), ((5463, 3),)),
    (9004, 4, 1, ('noise',), ((5467, 3),)),
    (256, 9835, 1, ('noise',), ((200, 5463),)),
    # Other channel counts: 2 and 5 take the round-half-even area path at 2x.
    (66, 34, 2, ('noise',), ((33, 17), SQ)),
    (66, 34, 4, ('noise',), ((33, 17), SQ)),
    (66, 34, 5, ('noise',), ((33, 17), (50, 20))),
]


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    outdir = sys.argv[1]
    subdir = os.path.join(outdir, 'resize')
    os.makedirs(subdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    lines = ['# cv2 %s, INTER_LINEAR, seed %d' % (cv2.__version__, SEED),
             '# NAME CHANNELS SRC_W SRC_H DST_W DST_H INPUT_FILE OUTPUT_FILE']
    for sw, sh, cn, contents, dests in SOURCES:
        for content in contents:
            base = '%s_c%d_%dx%d' % (content, cn, sw, sh)
            img = CONTENT[content](rng, sh, sw, cn)
            in_file = os.path.join('resize', base + '.in')
            with open(os.path.join(outdir, in_file), 'wb') as f:
                f.write(np.ascontiguousarray(img).tobytes())
            src = img[:, :, 0] if cn == 1 else img
            for dw, dh in dests:
                name = '%s_to_%dx%d' % (base, dw, dh)
                out = cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR)
                out = np.ascontiguousarray(out).reshape(dh, dw, cn)
                assert out.dtype == np.uint8
                out_file = os.path.join('resize', name + '.out')
                with open(os.path.join(outdir, out_file), 'wb') as f:
                    f.write(out.tobytes())
                lines.append('%s %d %d %d %d %d %s %s' % (name, cn, sw, sh, dw, dh, in_file, out_file))
    # Written last: the custom target's output exists only when all cases do.
    tmp = os.path.join(outdir, 'resize_cases.txt.tmp')
    with open(tmp, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(tmp, os.path.join(outdir, 'resize_cases.txt'))


if __name__ == '__main__':
    main()
