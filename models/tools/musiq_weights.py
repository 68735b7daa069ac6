"""Make the MUSIQ weight file that musiqscore reads.

  convert: from one of pyiqa's MUSIQ checkpoints (which you obtain yourself:
           musiq_koniq_ckpt-e95806b9.pth, musiq_spaq_ckpt-358bb6af.pth,
           musiq_paq2piq_ckpt-364c0c84.pth, musiq_ava_ckpt-e8d3f067.pth).
  random:  deterministic random weights with the same names and shapes, for
           tests (realistic scales, so scores are not degenerate).

    python3 models/tools/musiq_weights.py convert musiq_koniq_ckpt-e95806b9.pth out.safetensors --variant koniq10k
    python3 models/tools/musiq_weights.py random --seed 1 --variant ava out.safetensors

The file holds pyiqa's MUSIQ state dict under pyiqa's names (248 tensors,
float32) and in its metadata: model=musiq, the variant, num-classes (1, or
10 for ava), the score range, the preprocessing, and the weights' source.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

HIDDEN = 384
MLP = 1152
LAYERS = 14
STEM = 64
GRID = 10  # hashed spatial position grid (10 x 10)
SCALES = 3  # two rescaled scales + native resolution

VARIANTS = {
    # variant: (num classes, score min, score max)
    "koniq10k": (1, 0, 100),
    "spaq": (1, 0, 100),
    "paq2piq": (1, 0, 100),
    "ava": (10, 1, 10),
}


def tensor_specs(num_classes):
    """(name, shape) of every tensor, in pyiqa's state-dict order."""
    specs = [
        ("conv_root.weight", (STEM, 3, 7, 7)),
        ("gn_root.weight", (STEM,)),
        ("gn_root.bias", (STEM,)),
        ("block1.conv1.weight", (STEM, STEM, 1, 1)),
        ("block1.gn1.weight", (STEM,)),
        ("block1.gn1.bias", (STEM,)),
        ("block1.conv2.weight", (STEM, STEM, 3, 3)),
        ("block1.gn2.weight", (STEM,)),
        ("block1.gn2.bias", (STEM,)),
        ("block1.conv3.weight", (4 * STEM, STEM, 1, 1)),
        ("block1.gn3.weight", (4 * STEM,)),
        ("block1.gn3.bias", (4 * STEM,)),
        ("block1.conv_proj.weight", (4 * STEM, STEM, 1, 1)),
        ("block1.gn_proj.weight", (4 * STEM,)),
        ("block1.gn_proj.bias", (4 * STEM,)),
        ("embedding.weight", (HIDDEN, 4 * STEM * 8 * 8)),
        ("embedding.bias", (HIDDEN,)),
        ("transformer_encoder.cls", (1, 1, HIDDEN)),
        ("transformer_encoder.posembed_input.position_emb", (1, GRID * GRID, HIDDEN)),
        ("transformer_encoder.scaleembed_input.scale_emb", (SCALES, HIDDEN)),
    ]
    for i in range(LAYERS):
        b = f"transformer_encoder.transformer.encoderblock_{i}"
        specs += [(f"{b}.norm1.weight", (HIDDEN,)), (f"{b}.norm1.bias", (HIDDEN,))]
        for part in ("query", "key", "value", "out"):
            specs += [(f"{b}.attention.{part}.weight", (HIDDEN, HIDDEN)), (f"{b}.attention.{part}.bias", (HIDDEN,))]
        specs += [(f"{b}.norm2.weight", (HIDDEN,)), (f"{b}.norm2.bias", (HIDDEN,))]
        specs += [(f"{b}.mlp.fc1.weight", (MLP, HIDDEN)), (f"{b}.mlp.fc1.bias", (MLP,))]
        specs += [(f"{b}.mlp.fc2.weight", (HIDDEN, MLP)), (f"{b}.mlp.fc2.bias", (HIDDEN,))]
    specs += [("transformer_encoder.encoder_norm.weight", (HIDDEN,)),
              ("transformer_encoder.encoder_norm.bias", (HIDDEN,))]
    head = "head.0" if num_classes > 1 else "head"
    specs += [(f"{head}.weight", (num_classes, HIDDEN)), (f"{head}.bias", (num_classes,))]
    return specs


