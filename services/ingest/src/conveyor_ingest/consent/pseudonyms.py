"""Replace a table's subject ids by the vault's references, so no stored byte holds a raw id.

The table is written back in its own format; the dataset's id is the hash of these bytes. Values that already
are references (a feedback table built from pseudonymous rows) are kept as they are.
"""

import io
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..adapters.vault import SubjectVault, is_ref


@dataclass(frozen=True)
class Pseudonymized:
    data: bytes
    frame: pd.DataFrame
    rows_per_subject: dict[str, int]  # reference -> rows


def pseudonymize(frame: pd.DataFrame, column: str, fmt: str, vault: SubjectVault) -> Pseudonymized:
    raw = frame[column].map(_text)
    already = raw.map(is_ref)
    mapping = vault.assign(raw[~already].tolist())
    refs = raw.where(already, raw.map(mapping))
    rewritten = frame.copy()
    rewritten[column] = refs
    return Pseudonymized(serialize(rewritten, fmt), rewritten, {str(k): int(v) for k, v in refs.value_counts().items()})


def serialize(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def _text(value: object) -> str:
    """A raw id as the table spelled it: whole numbers read as floats (a column with gaps) lose the '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
