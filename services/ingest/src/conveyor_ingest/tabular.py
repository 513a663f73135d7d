"""Turning uploaded bytes into a table: CSV or Parquet, nothing else.

Size is checked before parsing, against what the table would take once decoded, not only its bytes: a
545 KB Parquet file holding 40 million rows once took ingest from 185 MiB to 3.2 GiB. Parquet says its row
count and decoded size in its footer; a CSV's rows are bounded by its line count.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import PurePath

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .problems import FILE, ColumnProblem

FORMATS = {"csv": ".csv", "parquet": ".parquet"}
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class TableLimits:
    max_rows: int = 5_000_000
    max_table_bytes: int = 1 << 30  # decoded (Parquet's uncompressed size)


class TableTooLarge(Exception):  # noqa: N818 - names what the client sent
    """The table would be too large once decoded; the message names the number and the setting."""


def detect_format(filename: str | None, declared: str | None) -> str | None:
    """The format named by the `format` field, else by the file's extension; None when neither says."""
    if declared:
        declared = declared.strip().lower()
        return declared if declared in FORMATS else None
    return _EXTENSIONS.get(PurePath(filename or "").suffix.lower())


def read_table(data: bytes, fmt: str, limits: TableLimits = TableLimits()) -> tuple[pd.DataFrame | None,
                                                                                   list[ColumnProblem]]:
    """Parse the bytes; on failure return the problem instead of a frame. Raises TableTooLarge first."""
    if not data.strip():
        return None, [ColumnProblem(FILE, "the file is empty; upload a CSV with a header row and data rows")]
    if fmt == "csv":
        _check_csv_size(data, limits)
        encoding = _encoding_problem(data)
        if encoding is not None:
            return None, [encoding]
    try:
        if fmt == "csv":
            frame = pd.read_csv(io.BytesIO(data))
        else:
            parquet = pq.ParquetFile(io.BytesIO(data))
            _check_parquet_size(parquet.metadata, limits)
            frame = parquet.read().to_pandas()
    except (ValueError, UnicodeDecodeError, pa.ArrowException, pd.errors.ParserError) as exc:
        # pandas' ParserError and EmptyDataError are ValueErrors; the message names the bad line.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [ColumnProblem(FILE, f"could not parse the file as {fmt}: {first_line}")]
    duplicated = _duplicate_headers(data, frame, fmt)
    if duplicated:
        return None, [ColumnProblem(c, "the column name appears more than once in the header; rename one")
                      for c in duplicated]
    return frame, []


def _check_csv_size(data: bytes, limits: TableLimits) -> None:
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    if lines - 1 > limits.max_rows:
        raise TableTooLarge(f"the file has {lines - 1:,} data lines; the limit is {limits.max_rows:,} rows "
                            "(setting max_rows): sample it or split it into several datasets")


def _check_parquet_size(metadata: pq.FileMetaData, limits: TableLimits) -> None:
    if metadata.num_rows > limits.max_rows:
        raise TableTooLarge(f"the file holds {metadata.num_rows:,} rows; the limit is {limits.max_rows:,} rows "
                            "(setting max_rows): sample it or split it into several datasets")
    decoded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if decoded > limits.max_table_bytes:
        raise TableTooLarge(f"the file decodes to {decoded:,} bytes; the limit is {limits.max_table_bytes:,} "
                            "(setting max_table_bytes): drop columns, sample it or split it")


def _encoding_problem(data: bytes) -> ColumnProblem | None:
    """A CSV must be UTF-8; name the column and line of the first byte that is not, and the fix."""
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        position = exc.start
    line_start = data.rfind(b"\n", 0, position) + 1
    line = data.count(b"\n", 0, position) + 1
    header = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8", "replace")]), [])
    field = len(next(csv.reader([data[line_start:position].decode("utf-8", "replace")]), [""])) - 1
    column = header[field] if line > 1 and 0 <= field < len(header) else FILE
    where = "the header" if line == 1 else f"line {line}"
    return ColumnProblem(column, f"byte 0x{data[position]:02x} at byte {position} ({where}) is not UTF-8: save the "
                                 "file as UTF-8 (e.g. 'CSV UTF-8' in a spreadsheet, or iconv -f latin1 -t utf-8)")


def _duplicate_headers(data: bytes, frame: pd.DataFrame, fmt: str) -> list[str]:
    """pandas silently renames a repeated CSV header `x` to `x.1`, so read the header row as plain values."""
    if fmt == "csv":
        names = [str(v) for v in pd.read_csv(io.BytesIO(data), header=None, nrows=1).iloc[0].tolist()]
    else:
        names = [str(c) for c in frame.columns]
    return sorted({n for n in names if names.count(n) > 1})
