#!/usr/bin/env python3
"""Golden test cases for gst-s2s: synthetic frames and independent reference values.

Usage: make_golden.py OUTDIR

Writes deterministic synthetic video frames (fixed seeds) and the values our
kernels must reproduce, computed here with NumPy, scikit-image and SciPy only
(never with our own code), into OUTDIR:

  cases.json   the description below (the primary format)
  cases.txt    the same content, flat and line based, for C/C++ readers
  *.raw        input frames: one file per frame, planes tightly packed and
               concatenated in GStreamer plane order
  *.gray       expected gray image of a frame, width*height bytes
  *.rgb        expected packed RGB (R, G, B bytes) of a frame, width*height*3
  *.amb        YUV cases with "unambiguous": false only: one byte per pixel,
               1 where the pixel is ambiguous (see below), else 0

Reference definitions
---------------------
gray    RGB formats: OpenCV's 15-bit rule on 8-bit R, G, B:
            (3735*B + 19235*G + 9798*R + 16384) >> 15
        (cross-checked against cv2.cvtColor(COLOR_RGB2GRAY) on every RGB image
        produced here; the script fails if they ever differ).
        GRAY8: the frame itself.
        YUV: the same rule on the RGB below.
rgb     YUV: chroma of pixel (x, y) is the sample (x >> shift_x, y >> shift_y)
        (nearest, no interpolation), then in float64
            limited: Y' = (Y-16)/219, Pb = (U-128)/224, Pr = (V-128)/224
            full:    Y' = Y/255,      Pb = (U-128)/255, Pr = (V-128)/255
            R = Y' + 2(1-Kr) Pr
            G = Y' - 2Kb(1-Kb)/Kg Pb - 2Kr(1-Kr)/Kg Pr,   Kg = 1 - Kr - Kb
            B = Y' + 2(1-Kb) Pb
            out = clamp(floor(255*value + 0.5), 0, 255)
        A pixel is "ambiguous" when one of its 255*R, 255*G, 255*B (before
        rounding, k = 0..254) lies within 1e-3 of k + 0.5: a fixed-point
        implementation (ours errs by < 2e-4) may round it the other way.
        Most YUV cases are "unambiguous": their chroma was nudged when
        generating them until no pixel is ambiguous, so a correct conversion
        gives their gray and RGB exactly, and their metrics exactly like RGB
        cases. The few cases with "unambiguous": false keep ambiguous pixels
        (about 0.5 % of pixels); there, gray/RGB may differ by 1 at ambiguous
        pixels only, and the metrics of pairs whose gray differs cannot match
        exactly.
        RGB formats: the R, G, B bytes of the frame.
pairs   for each consecutive pair (i-1, i) of expected gray frames a, b:
        mse             np.mean((a.astype(np.float64) - b) ** 2)
        ssim_uniform7   skimage.metrics.structural_similarity(a, b, data_range=255)
        ssim_gaussian11 structural_similarity(a, b, data_range=255,
                            gaussian_weights=True, sigma=1.5,
                            use_sample_covariance=False)
        SSIM is null (JSON) / nan (text) when a side is smaller than the window
        (7 resp. 11), where scikit-image raises.

cases.json
----------
{
  "version": 1,
  "gaussian11_taps": [t0, ..., t5],   # scipy's sigma=1.5, truncate=3.5 kernel,
                                      # t0 the centre, tk the tap k px away
  "cases": [{
    "name": "nv12_641x359_bt601_shift",     # unique, [a-z0-9_]
    "format": "NV12",                       # GStreamer format name
    "width": 641, "height": 359,
    "content": "shift",                     # gradient|noise|shift|constant|steps|natural|repeat
    "colorimetry": "bt601",                 # GStreamer colorimetry string, null for RGB/GRAY
    "kr": 0.299, "kb": 0.114,               # null for RGB/GRAY
    "full_range": false,                    # null for RGB/GRAY
    "unambiguous": true,                    # false: YUV case with ambiguous pixels
    "planes": [{"offset": 0, "stride": 641, "rows": 359}, ...],
                                            # byte offset in the frame file, bytes per
                                            # row (tight: no padding), number of rows
    "frame_size": 345541,                   # bytes per frame file
    "frames": [{"file": "<name>_f0.raw",
                "gray": "<name>_f0.gray",   # GRAY8: same as "file"
                "rgb":  "<name>_f0.rgb",    # may be the frame file itself (format RGB);
                                            # null where not written (1920x1080, GRAY8)
                "ambiguous": null},         # "<name>_f0.amb" when "unambiguous" is false
                ...],
    "pairs": [{"first": 0, "second": 1, "mse": 1234.5,
               "ssim_uniform7": 0.42, "ssim_gaussian11": 0.40}, ...]
  }, ...]
}
Floats are written with Python's repr (shortest round-trip), so strtod gives
back the exact double.

Plane layouts (cw = ceil(w/2), ch = ceil(h/2)):
  GRAY8 [w]; RGB/BGR [3w]; RGBA/BGRA/RGBx/BGRx/ARGB/ABGR/xRGB/xBGR [4w]
  (alpha / padding bytes hold random values: they must be ignored);
  I420 Y[w x h] U[cw x ch] V[cw x ch]; YV12 Y V U (same sizes);
  Y42B Y U[cw x h] V[cw x h]; Y444 Y U V [w x h];
  NV12 Y, UV interleaved [2cw x ch]; NV21 Y, VU [2cw x ch];
  NV16 Y, UV [2cw x h]; NV24 Y, UV [2w x h].

cases.txt
---------
One record per line, fields separated by single spaces, '#' starts a comment
line. Names and file names contain no spaces; "-" stands for null/absent.
  taps T0 T1 T2 T3 T4 T5
  case NAME FORMAT WIDTH HEIGHT CONTENT COLORIMETRY KR KB FULL_RANGE NFRAMES FRAME_SIZE UNAMBIGUOUS
        (COLORIMETRY/KR/KB/FULL_RANGE are "-" for RGB and GRAY formats;
         FULL_RANGE and UNAMBIGUOUS are 0 or 1)
  plane INDEX OFFSET STRIDE ROWS
  frame INDEX FILE GRAY_FILE RGB_FILE AMBIGUOUS_FILE
  pair FIRST SECOND MSE SSIM_UNIFORM7 SSIM_GAUSSIAN11     (nan where null)
  end
The "plane", "frame" and "pair" lines of a case follow its "case" line, in
index order, and "end" closes the case.
"""

