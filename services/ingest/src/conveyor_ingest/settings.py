from functools import lru_cache
from pathlib import Path

from pydantic import Field

from conveyor_kernel import ServiceSettings


class IngestSettings(ServiceSettings):
    port: int = 8001
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="largest accepted file part")
    min_rows: int = Field(default=20, ge=1, description="fewer rows cannot be split for training")
    subjects_db: Path | None = Field(default=None, description="the subject vault (raw id -> reference), kept "
                                                                 "apart; default <state>/ingest/subjects.db")
    max_rows: int = Field(default=5_000_000, ge=1, description="most rows a table may have (checked before parsing)")
    max_table_bytes: int = Field(default=1 << 30, ge=1, description="largest decoded size of a Parquet table")


@lru_cache
def get_settings() -> IngestSettings:
    return IngestSettings()
