#!/usr/bin/env python3
"""Writes the sample file that tests/models/test_safetensors.cpp reads back
and checks value by value (see sample_tensors() / SAMPLE_METADATA; keep both
in step with the test), with the project's writer (models/tools/
safetensors_io.py).

    write_safetensors.py OUTPUT
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "tools"))
from safetensors_io import write_safetensors  # noqa: E402


# --- The sample file of the Check test ------------------------------------

SAMPLE_METADATA = {
    "model": "lpips-alex",
    "version": "0.1",
    "preprocessing": "RGB, scaled to [-1,1], NCHW",
    # Written as \u escapes (é, ✓, and U+1F600 as a surrogate pair), \" and \n.
    "note": "caf\u00e9 \u2713 \U0001F600 \"q\"\n",
}


def sample_tensors():
    return {
        # 5 bytes first: everything after it is unaligned in the file.
        "bytes": np.array([0, 1, 127, 128, 255], dtype=np.uint8),
        "features.0.weight": (np.arange(48, dtype=np.float32) * 0.25 - 5.0).reshape(4, 3, 2, 2),
        "features.0.bias": np.array([0.5, -1.0, 3.25, 1e30], dtype=np.float32),
        "half": np.array([[0.0, 1.0, -2.0], [0.5, 65504.0, 2.0 ** -24]], dtype=np.float16),
        "double": np.array([np.pi, -0.0, 1e300], dtype=np.float64),
        "count": np.array([2 ** 40 + 3, -7], dtype=np.int64),
        "i32": np.array([-2147483648, 2147483647], dtype=np.int32),
        "i16": np.array([-32768, 12345], dtype=np.int16),
        "i8": np.array([-128, 127, -1], dtype=np.int8),
        "mask": np.array([True, False, True]),
        "bf16": (np.array([[0x3F80, 0xC000], [0x4049, 0x0000]], dtype=np.uint16), "BF16"),
        "scalar": np.array(42.0, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "lin.\u00e9\U0001F600": np.array([7.0], dtype=np.float32),
    }


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTPUT", file=sys.stderr)
        return 2
    write_safetensors(argv[1], sample_tensors(), SAMPLE_METADATA)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
