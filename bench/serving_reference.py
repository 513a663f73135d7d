"""The bare reference for bench/serving.py: FastAPI + ONNX Runtime, no validation, no logging, no metrics.

What the simplest possible hand-written server does, so Conveyor's overhead can be read as a ratio.
Run by the benchmark: uvicorn serving_reference:create --factory --app-dir bench (BENCH_REPO=<folder>).
"""

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import orjson
from fastapi import FastAPI, Request, Response


def create() -> FastAPI:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    sessions = {
        path.parent.parent.name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for path in Path(os.environ["BENCH_REPO"]).glob("*/*/model.onnx")
    }
    app = FastAPI()

    @app.get("/v2/models/{name}/ready")
    async def ready(name: str) -> Response:
        return Response(status_code=200 if name in sessions else 404)

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request) -> Response:
        session = sessions[name]
        tensor = orjson.loads(await request.body())["inputs"][0]
        features = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        names = [o.name for o in session.get_outputs()]
        results = session.run(None, {session.get_inputs()[0].name: features})
        outputs = [{"name": n, "shape": list(r.shape), "datatype": "FP32", "data": r.ravel()}
                   for n, r in zip(names, results, strict=True)]
        return Response(orjson.dumps({"model_name": name, "outputs": outputs}, option=orjson.OPT_SERIALIZE_NUMPY),
                        media_type="application/json")

    return app
