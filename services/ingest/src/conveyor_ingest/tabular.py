"""Turning uploaded bytes into a table: CSV or Parquet, nothing else."""

import io
from pathlib import PurePath

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .problems import FILE, ColumnProblem

FORMATS = {"csv": ".csv", "parquet": ".parquet"}
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def detect_format(filename: str | None, declared: str | None) -> str | None:
    """The format named by the `format` field, else by the file's extension; None when neither says."""
    if declared:
        declared = declared.strip().lower()
        return declared if declared in FORMATS else None
    return _EXTENSIONS.get(PurePath(filename or "").suffix.lower())


def read_table(data: bytes, fmt: str) -> tuple[pd.DataFrame | None, list[ColumnProblem]]:
    """Parse the bytes; on failure return the problem instead of a frame."""
    if not data.strip():
        return None, [ColumnProblem(FILE, "the file is empty; upload a CSV with a header row and data rows")]
    try:
        if fmt == "csv":
            frame = pd.read_csv(io.BytesIO(data))
        else:
            frame = pq.read_table(io.BytesIO(data)).to_pandas()
    except (ValueError, UnicodeDecodeError, pa.ArrowException, pd.errors.ParserError) as exc:
        # pandas' ParserError and EmptyDataError are ValueErrors; the message names the bad line.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [ColumnProblem(FILE, f"could not parse the file as {fmt}: {first_line}")]
    duplicated = _duplicate_headers(data, frame, fmt)
    if duplicated:
        return None, [ColumnProblem(c, "the column name appears more than once in the header; rename one")
                      for c in duplicated]
    return frame, []


def _duplicate_headers(data: bytes, frame: pd.DataFrame, fmt: str) -> list[str]:
    """pandas silently renames a repeated CSV header `x` to `x.1`, so read the header row as plain values."""
    if fmt == "csv":
        names = [str(v) for v in pd.read_csv(io.BytesIO(data), header=None, nrows=1).iloc[0].tolist()]
    else:
        names = [str(c) for c in frame.columns]
    return sorted({n for n in names if names.count(n) > 1})
