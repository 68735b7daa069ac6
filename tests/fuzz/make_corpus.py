#!/usr/bin/env python3
"""Writes the seed corpus of the safetensors fuzzer (tests/fuzz/corpus/safetensors).

The files are committed; this script documents them and rewrites them:
    python3 tests/fuzz/make_corpus.py [OUTDIR]
valid-*: well-formed files (written by tests/models/write_safetensors.py);
bad-*:   one defect each, as the reader's Check test names them.
All are tiny: the fuzzer mutates them, size only slows it down.
"""
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
from write_safetensors import write_safetensors  # noqa: E402


def raw(header, data=b"", length=None):
    h = header.encode("utf-8") if isinstance(header, str) else header
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def t(dtype, shape, begin, end):
    return f'{{"dtype":"{dtype}","shape":{shape},"data_offsets":[{begin},{end}]}}'


BAD = {
    "bad-empty": b"",
    "bad-7-bytes": b"\x02\x00\x00\x00\x00\x00\x00",
    "bad-length-huge": raw("{}", length=1 << 63),
    "bad-length-past-file": raw("{}", length=40),
    "bad-not-json": raw("safetensors"),
    "bad-array": raw("[]"),
    "bad-trailing": raw("{}}"),
    "bad-dtype": raw('{"w":' + t("F8", "[2]", 0, 2) + "}", b"\0\0"),
    "bad-negative-shape": raw('{"w":' + t("F32", "[-2]", 0, 8) + "}", bytes(8)),
    "bad-float-shape": raw('{"w":' + t("F32", "[2.0]", 0, 8) + "}", bytes(8)),
    "bad-shape-overflow": raw('{"w":' + t("U8", "[4294967296,4294967296]", 0, 8) + "}", bytes(8)),
    "bad-offsets-reversed": raw('{"w":' + t("F32", "[2]", 8, 0) + "}", bytes(8)),
    "bad-offsets-past-end": raw('{"w":' + t("F32", "[2]", 4, 12) + "}", bytes(8)),
    "bad-size-mismatch": raw('{"w":' + t("F32", "[3]", 0, 8) + "}", bytes(8)),
    "bad-overlap": raw('{"a":' + t("F32", "[2]", 0, 8) + ',"b":' + t("F32", "[2]", 4, 12) + "}", bytes(12)),
    "bad-duplicate": raw('{"a":' + t("U8", "[1]", 0, 1) + ',"a":' + t("U8", "[1]", 1, 2) + "}", bytes(2)),
    "bad-metadata-number": raw('{"__metadata__":{"version":1}}'),
    "bad-unknown-key": raw('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":0}}', b"\0"),
    "bad-deep": raw('{"__metadata__":' + "[" * 80 + "]" * 80 + "}"),
    "bad-escape": raw('{"__metadata__":{"a":"\\q"}}'),
    "bad-surrogate": raw('{"__metadata__":{"a":"\\uD83D"}}'),
    "bad-utf8": raw(b'{"\xed\xa0\x80":' + t("U8", "[1]", 0, 1).encode() + b"}", b"\0"),
    "bad-truncated-data": raw('{"w":' + t("F32", "[4]", 0, 16) + "}", bytes(13)),
    # Headers that end (with the file) inside a token: reads past the end
    # of the buffer would show here.
    "bad-ends-in-string": raw('{"__metadata__":{"a":"abc'),
    "bad-ends-in-utf8": raw(b'{"caf\xc3'),
    "bad-ends-in-escape": raw('{"__metadata__":{"a":"\\u12'),
    "bad-ends-in-number": raw('{"w":{"dtype":"F32","shape":[12'),
    "bad-ends-in-literal": raw('{"__metadata__":{"a":tr'),
}


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join(HERE, "corpus", "safetensors")
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "valid-lpips-like"),
                      {"features.0.weight": (np.arange(24, dtype=np.float32) / 8 - 1).reshape(2, 3, 2, 2),
                       "features.0.bias": np.array([0.5, -0.5], dtype=np.float32),
                       "lin0.model.1.weight": np.ones((1, 2, 1, 1), dtype=np.float32)},
                      {"model": "lpips-alex", "version": "0.1", "preprocessing": "RGB [-1,1] NCHW"})
    write_safetensors(os.path.join(out, "valid-all-dtypes"),
                      {"f64": np.array([1.0]), "f32": np.array([2.0], dtype=np.float32),
                       "f16": np.array([3.0], dtype=np.float16),
                       "bf16": (np.array([0x3F80], dtype=np.uint16), "BF16"),
                       "i64": np.array([-4]), "i32": np.array([5], dtype=np.int32),
                       "i16": np.array([-6], dtype=np.int16), "i8": np.array([7], dtype=np.int8),
                       "u8": np.array([8], dtype=np.uint8), "bool": np.array([True])})
    write_safetensors(os.path.join(out, "valid-edge"),
                      {"scalar": np.array(1.5, dtype=np.float32), "empty": np.zeros((0, 4), dtype=np.float16),
                       "caf\u00e9\U0001F600 \"q\"\n": np.array([1, 2, 3], dtype=np.uint8)},
                      {"note": "\u2713 \\ \t"})
    with open(os.path.join(out, "valid-empty"), "wb") as f:
        f.write(raw("{}      "))
    for name, data in BAD.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
