"""Write and read safetensors files with NumPy only (the format is simple:
an 8-byte little-endian header length N, N bytes of JSON
  {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [...],
   "data_offsets": [begin, end]}, ...}
padded with spaces (here to a multiple of 8 bytes), then the tensors' bytes,
little-endian, C order, offsets relative to the end of the header).

The one writer of the project: the model converters, the test-weight
generators and the reader's own tests use it, so the files the tests use are
written exactly like the ones users convert. NumPy has no bfloat16: pass BF16
tensors as (uint16 array of the raw bits, "BF16").
"""
import json
import os
import struct

import numpy as np

DTYPES = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.int16): "I16",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
}


def _tensor_bytes(name, value):
    """(dtype name, shape, little-endian C-order bytes) of one tensor."""
    if isinstance(value, tuple):
        if len(value) != 2 or value[1] != "BF16":
            raise ValueError(f"tensor {name!r}: a tuple must be (uint16 array, 'BF16')")
        arr = np.asarray(value[0])
        if arr.dtype != np.uint16:
            raise TypeError(f"tensor {name!r}: BF16 data must be a uint16 array of raw bits, not {arr.dtype}")
        dtype = "BF16"
    else:
        arr = np.asarray(value)
        dtype = DTYPES.get(np.dtype(arr.dtype).newbyteorder("="))
        if dtype is None:
            raise TypeError(f"tensor {name!r}: dtype {arr.dtype} has no safetensors equivalent here")
    little = arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)
    return dtype, [int(d) for d in arr.shape], np.ascontiguousarray(little).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Writes `tensors` ({name: array or (uint16 array, "BF16")}) and
    `metadata` ({str: str}) to `path`, tensors in the dict's order."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata must map str to str, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        dtype, shape, data = _tensor_bytes(name, value)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)



_NUMPY = {name: dtype for dtype, name in DTYPES.items()}


def read_safetensors(path):
    """Returns (tensors: name -> np.ndarray, metadata: dict). BF16 tensors
    come back as their raw uint16 bits. For tools and tests; the element
    uses the validating C++ reader."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(np.uint16) if info["dtype"] == "BF16" else _NUMPY[info["dtype"]]
        tensors[name] = np.frombuffer(raw[base + begin:base + end], dtype=dtype.newbyteorder("<")).reshape(
            info["shape"])
    return tensors, metadata
