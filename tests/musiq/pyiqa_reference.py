"""Reference MUSIQ scores for the tests, computed by pyiqa's own MUSIQ
(pyiqa/archs/musiq_arch.py of pyiqa 0.1.16, installed with --no-deps) on our
random weights, loaded into it by name, so both sides run identical weights.

pyiqa's package __init__ files import half of PyPI; only musiq_arch and the
modules it imports are loaded here (packages stubbed with their real
__path__), and its downloader is replaced by one that refuses: nothing is
downloaded, the weights come from WEIGHTS only.

    pyiqa_reference.py OUTDIR WEIGHTS...

For each weights file W writes OUTDIR/<W's name up to the first dot>.txt:
    case NAME FORMAT WIDTH HEIGHT NFRAMES
    frame INDEX FILE SCORE      (packed planes in GStreamer plane order; pyiqa's score)
    end
    tokens FILE SCORE           (pyiqa's get_multiscale_patches of one frame:
                                 float32 [T][3075], and pyiqa's score of it)
Frames are shared between the files (same names, same content).
"""
import importlib
import importlib.util
import os
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "tools"))
from safetensors_io import read_safetensors  # noqa: E402


def import_pyiqa_musiq():
    """pyiqa.archs.musiq_arch without running pyiqa's package __init__s."""
    spec = importlib.util.find_spec("pyiqa")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyiqa is not installed (pip install --no-deps pyiqa==0.1.16)")
    root = list(spec.submodule_search_locations)[0]
    for package in ("pyiqa", "pyiqa.archs", "pyiqa.data", "pyiqa.utils", "pyiqa.matlab_utils"):
        module = types.ModuleType(package)
        module.__path__ = [os.path.join(root, *package.split(".")[1:])]
        sys.modules[package] = module
    # musiq_arch does `from pyiqa.matlab_utils import ExactPadding2d, exact_padding_2d`.
    padding = importlib.import_module("pyiqa.matlab_utils.padding")
    sys.modules["pyiqa.matlab_utils"].ExactPadding2d = padding.ExactPadding2d
    sys.modules["pyiqa.matlab_utils"].exact_padding_2d = padding.exact_padding_2d

    def no_download(url, *args, **kwargs):
        raise RuntimeError(f"pyiqa_reference.py downloads nothing (asked for {url})")

    download = types.ModuleType("pyiqa.utils.download_util")
    download.load_file_from_url = no_download
    sys.modules["pyiqa.utils.download_util"] = download
    musiq_arch = importlib.import_module("pyiqa.archs.musiq_arch")
    data = importlib.import_module("pyiqa.data.multiscale_trans_util")
    return musiq_arch, data


def load_model(musiq_arch, path):
    tensors, meta = read_safetensors(path)
    assert meta["model"] == "musiq", meta
    num_class = int(meta["num-classes"])
    model = musiq_arch.MUSIQ(num_class=num_class, pretrained=False)
    state = model.state_dict()
    assert set(state) == set(tensors), sorted(set(state) ^ set(tensors))
    for name, value in tensors.items():
        assert tuple(state[name].shape) == value.shape, (name, value.shape)
        state[name] = torch.from_numpy(value.copy())
    model.load_state_dict(state, strict=True)
    return model.eval(), meta


def natural(rng, w, h, t):
    """Smooth texture with edges, a vignette and noise (not flat, not white
    noise), different for each frame index t."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r2 = ((x - w / 2) / w) ** 2 + ((y - h / 2) / h) ** 2
    img = np.empty((h, w, 3))
    for c in range(3):
        img[..., c] = (120 + 60 * np.sin((x + 11 * t) / (7 + 5 * c)) * np.cos((y - 5 * t) / (17 + 3 * c))
                       + 45 * (((x + 13 * t) // 48 + (y // 40)) % 2) - 90 * r2 * (1 + t % 2)
                       + rng.normal(0, 4 + 3 * t, (h, w)))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def to_format(rgb, fmt):
    """Frame bytes in `fmt` and the RGB image our converter yields from them."""
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
    # name, format, width, height, frames
    ("rgb-224", "RGB", 224, 224, 3),
    ("rgb-512x384", "RGB", 512, 384, 2),
    ("bgrx-640x360", "BGRx", 640, 360, 2),
    ("rgb-720p", "RGB", 1280, 720, 2),
    ("gray-333x257", "GRAY8", 333, 257, 2),
]


def pyiqa_score(model, rgb):
    """pyiqa's score of an RGB uint8 image: as pyiqa's loaders give it, float
    in [0, 1] NCHW; MUSIQ.forward maps it to [-1, 1] and patches it."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().unsqueeze(0) / 255.0
    with torch.no_grad():
        return float(model(x).flatten()[0])


def main():
    outdir, weights = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    musiq_arch, data = import_pyiqa_musiq()

    frames = []  # (case, index, file, rgb)
    rng = np.random.default_rng(11)
    for name, fmt, w, h, n in CASES:
        for i in range(n):
            raw, rgb = to_format(natural(rng, w, h, i), fmt)
            file = f"musiq-{name}-{i}.raw"
            with open(os.path.join(outdir, file), "wb") as f:
                f.write(raw)
            frames.append((name, i, file, rgb))

    # Tokens of one frame as pyiqa's forward builds them.
    token_rgb = frames[[f[0] for f in frames].index("rgb-512x384")][3]
    x = torch.from_numpy(np.ascontiguousarray(token_rgb)).permute(2, 0, 1).float().unsqueeze(0) / 255.0
    tokens = data.get_multiscale_patches((x - 0.5) * 2, patch_size=32, patch_stride=32, hse_grid_size=10,
                                         longer_side_lengths=[224, 384], max_seq_len_from_original_res=-1)
    token_file = "musiq-tokens-512x384.f32"
    tokens[0].contiguous().numpy().astype("<f4").tofile(os.path.join(outdir, token_file))

    for path in weights:
        label = os.path.basename(path).split(".")[0]
        model, meta = load_model(musiq_arch, path)
        lines = []
        for name, fmt, w, h, n in CASES:
            lines.append(f"case {name} {fmt} {w} {h} {n}")
            for case, i, file, rgb in frames:
                if case == name:
                    lines.append(f"frame {i} {file} {pyiqa_score(model, rgb)!r}")
            lines.append("end")
        score = token_score(model, tokens)
        # Same frame through forward's own preprocessing: same score.
        assert abs(score - pyiqa_score(model, token_rgb)) <= 1e-5 * max(1.0, abs(score)), label
        lines.append(f"tokens {token_file} {score!r}")
        with open(os.path.join(outdir, f"{label}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


def token_score(model, tokens):
    """pyiqa's score of prepared tokens: in training mode forward skips the
    preprocessing; dropout rates are 0, so the network is the same."""
    model.train()
    try:
        with torch.no_grad():
            return float(model(tokens).flatten()[0])
    finally:
        model.eval()


if __name__ == "__main__":
    main()
