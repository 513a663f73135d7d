"""Which rows a run may learn from: only those whose subject has valid consent for training.

Valid: the newest record for (subject, training) is `given` and not past its expiry, or there is no record
at all (the dataset's declared basis covers it: ingest records a `given` with every upload, and that record
may simply not have reached the trainer yet). Withdrawn, expired and erased subjects are left out. Rows
without a subject (production feedback, datasets without a subject id column) are always used.

The run's snapshot (ModelTrained.consent) says what the gate saw: a digest over the sorted "ref state" lines
of every subject in the rows read, with counts, so an auditor holding the consent topic can recompute it.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from conveyor.events.v1 import events_pb2 as ev

from .dataset import Table

PURPOSE = "training"
States = Callable[[list[str], str], dict[str, tuple[int, int, int]]]


@dataclass
class ConsentGate:
    states: States
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    seen: dict[str, int] = field(default_factory=dict)  # ref -> the state it was judged by (0: no record)
    included_rows: int = 0
    excluded_rows: int = 0
    as_of_ms: int = 0

    def admit(self, table: Table) -> Table:
        if table.subjects is None:
            return table
        refs = [r for r in dict.fromkeys(table.subjects.tolist()) if r]
        known = self.states(refs, PURPOSE)
        for ref in refs:
            state, expires, recorded = known.get(ref, (0, 0, 0))
            if state == ev.CONSENT_STATE_GIVEN and expires and expires <= self.now_ms:
                state = ev.CONSENT_STATE_EXPIRED
            self.seen[ref] = state
            self.as_of_ms = max(self.as_of_ms, recorded)
        keep = np.array([not r or self.seen[r] in (0, ev.CONSENT_STATE_GIVEN) for r in table.subjects], dtype=bool)
        self.included_rows += int(keep.sum())
        self.excluded_rows += int((~keep).sum())
        return table if keep.all() else table.where(keep)

    @property
    def included(self) -> list[str]:
        return sorted(r for r, s in self.seen.items() if s in (0, ev.CONSENT_STATE_GIVEN))

    def snapshot(self) -> ev.ConsentSnapshot:
        lines = "".join(f"{ref} {state}\n" for ref, state in sorted(self.seen.items()))
        return ev.ConsentSnapshot(
            purpose=PURPOSE, digest=hashlib.sha256(lines.encode()).hexdigest(), subjects=len(self.seen),
            included_rows=self.included_rows, excluded_rows=self.excluded_rows,
            excluded_subjects=len(self.seen) - len(self.included), as_of_ms=self.as_of_ms)
