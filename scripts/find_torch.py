"""Print the directory of the installed torch package (LibTorch lives inside it).

Uses importlib's finder, not `import torch`, so it works where torch's CUDA
libraries cannot be loaded (a build machine without a GPU driver).
"""
import importlib.util
import pathlib
import sys

spec = importlib.util.find_spec("torch")
if spec is None or not spec.submodule_search_locations:
    sys.exit("the torch Python package is not installed (pip install -r scripts/requirements.txt)")
root = pathlib.Path(list(spec.submodule_search_locations)[0])
if not (root / "include" / "torch").is_dir() or not (root / "lib").is_dir():
    sys.exit(f"{root} has no LibTorch headers or libraries")
print(root)
