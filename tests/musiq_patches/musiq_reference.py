"""Reference tokens for the MUSIQ patching tests, from pyiqa itself.

pyiqa's MUSIQ (pyiqa/archs/musiq_arch.py, 0.1.16) does, in eval mode,
    x = (x - 0.5) * 2
    x = get_multiscale_patches(x, patch_size=32, patch_stride=32,
                               hse_grid_size=10, longer_side_lengths=[224, 384],
                               max_seq_len_from_original_res=-1)
on x = RGB / 255 in float32 (N, 3, H, W). This script runs exactly that, with
get_multiscale_patches loaded from pyiqa's own file
(pyiqa/data/multiscale_trans_util.py; importing the package would pull in
its heavy dependencies), on seeded natural-looking frames.

PyTorch's CPU bicubic kernel rounds differently in its DEFAULT and AVX2
builds (FMA contraction, up to ~1e-4 apart), so the AVX2 build is pinned
(ATEN_CPU_CAPABILITY=avx2, set before torch is imported) where the CPU has
AVX2 and FMA; the capability that ran is written to the index.

    musiq_reference.py OUTDIR     writes OUTDIR/musiq-cases.txt and raw files
    musiq_reference.py --check    exits 0 when the reference can be computed

musiq-cases.txt:
    capability NAME                       (torch.backends.cpu.get_cpu_capability())
    case NAME WIDTH HEIGHT SIDES MAXSEQ TOKENS FRAME REF
        SIDES: longer sides, comma-separated, as given (pyiqa sorts them)
        MAXSEQ: max_seq_len_from_original_res (-1: all native patches)
        FRAME: packed 8-bit RGB, WIDTH*3 bytes a row
        REF: float32 [TOKENS][3075]: 3072 values (CHW), position, scale, mask
    end
"""
import importlib.util
import os
import sys

PYIQA_VERSION = "0.1.16"


def cpu_has_avx2_fma():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return "avx2" in flags and "fma" in flags
    except OSError:
        pass
    return False


if cpu_has_avx2_fma():
    os.environ["ATEN_CPU_CAPABILITY"] = "avx2"

import numpy as np  # noqa: E402
import torch  # noqa: E402


def pyiqa_dir():
    from importlib import metadata
    if metadata.version("pyiqa") != PYIQA_VERSION:
        raise RuntimeError(f"pyiqa {metadata.version('pyiqa')} installed, {PYIQA_VERSION} expected")
    spec = importlib.util.find_spec("pyiqa")  # locates the package without running its __init__
    return list(spec.submodule_search_locations)[0]


def load_multiscale_util():
    path = os.path.join(pyiqa_dir(), "data", "multiscale_trans_util.py")
    spec = importlib.util.spec_from_file_location("pyiqa_multiscale_trans_util", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_musiq_arch():
    """The pipeline reproduced here is the one in MUSIQ.forward and __init__."""
    with open(os.path.join(pyiqa_dir(), "archs", "musiq_arch.py")) as f:
        src = f.read()
    for needle in ("x = (x - 0.5) * 2", "x = get_multiscale_patches(x, **self.data_preprocess_opts)",
                   "longer_side_lengths=[224, 384]", "max_seq_len_from_original_res=-1",
                   "'hse_grid_size': spatial_pos_grid_size", "spatial_pos_grid_size=10", "patch_size=32"):
        if needle not in src:
            raise RuntimeError(f"musiq_arch.py no longer contains {needle!r}")


def natural(seed, w, h):
    """Smooth gradients, waves, hard-edged shapes and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    for c in range(3):
        fx, fy = rng.uniform(3, 40, 2)
        img[..., c] = (110 + 50 * np.sin(x / fx + rng.uniform(0, 6)) * np.cos(y / fy + rng.uniform(0, 6))
                       + 60 * (x / max(w - 1, 1)) - 30 * (y / max(h - 1, 1)))
    for _ in range(6):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        rw, rh = rng.integers(1, max(2, w // 3)), rng.integers(1, max(2, h // 3))
        img[y0:y0 + rh, x0:x0 + rw] += rng.uniform(-90, 90, 3)
    img += rng.normal(0, 7, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# name, width, height, longer sides, max_seq_len_from_original_res
CASES = [
    ("224x224", 224, 224, "224,384", -1),
    ("512x384", 512, 384, "224,384", -1),
    ("640x360", 640, 360, "224,384", -1),
    ("1280x720", 1280, 720, "224,384", -1),
    ("1920x1080", 1920, 1080, "224,384", -1),
    ("333x257", 333, 257, "224,384", -1),
    ("1x1", 1, 1, "224,384", -1),
    ("16x16", 16, 16, "224,384", -1),
    ("31x33", 31, 33, "224,384", -1),
    ("360x640", 360, 640, "224,384", -1),
    ("448x101", 448, 101, "224,384", -1),
    ("448x103", 448, 103, "224,384", -1),
    ("1x300", 1, 300, "224,384", -1),
    ("640x360-cap16", 640, 360, "224,384", 16),
    ("640x360-cap0", 640, 360, "224,384", 0),
    ("31x33-cap16", 31, 33, "224,384", 16),
    ("333x257-side256", 333, 257, "256", -1),
    ("1280x720-side256-cap100", 1280, 720, "256", 100),
    ("333x257-sides384+224", 333, 257, "384,224", -1),
    ("97x500-sides160+512", 97, 500, "160,512", -1),
]


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--check":
        load_multiscale_util()
        check_musiq_arch()
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    util = load_multiscale_util()
    check_musiq_arch()
    torch.set_num_threads(1)
    lines = [f"capability {torch.backends.cpu.get_cpu_capability()}"]
    for seed, (name, w, h, sides, max_seq) in enumerate(CASES):
        rgb = natural(1000 + seed, w, h)
        x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float() / 255
        with torch.no_grad():
            x = (x - 0.5) * 2
            out = util.get_multiscale_patches(
                x, patch_size=32, patch_stride=32, hse_grid_size=10,
                longer_side_lengths=[int(s) for s in sides.split(",")],
                max_seq_len_from_original_res=max_seq)
        ref = np.ascontiguousarray(out[0].numpy(), dtype=np.float32)
        assert ref.shape[1] == 3075, ref.shape
        frame_file = f"musiq-{name}.rgb"
        ref_file = f"musiq-{name}.f32"
        rgb.tofile(os.path.join(outdir, frame_file))
        ref.tofile(os.path.join(outdir, ref_file))
        lines.append(f"case {name} {w} {h} {sides} {max_seq} {ref.shape[0]} {frame_file} {ref_file}")
    lines.append("end")
    with open(os.path.join(outdir, "musiq-cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
