"""Make the LPIPS (AlexNet, v0.1) weight file that s2smetrics reads.

  convert: from the official weights, which you obtain yourself:
      --lin    the lpips package's weights/v0.1/alex.pth (shipped inside the
               `lpips` PyPI package; found automatically when it is installed)
      --alexnet torchvision's AlexNet ImageNet weights (alexnet-owt-7be5be79.pth)
  random: deterministic random weights with the same names and shapes, for tests.

    python3 models/tools/lpips_weights.py convert --alexnet alexnet-owt-7be5be79.pth out.safetensors
    python3 models/tools/lpips_weights.py random --seed 1 out.safetensors

The file holds torchvision's `features.{0,3,6,8,10}.{weight,bias}` and lpips'
`lin{0..4}.model.1.weight` (float32), and in its metadata: model=lpips-alex,
version=0.1, the preprocessing, and where the weights came from.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

# (features index, in, out, kernel) of torchvision's AlexNet convolutions.
CONVS = [(0, 3, 64, 11), (3, 64, 192, 5), (6, 192, 384, 3), (8, 384, 256, 3), (10, 256, 256, 3)]
LIN_CHANNELS = [64, 192, 384, 256, 256]

METADATA = {
    "format": "gst-s2s-weights/1",
    "model": "lpips-alex",
    "version": "0.1",
    "preprocessing": "RGB; OpenCV INTER_LINEAR 8-bit resize to lpips-size (256); float32(v)/255*2-1",
    "scaling-shift": "-0.030,-0.088,-0.188",
    "scaling-scale": "0.458,0.448,0.450",
}


def random_weights(seed):
    """He-style normal conv weights, small biases, non-negative linear
    weights (as trained LPIPS ones are), so distances are not degenerate."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for index, cin, cout, k in CONVS:
        std = np.sqrt(2.0 / (cin * k * k))
        tensors[f"features.{index}.weight"] = (rng.standard_normal((cout, cin, k, k)) * std).astype(np.float32)
        tensors[f"features.{index}.bias"] = (rng.standard_normal(cout) * 0.05).astype(np.float32)
    for i, c in enumerate(LIN_CHANNELS):
        tensors[f"lin{i}.model.1.weight"] = (np.abs(rng.standard_normal((1, c, 1, 1))) / c * 40).astype(np.float32)
    return tensors


def official_weights(lin_path, alexnet_path):
    import torch  # only the converter needs it

    lin = torch.load(lin_path, map_location="cpu", weights_only=True)
    alex = torch.load(alexnet_path, map_location="cpu", weights_only=True)
    tensors = {}
    for index, cin, cout, k in CONVS:
        for part, shape in (("weight", (cout, cin, k, k)), ("bias", (cout,))):
            name = f"features.{index}.{part}"
            if name not in alex:
                sys.exit(f"{alexnet_path}: no tensor '{name}' (is this torchvision's AlexNet?)")
            value = alex[name].float().numpy()
            if value.shape != shape:
                sys.exit(f"{alexnet_path}: '{name}' has shape {value.shape}, expected {shape}")
            tensors[name] = value
    for i, c in enumerate(LIN_CHANNELS):
        name = f"lin{i}.model.1.weight"
        if name not in lin:
            sys.exit(f"{lin_path}: no tensor '{name}' (is this lpips' weights/v0.1/alex.pth?)")
        value = lin[name].float().numpy()
        if value.shape != (1, c, 1, 1):
            sys.exit(f"{lin_path}: '{name}' has shape {value.shape}, expected {(1, c, 1, 1)}")
        tensors[name] = value
    return tensors


def default_lin_path():
    try:
        import importlib.util

        spec = importlib.util.find_spec("lpips")
        if spec and spec.submodule_search_locations:
            path = os.path.join(list(spec.submodule_search_locations)[0], "weights", "v0.1", "alex.pth")
            if os.path.exists(path):
                return path
    except ImportError:
        pass
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="from the official weights")
    conv.add_argument("--lin", default=default_lin_path(), help="lpips weights/v0.1/alex.pth")
    conv.add_argument("--alexnet", required=True, help="torchvision AlexNet ImageNet weights (.pth)")
    conv.add_argument("output")
    rnd = sub.add_parser("random", help="deterministic random weights for tests")
    rnd.add_argument("--seed", type=int, default=0)
    rnd.add_argument("output")
    args = parser.parse_args()

    metadata = dict(METADATA)
    if args.command == "convert":
        if not args.lin:
            sys.exit("--lin not given and the lpips package is not installed")
        tensors = official_weights(args.lin, args.alexnet)
        metadata["source"] = f"lpips {os.path.basename(args.lin)} + torchvision {os.path.basename(args.alexnet)}"
    else:
        tensors = random_weights(args.seed)
        metadata["source"] = f"random, seed {args.seed} (tests only: not a real LPIPS)"
    write_safetensors(args.output, tensors, metadata)
    print(f"wrote {args.output}: {len(tensors)} tensors, {sum(t.size for t in tensors.values())} parameters")


if __name__ == "__main__":
    main()
