from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from pydantic import Field, model_validator

from conveyor_kernel import ServiceSettings

PACKAGE = "conveyor-trainer"


def package_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class TrainerSettings(ServiceSettings):
    port: int = 8002
    parity_tolerance: float = Field(
        default=1e-4, description="max |p_onnx - p_sklearn| allowed on the holdout (classification)"
    )
    regression_parity_tolerance: float = Field(
        default=1e-3,
        description="max |y_onnx - y_sklearn| / max(1, |y_sklearn|) on the holdout (regression): ONNX "
        "computes in float32, so large targets need a relative bound",
    )
    reference_rows: int = Field(default=1000, ge=1, description="training rows kept for drift detection")
    onnx_opset: int = Field(default=21, description="main ONNX opset; skl2onnx and onnxruntime both support it")
    code_version: str = Field(
        default="",
        description="CONVEYOR_CODE_VERSION (e.g. the git sha) is appended to the package version",
    )
    recent_runs: int = Field(default=50, ge=1, description="how many runs GET /runs lists")
    consent_settle_seconds: float = Field(
        default=1.0, ge=0, description="a withdrawal's retrain waits until no withdrawal for the model arrived "
                                       "for this long, so a bulk withdrawal retrains once")

    @model_validator(mode="after")
    def _stamp_code_version(self) -> "TrainerSettings":
        base = f"{PACKAGE}=={package_version()}"
        if not self.code_version.startswith(base):
            self.code_version = f"{base}+{self.code_version}" if self.code_version else base
        return self


@lru_cache
def get_settings() -> TrainerSettings:
    return TrainerSettings()
