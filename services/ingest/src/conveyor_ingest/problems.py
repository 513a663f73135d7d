"""What is wrong with an upload, column by column; "" names the file as a whole."""

from dataclasses import dataclass
from typing import Any

FILE = ""


@dataclass(frozen=True)
class ColumnProblem:
    column: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"column": self.column, "reason": self.reason}


class UploadRejected(Exception):  # noqa: N818 - names the outcome the client sees
    """The upload cannot be accepted; `problems` say why, column by column."""

    reason = "invalid"  # the metric label

    def __init__(self, detail: str, problems: list[ColumnProblem]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems

    def problem(self) -> dict[str, Any]:
        return {"detail": self.detail, "errors": [p.as_dict() for p in self.problems]}


class UploadInvalid(UploadRejected):
    """The file or its spec breaks the contract."""


class UploadTooLarge(UploadRejected):
    """The file is over the size limit."""

    reason = "too_large"