def random_weights(seed, num_classes):
    """Fan-in scaled normal weights, norm scales near 1 and small shifts,
    embeddings of the size of the token features; the head puts one-output
    scores around 50 and, like a trained one, weighs the class token
    strongly, so small errors inside the network show in the score; AVA
    gets a peaked but not one-hot distribution."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in tensor_specs(num_classes):
        leaf = name.rsplit(".", 1)[-1]
        module = name.rsplit(".", 1)[0]
        if name.startswith("head"):
            if leaf == "weight":
                std = (30.0 if num_classes == 1 else 1.5) / np.sqrt(HIDDEN)
                value = rng.standard_normal(shape) * std
            else:
                value = np.full(shape, 50.0) if num_classes == 1 else rng.standard_normal(shape) * 0.3
        elif leaf == "weight" and ("gn" in module or "norm" in module):
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        elif leaf == "bias":
            value = 0.05 * rng.standard_normal(shape)
        elif leaf == "weight":
            fan_in = int(np.prod(shape[1:]))
            # Residual branches a little below unit gain so 14 blocks stay tame.
            gain = 0.7 if (".mlp." in name or ".attention.out" in name) else 1.0
            value = rng.standard_normal(shape) * gain / np.sqrt(fan_in)
        elif leaf == "cls":
            value = 0.5 * rng.standard_normal(shape)
        else:  # position and scale embeddings
            value = 0.3 * rng.standard_normal(shape)
        tensors[name] = value.astype(np.float32)
    return tensors


def unwrap_state_dict(obj, path):
    """A pyiqa checkpoint is a plain state dict; accept the usual wrappers
    ('params', 'params_ema', 'state_dict', 'model') and 'module.' prefixes."""
    for key in ("params_ema", "params", "state_dict", "model", "net"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        sys.exit(f"{path}: not a state dict (got {type(obj).__name__})")
    state = {}
    for name, value in obj.items():
        while name.startswith("module."):
            name = name[len("module."):]
        state[name] = value
    return state


def checkpoint_weights(path, num_classes, unsafe_pickle=False):
    import torch  # only the converter needs it

    try:
        # Tensors only, unless told to trust the file (full pickle runs code).
        obj = torch.load(path, map_location="cpu", weights_only=not unsafe_pickle)
    except Exception as e:  # noqa: BLE001 - any unreadable checkpoint
        hint = "" if unsafe_pickle else " (if you trust the file, --unsafe-pickle loads any pickle)"
        sys.exit(f"{path}: cannot read as a PyTorch checkpoint: {str(e).splitlines()[0]}{hint}")
    state = unwrap_state_dict(obj, path)
    tensors = {}
    for name, shape in tensor_specs(num_classes):
        if name not in state:
            other = "head.weight" if num_classes > 1 else "head.0.weight"
            hint = f" (it has '{other}': wrong --variant?)" if name.startswith("head") and other in state else ""
            sys.exit(f"{path}: no tensor '{name}'{hint}")
        value = state[name].detach().float().cpu().numpy()
        if value.shape != shape:
            sys.exit(f"{path}: '{name}' has shape {value.shape}, expected {shape}")
        if not np.all(np.isfinite(value)):
            sys.exit(f"{path}: '{name}' has non-finite values")
        tensors[name] = value
    extra = sorted(set(state) - set(tensors))
    if extra:
        sys.exit(f"{path}: unexpected tensors {extra[:5]} (is this a pyiqa MUSIQ checkpoint?)")
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="from a pyiqa checkpoint (.pth)")
    conv.add_argument("checkpoint")
    conv.add_argument("output")
    conv.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    conv.add_argument("--unsafe-pickle", action="store_true",
                      help="load the checkpoint with full pickle (runs code from the file: trusted files only)")
    rnd = sub.add_parser("random", help="deterministic random weights for tests")
    rnd.add_argument("--seed", type=int, default=0)
    rnd.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    rnd.add_argument("output")
    args = parser.parse_args()

    num_classes, score_min, score_max = VARIANTS[args.variant]
    if args.command == "convert":
        tensors = checkpoint_weights(args.checkpoint, num_classes, args.unsafe_pickle)
        source = f"pyiqa 0.1.16 checkpoint {os.path.basename(args.checkpoint)}"
    else:
        tensors = random_weights(args.seed, num_classes)
        source = f"random, seed {args.seed} (tests only: not a real MUSIQ)"
    metadata = {
        "format": "gst-s2s-weights/1",
        "model": "musiq",
        "variant": args.variant,
        "num-classes": str(num_classes),
        "score-min": str(score_min),
        "score-max": str(score_max),
        "longer-side-lengths": "224,384",
        "patch-size": "32",
        "hse-grid": str(GRID),
        "preprocessing": "RGB; v/255*2-1; pyiqa get_multiscale_patches (bicubic A=-0.75 aspect-kept resizes + native)",
        "source": source,
    }
    write_safetensors(args.output, tensors, metadata)
    print(f"wrote {args.output}: {len(tensors)} tensors, {sum(t.size for t in tensors.values())} parameters")


if __name__ == "__main__":
    main()
