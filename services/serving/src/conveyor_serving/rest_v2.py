"""OIP v2 over REST, JSON and Triton's binary tensor data extension: body bytes → InferRequest → body bytes.

Binary extension: the `Inference-Header-Content-Length` header gives the length of the JSON part; the rest
of the body holds, in the order of `inputs`, the raw data of each input whose parameters carry
`binary_data_size`. Outputs are sent the same way when their parameters say `binary_data: true`, or when the
request's `parameters.binary_data_output` is true (tritonclient sets it when it names no outputs); the
response then carries the header too. Everything else stays JSON.
"""

from math import prod
from typing import Any

import numpy as np
import orjson

from .adapters.onnx_model import LoadedModel
from .binding import RequestTensor, bind
from .errors import BadRequest
from .inference import Inference, InferRequest, attributes_of, dumps, new_id
from .outputs import answers, wanted_outputs
from .tensors import DATATYPES, datatype_of, from_raw, to_raw

HEADER_LENGTH = "inference-header-content-length"
_NO_BYTES = memoryview(b"")
BINARY_CONTENT_TYPE = "application/octet-stream"
JSON_CONTENT_TYPE = "application/json"


def payload(body: bytes | memoryview) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc


def _header_length(declared: str | None, size: int) -> int | None:
    if declared is None:
        return None
    if not declared.strip().isdigit():
        raise BadRequest(f"Inference-Header-Content-Length {declared!r} is not a byte count; send the length of "
                         "the JSON part of the body")
    length = int(declared)
    if length > size:
        raise BadRequest(f"Inference-Header-Content-Length {length} is larger than the body ({size} bytes)")
    return length


def decode(model: LoadedModel, body: bytes, header_length: str | None, max_rows: int) -> InferRequest:
    """Answer one OIP v2 request's body on `model`; raise BadRequest when the request is at fault."""
    if header_length is None:
        document, binary = payload(body), _NO_BYTES
    else:
        length = _header_length(header_length, len(body))
        view = memoryview(body)
        document, binary = payload(view[:length]), view[length:]
    if type(document) is not dict:
        raise BadRequest('request body must be a JSON object with "inputs"')
    inputs = document.get("inputs")
    if header_length is None and type(inputs) is list and len(inputs) == 1 and type(inputs[0]) is dict \
            and "parameters" not in inputs[0]:
        tensor = inputs[0]  # the common case: one JSON tensor
        tensors = [RequestTensor(tensor.get("name"), tensor.get("datatype"), tensor.get("shape"), tensor.get("data"))]
    else:
        tensors = _tensors(inputs, model, binary, header_length is not None)
    feeds, rows = bind(model, tensors, max_rows)
    parameters, requested = document.get("parameters"), document.get("outputs")
    binary_output = False
    if parameters is not None:
        if type(parameters) is dict:
            binary_output = parameters.get("binary_data_output", False)
            if not isinstance(binary_output, bool):
                raise BadRequest("parameters.binary_data_output must be true or false")
        attributes = attributes_of(parameters, rows)
    else:
        attributes = None
    # None: every output, as JSON (most requests); encode takes a shorter path for it
    outputs = None if not requested and not binary_output else wanted_outputs(requested, model, binary_output)
    return InferRequest(feeds, rows, outputs, new_id(document.get("id")), attributes)


def _tensors(inputs: Any, model: LoadedModel, binary: memoryview, has_header: bool) -> list[RequestTensor]:
    if not isinstance(inputs, list) or not inputs:
        names = [spec.name for spec in model.inputs]
        raise BadRequest(f'"inputs" must be a non-empty list holding the tensor {names[0]!r}' if len(names) == 1
                         else f'"inputs" must be a non-empty list holding the tensors {names}')
    tensors, offset = [], 0
    for item in inputs:
        if not isinstance(item, dict):
            raise BadRequest('every item of "inputs" must be an object with name, shape, datatype, data')
        name, parameters = item.get("name"), item.get("parameters")
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            tensors.append(RequestTensor(name, item.get("datatype"), item.get("shape"), data=item.get("data")))
            continue
        if not has_header:
            raise BadRequest(f"input {name!r} has parameters.binary_data_size but the request has no "
                             "Inference-Header-Content-Length header saying where its binary data starts")
        if type(size) is not int or size < 0:
            raise BadRequest(f"input {name!r}: binary_data_size must be a byte count, got {size!r}")
        if offset + size > len(binary):
            raise BadRequest(f"input {name!r}: binary_data_size {size} runs past the end of the body "
                             f"({len(binary) - offset} bytes of binary data left)")
        datatype, shape = item.get("datatype"), item.get("shape")
        if datatype not in DATATYPES:
            raise BadRequest(f"input {name!r}: unsupported datatype {datatype!r}; use one of {sorted(DATATYPES)}")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise BadRequest(f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}")
        raw = from_raw(binary[offset:offset + size], datatype, prod(shape), str(name))
        tensors.append(RequestTensor(name, datatype, shape, raw=raw))
        offset += size
    if offset != len(binary):
        raise BadRequest(f"the body holds {len(binary) - offset} bytes after the binary inputs' data: "
                         "Inference-Header-Content-Length or a binary_data_size is wrong")
    return tensors


def json_output(name: str, values: np.ndarray) -> dict[str, Any]:
    datatype = datatype_of(values)
    data = values.ravel().tolist() if datatype == "BYTES" else values.ravel()
    return {"name": name, "datatype": datatype, "shape": list(values.shape), "data": data}


def encode(model: LoadedModel, inference: Inference, request: InferRequest) -> tuple[bytes, dict[str, str] | None]:
    """The response body, and the headers the binary extension needs (None for plain JSON)."""
    if request.outputs is None:
        return dumps({"model_name": model.name, "model_version": str(model.version), "id": inference.request_id,
                      "outputs": [json_output(name, values) for name, values in inference.results.items()]}), None
    entries, blobs = [], []
    for answer in answers(model, inference.results, request.outputs):
        entry: dict[str, Any] = {"name": answer.name, "datatype": answer.datatype, "shape": answer.shape}
        if answer.binary:
            blob = to_raw(answer.values)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            values = answer.values
            entry["data"] = values.ravel().tolist() if values.dtype.kind == "O" else values.ravel()
        entries.append(entry)
    header = dumps({"model_name": model.name, "model_version": str(model.version), "id": inference.request_id,
                    "outputs": entries})
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), {"Inference-Header-Content-Length": str(len(header)),
                                        "content-type": BINARY_CONTENT_TYPE}
