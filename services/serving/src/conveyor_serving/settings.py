from functools import lru_cache
from pathlib import Path

from pydantic import Field

from conveyor_kernel import ServiceSettings


class ServingSettings(ServiceSettings):
    port: int = 8004
    grpc_port: int = Field(default=8104, ge=0, description="OIP v2 gRPC port (0: any free port)")
    grpc_enabled: bool = Field(default=True, description="serve OIP v2 over gRPC beside REST")
    grpc_threads: int = Field(default=4, ge=1, description="threads running gRPC calls in each worker")
    instance: str = Field(default="", description="name of this serving process; generated when empty")
    # 1 here: inside the platform each service is one process and the lifecycle story has one ModelDeployed per
    # promotion. `conveyor serving` (standalone, benchmarks) defaults to the core count instead.
    workers: int = Field(default=1, ge=1, description="worker processes on the one port (ONNX Runtime on one "
                         "thread each); every worker consumes promotions and publishes its own ModelDeployed")
    max_batch_rows: int = Field(default=10_000, ge=1, description="most rows one infer request may carry")
    offload_bytes: int = Field(
        default=64 * 1024, ge=0, description="infer bodies larger than this are parsed and run off the event loop"
    )
    log_buffer_size: int = Field(default=100_000, ge=1, description="predictions held before new ones are dropped")
    log_batch_size: int = Field(default=500, ge=1, description="predictions per PredictionsLogged event")
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1, description="largest infer message: REST bodies over it are refused with "
        "413 before parsing, gRPC messages with RESOURCE_EXHAUSTED"
    )
    model_repository: Path | None = Field(
        default=None, description="serve every DIR/<model>/<version>/model.onnx found here at startup"
    )
    kafka_enabled: bool = Field(
        default=True, description="consume promotions and log predictions on Kafka; off = standalone serving"
    )
    api_keys: list[str] = Field(
        default_factory=list, description="when set, inference routes need 'Authorization: Bearer <key>' "
        "or 'X-API-Key: <key>' with one of these keys"
    )
    trace_sample_ratio: float = Field(
        default=0.01, ge=0, le=1, description="share of infer requests without a traceparent that are traced"
    )
    log_flush_interval: float = Field(default=0.5, gt=0, description="seconds between prediction-log flushes")
    repository_decisions_file: Path | None = Field(
        default=None, description="set by the supervisor of several workers: where load/unload decisions are "
        "shared so every worker follows a call that reached one of them"
    )


@lru_cache
def get_settings() -> ServingSettings:
    return ServingSettings()
