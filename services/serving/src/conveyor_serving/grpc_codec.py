"""OIP v2 over gRPC: ModelInferRequest → InferRequest, and the answer → ModelInferResponse.

Inputs come as `raw_input_contents` (one entry per input, the raw form of tensors.py: what tritonclient
sends) or as typed `contents` (FP16 has no typed field, so it must be raw). The response mirrors the request:
raw contents for a raw request (or when an output is FP16), typed contents otherwise.
Per-row attributes for monitoring ride in the request parameter `attributes`, a string holding the same
JSON object as REST's `parameters.attributes`: InferParameter has no list type.
"""

from math import prod
from typing import Any

import numpy as np
import orjson

from .adapters.onnx_model import LoadedModel
from .binding import RequestTensor, bind
from .errors import BadRequest
from .inference import Inference, InferRequest, attributes_of, new_id
from .oip import grpc_predict_v2_pb2 as pb
from .outputs import Wanted, answers, check_known
from .tensors import DATATYPES, DTYPES, from_raw, to_raw

_TYPED = {  # datatype -> the InferTensorContents field that carries it
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def decode(model: LoadedModel, message: Any, max_rows: int) -> InferRequest:
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise BadRequest(f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs; "
                         "send one per input, in the order of inputs")
    tensors = []
    for i, tensor in enumerate(message.inputs):
        name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
        if datatype not in DATATYPES:
            raise BadRequest(f"input {name!r}: unsupported datatype {datatype!r}; use one of {sorted(DATATYPES)}")
        if any(d < 0 for d in shape):
            raise BadRequest(f"input {name!r}: shape must hold non-negative sizes, got {shape}")
        if raw:
            if tensor.HasField("contents"):
                raise BadRequest(f"input {name!r} has contents, but the request uses raw_input_contents: "
                                 "send every input one way")
            values = from_raw(raw[i], datatype, prod(shape), name)
        else:
            values = _typed(tensor, datatype, name)
        tensors.append(RequestTensor(name, datatype, shape, raw=values))
    feeds, rows = bind(model, tensors, max_rows)
    outputs = None
    if message.outputs:
        outputs = [Wanted(o.name, classes=_classes(o)) for o in message.outputs]
        check_known(outputs, model)
    return InferRequest(feeds, rows, outputs, new_id(message.id), _attributes(message.parameters, rows))


def _typed(tensor: Any, datatype: str, name: str) -> np.ndarray:
    field = _TYPED.get(datatype)
    if field is None:
        raise BadRequest(f"input {name!r}: {datatype} has no typed contents field; send it in raw_input_contents")
    values = getattr(tensor.contents, field)
    if datatype == "BYTES":
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out
    return np.asarray(values, dtype=DTYPES[datatype])


def _classes(output: Any) -> int:
    parameter = output.parameters.get("classification")
    if parameter is None:
        return 0
    if parameter.WhichOneof("parameter_choice") != "int64_param" or parameter.int64_param < 0:
        raise BadRequest(f"output {output.name!r}: parameter classification must be a non-negative int64 (top k)")
    return parameter.int64_param


def _attributes(parameters: Any, rows: int) -> dict[str, list[str]] | None:
    parameter = parameters.get("attributes")
    if parameter is None:
        return None
    if parameter.WhichOneof("parameter_choice") != "string_param":
        raise BadRequest('parameter attributes must be a string holding {"<attribute>": [one value per row]}')
    try:
        document = orjson.loads(parameter.string_param)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"parameter attributes is not valid JSON: {exc}") from exc
    return attributes_of({"attributes": document}, rows)


def encode(model: LoadedModel, inference: Inference, request: InferRequest, raw: bool) -> Any:
    wanted = request.outputs if request.outputs is not None else [Wanted(n) for n in model.output_names]
    sent = answers(model, inference.results, wanted)
    raw = raw or any(answer.datatype == "FP16" for answer in sent)  # FP16 has no typed field
    response = pb.ModelInferResponse(model_name=model.name, model_version=str(model.version),
                                     id=inference.request_id)
    for answer in sent:
        output = response.outputs.add(name=answer.name, datatype=answer.datatype, shape=answer.shape)
        if raw:
            response.raw_output_contents.append(to_raw(answer.values))
        elif answer.datatype == "BYTES":
            output.contents.bytes_contents.extend(
                v if isinstance(v, bytes) else str(v).encode() for v in answer.values.ravel().tolist())
        else:
            getattr(output.contents, _TYPED[answer.datatype]).extend(answer.values.ravel().tolist())
    return response
