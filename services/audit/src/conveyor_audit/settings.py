from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr

from conveyor_kernel import ServiceSettings


class AuditSettings(ServiceSettings):
    port: int = 8006
    read_only: bool = Field(
        default=False,
        description="serve the ledger without consuming; also lets a ledger that fails verification be inspected",
    )
    batch_size: int = Field(default=2000, ge=1, le=10_000, description="most records appended per transaction")
    mode: Literal["dev", "production"] = Field(
        default="dev", description="production refuses to start without CONVEYOR_SIGNING_KEY; dev makes one up",
    )
    signing_key: SecretStr | None = Field(
        default=None, description="C2SP signed-note private key: PRIVATE+KEY+<name>+<key id hex>+<base64(0x01||seed)>",
    )
    retired_keys: list[str] = Field(
        default_factory=list, description="verifier keys (name+key id+base64, as `conveyor audit public-key` prints) "
        "of signing keys this ledger used before a rotation: checkpoints they signed still verify",
    )
    origin: str = Field(default="conveyor.local/audit", description="the log's name: first line of checkpoints")
    checkpoint_every: int = Field(default=1000, ge=1, description="issue a checkpoint at least every N entries")
    checkpoint_seconds: float = Field(default=60.0, gt=0, description="... and at least every T seconds")
    report_schedule: bool = Field(default=True, description="generate last month's report on the 1st")
    report_check_seconds: float = Field(default=300.0, gt=0, description="how often the schedule looks")
    report_fairness_threshold: float | None = Field(
        default=0.2, description="the fairness gap the registry's policy allows (CONVEYOR_MAX_FAIRNESS_GAP there), "
                                 "drawn as the threshold of the training-time fairness series")


@lru_cache
def get_settings() -> AuditSettings:
    return AuditSettings()
