"""Reference LPIPS values for the tests, computed the way the replaced service
did: the `lpips` package (PyPI) with AlexNet v0.1, frames as RGB resized by
cv2.resize(INTER_LINEAR) to lpips-size, float32(v)/255*2-1.

The network gets the weights of our safetensors file (random, seeded), loaded
into lpips.LPIPS by name, so both sides run identical weights.

    lpips_reference.py WEIGHTS OUTDIR

writes OUTDIR/lpips-cases.txt and raw frames:
    case NAME FORMAT WIDTH HEIGHT SIZE NFRAMES
    frame INDEX FILE            (packed planes, GStreamer plane order)
    pair INDEX LPIPS            (frame INDEX against INDEX-1)
    end
"""
import os
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "tools"))
from safetensors_io import read_safetensors  # noqa: E402

import lpips  # noqa: E402

# torchvision features index -> lpips slice holding it (lpips keeps the index
# as the module name inside the slice).
SLICE_OF = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}


def load_model(path):
    tensors, meta = read_safetensors(path)
    assert meta["model"] == "lpips-alex", meta
    model = lpips.LPIPS(net="alex", version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    state = model.state_dict()
    for name, value in tensors.items():
        if name.startswith("features."):
            index, part = name.split(".")[1:]
            key = f"net.slice{SLICE_OF[int(index)]}.{index}.{part}"
        else:
            key = name
        assert key in state and tuple(state[key].shape) == value.shape, (key, value.shape)
        state[key] = torch.from_numpy(value.copy())
    model.load_state_dict(state)
    return model.eval()


def natural(rng, w, h, t):
    """Smooth moving texture with edges and noise (not flat, not white noise)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    for c in range(3):
        img[..., c] = (128 + 60 * np.sin((x + 5 * t) / (9 + 4 * c)) * np.cos((y - 3 * t) / (13 + c))
                       + 40 * ((x + 7 * t) % 64 < 32) + rng.normal(0, 6, (h, w)))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def lpips_of(model, a_rgb, b_rgb, size):
    def prep(img):
        if size:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255 * 2 - 1
        return t.unsqueeze(0)

    with torch.no_grad():
        return float(model(prep(a_rgb), prep(b_rgb)).flatten()[0])


def to_format(rgb, fmt):
    if fmt == "RGB":
        return rgb.tobytes(), rgb
    if fmt == "BGRx":
        h, w, _ = rgb.shape
        out = np.full((h, w, 4), 255, np.uint8)
        out[..., :3] = rgb[..., ::-1]
        return out.tobytes(), rgb
    if fmt == "GRAY8":
        r, g, b = (rgb[..., c].astype(np.int64) for c in range(3))
        g = ((3735 * b + 19235 * g + 9798 * r + 16384) >> 15).astype(np.uint8)
        return g.tobytes(), np.repeat(g[..., None], 3, axis=2)
    raise ValueError(fmt)


CASES = [
    # name, format, width, height, lpips-size, frames
    ("rgb-720p", "RGB", 1280, 720, 256, 4),
    ("bgrx-640x360", "BGRx", 640, 360, 256, 4),
    ("gray-odd", "GRAY8", 333, 181, 256, 3),
    ("rgb-upscale", "RGB", 100, 90, 256, 3),
    ("rgb-native", "RGB", 160, 120, 0, 3),
    ("rgb-size-64", "RGB", 320, 240, 64, 3),
]


def main():
    weights, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    model = load_model(weights)
    rng = np.random.default_rng(7)
    lines = []
    for name, fmt, w, h, size, n in CASES:
        lines.append(f"case {name} {fmt} {w} {h} {size} {n}")
        rgbs = []
        for i in range(n):
            data, rgb = to_format(natural(rng, w, h, i), fmt)
            path = os.path.join(outdir, f"lpips-{name}-{i}.raw")
            with open(path, "wb") as f:
                f.write(data)
            lines.append(f"frame {i} {os.path.basename(path)}")
            rgbs.append(rgb)
        for i in range(1, n):
            lines.append(f"pair {i} {lpips_of(model, rgbs[i - 1], rgbs[i], size)!r}")
        lines.append("end")
    with open(os.path.join(outdir, "lpips-cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
