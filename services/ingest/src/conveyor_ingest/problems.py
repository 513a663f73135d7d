"""What is wrong with an upload, column by column; "" names the file as a whole."""

from dataclasses import dataclass

FILE = ""


@dataclass(frozen=True)
class ColumnProblem:
    column: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"column": self.column, "reason": self.reason}


class UploadRejected(Exception):  # noqa: N818 - names the outcome the client sees
    """The upload cannot be accepted; `status` is the HTTP status that says why."""

    def __init__(self, detail: str, problems: list[ColumnProblem], status: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems
        self.status = status
