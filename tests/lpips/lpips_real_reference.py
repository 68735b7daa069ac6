"""Reference LPIPS with the real weights (the file scripts/setup.sh installs)
on natural images, computed as the replaced service did: the `lpips` package
(AlexNet v0.1) given these weights, frames as RGB resized by
cv2.resize(INTER_LINEAR) to 256x256, float32(v)/255*2-1.

Frames are scikit-image's data images (bundled with the package) cut to one
size, in a sequence whose consecutive pairs are what s2smetrics measures:
different images, and each image against itself blurred, with noise, after
JPEG and shifted by a few pixels.

    lpips_real_reference.py WEIGHTS OUTDIR

writes OUTDIR/lpips-real-cases.txt and the raw frames (packed rows):
    case NAME FORMAT WIDTH HEIGHT SIZE NFRAMES
    frame INDEX FILE
    pair INDEX LPIPS WHAT      (frame INDEX against INDEX-1)
    end
"""
import os
import sys
import warnings

import cv2
import numpy as np
import skimage.data
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lpips_reference import load_model, lpips_of  # noqa: E402

warnings.filterwarnings("ignore")


def crop(img, w, h, dx=0, dy=0):
    """A w x h window from the centre of img, moved by (dx, dy)."""
    y0 = (img.shape[0] - h) // 2 + dy
    x0 = (img.shape[1] - w) // 2 + dx
    assert 0 <= y0 and y0 + h <= img.shape[0] and 0 <= x0 and x0 + w <= img.shape[1]
    return np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w, :3])


def blur(img):
    return cv2.GaussianBlur(img, (0, 0), 2.0)


def noise(img, rng):
    return np.clip(img.astype(np.float64) + rng.normal(0, 12, img.shape), 0, 255).round().astype(np.uint8)


def jpeg(img, quality=20):
    # cv2 codes BGR; the round trip keeps the RGB order.
    ok, data = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def distortion_run(img, w, h, rng, name):
    """ref, blur, ref, noise, ref, jpeg, ref, shifted: every consecutive pair
    is a distortion against the reference."""
    ref = crop(img, w, h)
    frames = [(ref, f"{name}")]
    for what, f in (("blur", blur(ref)), ("noise", noise(ref, rng)), ("jpeg", jpeg(ref))):
        frames += [(f, f"{name}-{what}"), (ref, name)]
    frames.append((crop(img, w, h, dx=3, dy=2), f"{name}-shift-3-2"))
    return frames


def cases(rng):
    data = {n: getattr(skimage.data, n)() for n in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
                                                     "immunohistochemistry", "retina")}
    w, h = 451, 300  # chelsea's size; odd width: GStreamer pads the rows
    small = [(crop(data[n], w, h), n) for n in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")]
    for n in ("astronaut", "coffee", "rocket"):
        small += distortion_run(data[n], w, h, rng, n)
    yield "natural-451x300", "RGB", w, h, small
    w, h = 960, 540  # downscaled to 256 as a video frame is
    large = [(crop(data["hubble_deep_field"], w, h), "hubble")]
    large += distortion_run(data["retina"], w, h, rng, "retina")
    yield "natural-960x540-bgrx", "BGRx", w, h, large


def packed(rgb, fmt):
    if fmt == "RGB":
        return rgb.tobytes()
    h, w, _ = rgb.shape
    out = np.full((h, w, 4), 255, np.uint8)
    out[..., :3] = rgb[..., ::-1]
    return out.tobytes()


def main():
    weights, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    model = load_model(weights)
    rng = np.random.default_rng(15)
    lines = []
    for name, fmt, w, h, frames in cases(rng):
        lines.append(f"case {name} {fmt} {w} {h} 256 {len(frames)}")
        for i, (rgb, _) in enumerate(frames):
            path = os.path.join(outdir, f"lpips-real-{name}-{i}.raw")
            with open(path, "wb") as f:
                f.write(packed(rgb, fmt))
            lines.append(f"frame {i} {os.path.basename(path)}")
        for i in range(1, len(frames)):
            value = lpips_of(model, frames[i - 1][0], frames[i][0], 256)
            lines.append(f"pair {i} {value!r} {frames[i - 1][1]}:{frames[i][1]}")
        lines.append("end")
    with open(os.path.join(outdir, "lpips-real-cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
