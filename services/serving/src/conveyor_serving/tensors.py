"""Open Inference Protocol datatypes: their numpy dtypes, the ONNX types behind them, and the raw byte form.

Raw form (Triton's binary tensor extension on REST, `raw_input_contents`/`raw_output_contents` on gRPC): the
flattened row-major elements, little-endian, no padding; a BYTES element is a 4-byte little-endian length
followed by that many bytes.
"""

import struct

import numpy as np

from .errors import BadRequest

DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
DATATYPES = frozenset(DTYPES)
NUMERIC = frozenset(DATATYPES - {"BOOL", "BYTES"})

ONNX_TO_OIP = {
    "tensor(bool)": "BOOL", "tensor(string)": "BYTES",
    "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32", "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8", "tensor(int16)": "INT16", "tensor(int32)": "INT32", "tensor(int64)": "INT64",
    "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
}
_BY_DTYPE = {dtype: name for name, dtype in DTYPES.items() if name != "BYTES"}
_LENGTH = struct.Struct("<I")


def datatype_of(values: np.ndarray) -> str:
    """The OIP datatype of an array (strings and bytes are BYTES)."""
    found = _BY_DTYPE.get(values.dtype)  # ONNX Runtime's arrays are native, little-endian here
    return found if found is not None else "BYTES"


def from_raw(buffer: bytes | memoryview, datatype: str, count: int, name: str) -> np.ndarray:
    """The `count` elements of one tensor in raw form, flat; raise BadRequest naming the input when they do not fit."""
    if datatype == "BYTES":
        return _bytes_elements(memoryview(buffer), count, name)
    dtype = DTYPES[datatype]
    if len(buffer) != count * dtype.itemsize:
        raise BadRequest(f"input {name!r}: {len(buffer)} bytes of binary data, but {count} {datatype} elements "
                         f"need {count * dtype.itemsize}")
    return np.frombuffer(buffer, dtype=dtype)


def _bytes_elements(view: memoryview, count: int, name: str) -> np.ndarray:
    out = np.empty(count, dtype=object)
    offset, size = 0, len(view)
    for i in range(count):
        if offset + 4 > size:
            raise BadRequest(f"input {name!r}: BYTES data ends after {i} of {count} elements; each element is a "
                             "4-byte little-endian length and then that many bytes")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + length > size:
            raise BadRequest(f"input {name!r}: BYTES element {i} declares {length} bytes but only "
                             f"{size - offset} remain")
        out[i] = bytes(view[offset:offset + length])
        offset += length
    if offset != size:
        raise BadRequest(f"input {name!r}: {size - offset} bytes left over after {count} BYTES elements")
    return out


def to_raw(values: np.ndarray) -> bytes:
    """An array in raw form (strings are sent as their UTF-8 bytes)."""
    if values.dtype.kind in "OUS":
        parts = []
        for item in values.ravel().tolist():
            data = item if isinstance(item, bytes) else str(item).encode()
            parts.append(_LENGTH.pack(len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(values).tobytes()


def texts(values: np.ndarray, name: str) -> np.ndarray:
    """BYTES elements as str, which ONNX Runtime's string tensors take; raise BadRequest if one is not UTF-8."""
    out = np.empty(values.shape, dtype=object)
    flat, target = values.ravel(), out.ravel()
    for i, item in enumerate(flat.tolist()):
        if isinstance(item, bytes):
            try:
                item = item.decode()
            except UnicodeDecodeError as exc:
                raise BadRequest(f"input {name!r}: BYTES element {i} is not UTF-8 text: {exc}") from exc
        target[i] = item
    return out