import json
import math
import os
import sys
import zlib

import numpy as np
import scipy.ndimage
from skimage.metrics import structural_similarity

try:
    import cv2
except ImportError:  # only the cross-check is lost: the reference is NumPy's
    cv2 = None
    sys.stderr.write('make_golden.py: warning: cv2 not importable, gray rule not cross-checked\n')

SEED = 20240611
NFRAMES = 3
# A float64 YUV->RGB value closer than this to a rounding boundary makes its
# pixel "ambiguous": an implementation with a smaller error (ours: < 2e-4)
# may round it either way.
AMBIGUITY_MARGIN = 1e-3

# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------
# Packed RGB: bytes per pixel and byte offsets of R, G, B (others are filler).
PACKED = {
    'RGB': (3, 0, 1, 2), 'BGR': (3, 2, 1, 0),
    'RGBA': (4, 0, 1, 2), 'RGBx': (4, 0, 1, 2),
    'BGRA': (4, 2, 1, 0), 'BGRx': (4, 2, 1, 0),
    'ARGB': (4, 1, 2, 3), 'xRGB': (4, 1, 2, 3),
    'ABGR': (4, 3, 2, 1), 'xBGR': (4, 3, 2, 1),
}
# YUV: chroma shifts (x, y), semi-planar?, order of the chroma (U first?).
YUV = {
    'I420': (1, 1, False, True), 'YV12': (1, 1, False, False),
    'Y42B': (1, 0, False, True), 'Y444': (0, 0, False, True),
    'NV12': (1, 1, True, True), 'NV21': (1, 1, True, False),
    'NV16': (1, 0, True, True), 'NV24': (0, 0, True, True),
}
COLORIMETRY = {
    # name: (GStreamer colorimetry string, Kr, Kb, full range)
    'bt601': ('bt601', 0.299, 0.114, False),
    'bt709': ('bt709', 0.2126, 0.0722, False),
    'bt2020': ('bt2020', 0.2627, 0.0593, False),
    'jpeg': ('1:4:16:4', 0.299, 0.114, True),  # full-range BT.601, as JPEG
}


def fail(msg):
    sys.stderr.write('make_golden.py: error: %s\n' % msg)
    sys.exit(1)


# ---------------------------------------------------------------------------
# Content: each kind maps (plane shape, frame index, rng, scale) to uint8
# values. `scale` is the chroma subsampling factor (sx, sy) of the plane, so
# chroma planes show the same picture as luma at lower resolution.
# ---------------------------------------------------------------------------
def _coords(shape, scale):
    h, w = shape
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64) * scale[1],
                         np.arange(w, dtype=np.float64) * scale[0], indexing='ij')
    return xx, yy


def content_frames(kind, shape, nframes, rng, scale, channel):
    """Frames of one plane (or channel) of the given kind, as uint8 arrays."""
    h, w = shape
    frames = []
    if kind == 'gradient':
        xx, yy = _coords(shape, scale)
        span = max(w * scale[0] + h * scale[1], 1)
        base = 255.0 * (xx + 0.5 * yy + 7 * channel) / span
        for t in range(nframes):
            frames.append(np.clip(np.round(base + 9 * t + 4 * channel), 0, 255))
    elif kind == 'noise':
        for t in range(nframes):
            frames.append(rng.integers(0, 256, size=shape))
    elif kind == 'shift':
        base = rng.integers(0, 256, size=shape)
        for t in range(nframes):
            frames.append(np.roll(base, (2 * t // scale[1], 3 * t // scale[0]), axis=(0, 1)))
    elif kind == 'constant':
        value = int(rng.integers(0, 256))
        for t in range(nframes):
            frames.append(np.full(shape, value))
    elif kind == 'steps':  # flat frames whose level changes every frame
        for t in range(nframes):
            frames.append(np.full(shape, int(rng.integers(0, 256))))
    elif kind in ('natural', 'repeat'):
        # Sum of sinusoids plus low noise, moving ~0.7 px per frame. 'repeat'
        # holds frames 0 and 1 identical (SSIM exactly 1, MSE 0).
        freqs = rng.uniform(0.01, 0.15, size=(5, 2)) * rng.choice([-1, 1], size=(5, 2))
        phases = rng.uniform(0, 2 * math.pi, size=5)
        amps = rng.uniform(10, 35, size=5)
        offset = rng.uniform(100, 150)
        for t in range(nframes):
            step = t if kind == 'natural' else max(t - 1, 0)
            xx, yy = _coords(shape, scale)
            xx = xx - 0.7 * step
            yy = yy - 0.4 * step
            v = np.full(shape, offset + 2.0 * step)
            for f, p, a in zip(freqs, phases, amps):
                v += a * np.sin(2 * math.pi * (f[0] * xx + f[1] * yy) + p)
            noise = rng.normal(0, 3.0, size=shape)
            if kind == 'repeat' and t == 1:
                frames.append(frames[0].copy())
                continue
            frames.append(np.clip(np.round(v + noise), 0, 255))
    else:
        fail('unknown content kind %r' % kind)
    return [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]


# ---------------------------------------------------------------------------
# Reference math
# ---------------------------------------------------------------------------
def gray_from_rgb(rgb):
    """OpenCV's 15-bit RGB->gray, in NumPy integer math; rgb is (h, w, 3)."""
    r = rgb[..., 0].astype(np.int64)
    g = rgb[..., 1].astype(np.int64)
    b = rgb[..., 2].astype(np.int64)
    gray = ((3735 * b + 19235 * g + 9798 * r + 16384) >> 15).astype(np.uint8)
    if cv2 is not None:
        ocv = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
        if not np.array_equal(ocv.reshape(gray.shape), gray):
            bad = int(np.count_nonzero(ocv.reshape(gray.shape) != gray))
            fail('NumPy gray rule differs from cv2.cvtColor(COLOR_RGB2GRAY) on %d pixels' % bad)
    return gray


def yuv_rgb_values(y, u, v, shift_x, shift_y, kr, kb, full_range):
    """float64 YUV->RGB (nearest chroma) in code values, 255 * (R, G, B), unrounded."""
    h, w = y.shape
    rows = np.arange(h) >> shift_y
    cols = np.arange(w) >> shift_x
    uf = u[rows][:, cols].astype(np.float64)
    vf = v[rows][:, cols].astype(np.float64)
    yf = y.astype(np.float64)
    if full_range:
        yn = yf / 255.0
        pb = (uf - 128.0) / 255.0
        pr = (vf - 128.0) / 255.0
    else:
        yn = (yf - 16.0) / 219.0
        pb = (uf - 128.0) / 224.0
        pr = (vf - 128.0) / 224.0
    kg = 1.0 - kr - kb
    r = yn + 2.0 * (1.0 - kr) * pr
    g = yn - 2.0 * kb * (1.0 - kb) / kg * pb - 2.0 * kr * (1.0 - kr) / kg * pr
    b = yn + 2.0 * (1.0 - kb) * pb
    return 255.0 * np.stack([r, g, b], axis=-1)


def round_rgb(values):
    """Rounded half up and clamped to 8 bits."""
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def ambiguous_pixels(values):
    """Pixels with an R, G or B value within AMBIGUITY_MARGIN of a rounding
    boundary k + 0.5 that matters after clamping (k = 0 .. 254)."""
    boundary = np.floor(values) + 0.5
    near = ((np.abs(values - boundary) < AMBIGUITY_MARGIN) & (boundary >= 0.5) & (boundary <= 254.5))
    return near.any(axis=-1)


def disambiguate(y, u, v, shift_x, shift_y, kr, kb, full_range, name):
    """Nudges the chroma samples of ambiguous pixels by one code (V, then U,
    alternately) until no pixel is ambiguous. Returns new (u, v)."""
    u = u.copy()
    v = v.copy()
    for step in range(64):
        amb = ambiguous_pixels(yuv_rgb_values(y, u, v, shift_x, shift_y, kr, kb, full_range))
        if not amb.any():
            return u, v
        rows, cols = np.nonzero(amb)
        target = v if step % 2 == 0 else u
        sel = np.zeros(target.shape, dtype=bool)
        sel[rows >> shift_y, cols >> shift_x] = True
        vals = target[sel]
        target[sel] = np.where(vals < 255, vals + 1, vals - 1)
    fail('%s: could not remove the ambiguous pixels' % name)


def pair_metrics(a, b):
    h, w = a.shape
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    s7 = None
    s11 = None
    if min(h, w) >= 7:
        s7 = float(structural_similarity(a, b, data_range=255))
    if min(h, w) >= 11:
        s11 = float(structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False))
    return mse, s7, s11


def gaussian11_taps():
    """scipy.ndimage's taps for sigma 1.5, truncate 3.5: the impulse response."""
    impulse = np.zeros(21)
    impulse[10] = 1.0
    response = scipy.ndimage.gaussian_filter1d(impulse, 1.5, truncate=3.5, mode='constant')
    taps = response[10:16]
    if not np.array_equal(response[10:5:-1], taps[:5]) or np.count_nonzero(response) != 11:
        fail('unexpected Gaussian kernel shape')
    return [float(t) for t in taps]


# ---------------------------------------------------------------------------
# Frame assembly
# ---------------------------------------------------------------------------
def make_case(name, fmt, width, height, kind, colorimetry=None, unambiguous=True):
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    shape = (height, width)
    case = {'name': name, 'format': fmt, 'width': width, 'height': height, 'content': kind,
            'colorimetry': None, 'kr': None, 'kb': None, 'full_range': None}
    raws, grays, rgbs, ambs = [], [], [], []
    if fmt == 'GRAY8':
        planes = [(0, width, height)]
        for f in content_frames(kind, shape, NFRAMES, rng, (1, 1), 0):
            raws.append(f.tobytes())
            grays.append(f)
            rgbs.append(None)
            ambs.append(None)
    elif fmt in PACKED:
        bpp, ro, go, bo = PACKED[fmt]
        planes = [(0, bpp * width, height)]
        chans = [content_frames(kind, shape, NFRAMES, rng, (1, 1), c) for c in range(3)]
        for t in range(NFRAMES):
            rgb = np.stack([chans[0][t], chans[1][t], chans[2][t]], axis=-1)
            packed = rng.integers(0, 256, size=(height, width, bpp)).astype(np.uint8)  # filler bytes
            packed[..., ro] = rgb[..., 0]
            packed[..., go] = rgb[..., 1]
            packed[..., bo] = rgb[..., 2]
            raws.append(packed.tobytes())
            grays.append(gray_from_rgb(rgb))
            rgbs.append(rgb)
            ambs.append(None)
    elif fmt in YUV:
        sx, sy, semi, u_first = YUV[fmt]
        cw = (width + (1 << sx) - 1) >> sx
        ch = (height + (1 << sy) - 1) >> sy
        gst_name, kr, kb, full = COLORIMETRY[colorimetry]
        case.update({'colorimetry': gst_name, 'kr': kr, 'kb': kb, 'full_range': full})
        ys = content_frames(kind, shape, NFRAMES, rng, (1, 1), 0)
        us = content_frames(kind, (ch, cw), NFRAMES, rng, (1 << sx, 1 << sy), 1)
        vs = content_frames(kind, (ch, cw), NFRAMES, rng, (1 << sx, 1 << sy), 2)
        if kind == 'natural':  # keep chroma near neutral, as in real video
            us = [np.clip(np.round(128 + 0.35 * (f.astype(np.float64) - 128)), 0, 255).astype(np.uint8)
                  for f in us]
            vs = [np.clip(np.round(128 + 0.35 * (f.astype(np.float64) - 128)), 0, 255).astype(np.uint8)
                  for f in vs]
        y_size = width * height
        if semi:
            planes = [(0, width, height), (y_size, 2 * cw, ch)]
        else:
            c_size = cw * ch
            planes = [(0, width, height), (y_size, cw, ch), (y_size + c_size, cw, ch)]
        for t in range(NFRAMES):
            y, u, v = ys[t], us[t], vs[t]
            if unambiguous:
                u, v = disambiguate(y, u, v, sx, sy, kr, kb, full, name)
            values = yuv_rgb_values(y, u, v, sx, sy, kr, kb, full)
            amb = ambiguous_pixels(values)
            if unambiguous and amb.any():
                fail('%s: ambiguous pixels left' % name)
            if semi:
                inter = np.empty((ch, 2 * cw), dtype=np.uint8)
                inter[:, 0::2] = u if u_first else v
                inter[:, 1::2] = v if u_first else u
                raw = y.tobytes() + inter.tobytes()
            else:
                first, second = (u, v) if u_first else (v, u)
                raw = y.tobytes() + first.tobytes() + second.tobytes()
            raws.append(raw)
            rgb = round_rgb(values)
            grays.append(gray_from_rgb(rgb))
            rgbs.append(rgb)
            ambs.append(None if unambiguous else amb)
    else:
        fail('unknown format %r' % fmt)
    case['unambiguous'] = unambiguous or fmt not in YUV
    case['planes'] = [{'offset': o, 'stride': s, 'rows': r} for o, s, r in planes]
    case['frame_size'] = sum(s * r for _, s, r in planes)
    for raw in raws:
        if len(raw) != case['frame_size']:
            fail('%s: frame of %d bytes, expected %d' % (name, len(raw), case['frame_size']))
    return case, raws, grays, rgbs, ambs


# (format, width, height, content, colorimetry)
CASES = [
    ('GRAY8', 1, 1, 'noise', None),
    ('GRAY8', 3, 5, 'gradient', None),
    ('GRAY8', 6, 6, 'noise', None),
    ('GRAY8', 7, 7, 'noise', None),
    ('GRAY8', 7, 7, 'constant', None),
    ('GRAY8', 11, 11, 'natural', None),
    ('GRAY8', 12, 17, 'shift', None),
    ('GRAY8', 64, 65, 'noise', None),
    ('GRAY8', 130, 129, 'steps', None),
    ('GRAY8', 641, 359, 'natural', None),
    ('GRAY8', 320, 179, 'shift', None),
    ('GRAY8', 1920, 1080, 'natural', None),
    ('RGB', 1, 1, 'noise', None),
    ('RGB', 7, 7, 'noise', None),
    ('RGB', 641, 359, 'natural', None),
    ('RGB', 1920, 1080, 'natural', None),
    ('BGR', 33, 17, 'gradient', None),
    ('BGR', 320, 179, 'shift', None),
    ('RGBA', 6, 6, 'noise', None),
    ('RGBA', 161, 99, 'natural', None),
    ('BGRA', 13, 9, 'noise', None),
    ('BGRA', 100, 75, 'repeat', None),
    ('RGBx', 17, 12, 'constant', None),
    ('RGBx', 129, 70, 'natural', None),
    ('BGRx', 3, 5, 'gradient', None),
    ('BGRx', 200, 131, 'noise', None),
    ('ARGB', 19, 23, 'noise', None),
    ('ABGR', 23, 19, 'natural', None),
    ('xRGB', 20, 11, 'shift', None),
    ('xBGR', 11, 20, 'gradient', None),
    ('I420', 1, 1, 'noise', 'bt601'),
    ('I420', 3, 5, 'noise', 'bt709'),
    ('I420', 6, 6, 'gradient', 'bt601'),
    ('I420', 7, 7, 'noise', 'bt601'),
    ('I420', 7, 7, 'constant', 'bt709'),
    ('I420', 33, 17, 'gradient', 'jpeg'),
    ('I420', 130, 129, 'steps', 'bt709'),
    ('I420', 641, 359, 'natural', 'bt601'),
    ('I420', 321, 181, 'noise', 'bt709'),
    ('I420', 160, 91, 'natural', 'jpeg'),
    ('NV12', 1, 1, 'noise', 'bt709'),
    ('NV12', 6, 6, 'noise', 'bt601'),
    ('NV12', 7, 7, 'gradient', 'jpeg'),
    ('NV12', 99, 101, 'repeat', 'bt709'),
    ('NV12', 641, 359, 'shift', 'bt601'),
    ('NV12', 160, 121, 'noise', 'jpeg'),
    ('NV12', 1920, 1080, 'natural', 'bt709'),
    ('YV12', 65, 67, 'natural', 'bt601'),
    ('YV12', 5, 3, 'noise', 'bt709'),
    ('Y42B', 31, 29, 'noise', 'bt709'),
    ('Y444', 29, 31, 'natural', 'jpeg'),
    ('NV21', 65, 67, 'noise', 'bt601'),
    ('NV16', 31, 29, 'natural', 'bt2020'),
    ('NV24', 29, 31, 'noise', 'bt709'),
]


# YUV cases that keep their ambiguous pixels (see AMBIGUITY_MARGIN): they
# measure how often the fixed-point conversion rounds the other way. All other
# YUV cases have their chroma nudged until no pixel is ambiguous, so any
# correct conversion reproduces their gray and RGB exactly.
AMBIGUOUS_KEPT = {
    'i420_7x7_bt601_noise',
    'i420_321x181_bt709_noise',
    'i420_641x359_bt601_natural',
    'nv12_160x121_jpeg_noise',
    'y42b_31x29_bt709_noise',
    'nv24_29x31_bt709_noise',
}


def case_name(fmt, w, h, kind, colorimetry):
    parts = [fmt.lower(), '%dx%d' % (w, h)]
    if colorimetry:
        parts.append(colorimetry)
    parts.append(kind)
    return '_'.join(parts)


def fmt_float(v):
    if v is None:
        return 'nan'
    if not math.isfinite(v):
        fail('non-finite reference value %r' % v)
    return repr(float(v))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: make_golden.py OUTDIR\n')
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)

    taps = gaussian11_taps()
    doc = {'version': 1, 'gaussian11_taps': taps, 'cases': []}
    text = ['# gst-s2s golden cases, written by tests/reference/make_golden.py (see its docstring)',
            'taps ' + ' '.join(fmt_float(t) for t in taps)]
    total = 0
    ambiguous_stats = [0, 0]
    names = set()
    for fmt, w, h, kind, colorimetry in CASES:
        name = case_name(fmt, w, h, kind, colorimetry)
        if name in names:
            fail('duplicate case name ' + name)
        names.add(name)
        case, raws, grays, rgbs, ambs = make_case(name, fmt, w, h, kind, colorimetry,
                                                  unambiguous=name not in AMBIGUOUS_KEPT)
        frames = []
        for t, raw in enumerate(raws):
            entry = {'file': '%s_f%d.raw' % (name, t), 'gray': None, 'rgb': None, 'ambiguous': None}
            with open(os.path.join(outdir, entry['file']), 'wb') as f:
                f.write(raw)
            total += len(raw)
            if fmt == 'GRAY8':
                entry['gray'] = entry['file']
            else:
                entry['gray'] = '%s_f%d.gray' % (name, t)
                data = grays[t].tobytes()
                with open(os.path.join(outdir, entry['gray']), 'wb') as f:
                    f.write(data)
                total += len(data)
            if fmt == 'RGB':
                entry['rgb'] = entry['file']
            elif rgbs[t] is not None and w * h < 1920 * 1080:
                entry['rgb'] = '%s_f%d.rgb' % (name, t)
                data = np.ascontiguousarray(rgbs[t]).tobytes()
                with open(os.path.join(outdir, entry['rgb']), 'wb') as f:
                    f.write(data)
                total += len(data)
            if ambs[t] is not None:
                entry['ambiguous'] = '%s_f%d.amb' % (name, t)
                data = ambs[t].astype(np.uint8).tobytes()
                with open(os.path.join(outdir, entry['ambiguous']), 'wb') as f:
                    f.write(data)
                total += len(data)
                ambiguous_stats[0] += int(np.count_nonzero(ambs[t]))
                ambiguous_stats[1] += ambs[t].size
            frames.append(entry)
        pairs = []
        for t in range(1, len(grays)):
            mse, s7, s11 = pair_metrics(grays[t - 1], grays[t])
            if kind == 'constant' and (mse != 0.0 or (s7 is not None and s7 != 1.0)
                                       or (s11 is not None and s11 != 1.0)):
                fail('%s: constant frames must give MSE 0 and SSIM 1' % name)
            pairs.append({'first': t - 1, 'second': t, 'mse': mse, 'ssim_uniform7': s7,
                          'ssim_gaussian11': s11})
        case['frames'] = frames
        case['pairs'] = pairs
        doc['cases'].append(case)

        dash = lambda v: '-' if v is None else v  # noqa: E731
        text.append(' '.join(str(x) for x in [
            'case', name, fmt, w, h, kind, dash(case['colorimetry']),
            '-' if case['kr'] is None else fmt_float(case['kr']),
            '-' if case['kb'] is None else fmt_float(case['kb']),
            '-' if case['full_range'] is None else int(case['full_range']),
            len(frames), case['frame_size'], int(case['unambiguous'])]))
        for i, p in enumerate(case['planes']):
            text.append('plane %d %d %d %d' % (i, p['offset'], p['stride'], p['rows']))
        for i, fr in enumerate(frames):
            text.append('frame %d %s %s %s %s' % (i, fr['file'], fr['gray'], dash(fr['rgb']),
                                                 dash(fr['ambiguous'])))
        for p in pairs:
            text.append('pair %d %d %s %s %s' % (p['first'], p['second'], fmt_float(p['mse']),
                                                fmt_float(p['ssim_uniform7']),
                                                fmt_float(p['ssim_gaussian11'])))
        text.append('end')

    with open(os.path.join(outdir, 'cases.txt'), 'w') as f:
        f.write('\n'.join(text) + '\n')
    # cases.json last: it is the build target, so a partial run is redone.
    tmp = os.path.join(outdir, 'cases.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    os.replace(tmp, os.path.join(outdir, 'cases.json'))
    sys.stdout.write('make_golden.py: %d cases, %.1f MB of frames in %s; %d of %d pixels of the '
                     'YUV cases that keep them are ambiguous\n'
                     % (len(doc['cases']), total / 1e6, outdir, ambiguous_stats[0], ambiguous_stats[1]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
