"""The ledger as the service holds it: the signing key loaded, the database opened and verified before
anything is appended, the checkpointer that signs its growth. A component: started first, stopped last.

A ledger that fails verification is not appended to (that would bury the evidence); read-only mode
serves it anyway, so that it can be inspected.
"""

import logging

from conveyor_kernel import ConveyorError, Publisher

from .adapters.ledger_db import Ledger, open_ledger
from .checkpoints import Checkpointer
from .integrity import verify_snapshot
from .keys import load_signer
from .metrics import AuditMetrics
from .note import Signer
from .settings import AuditSettings

logger = logging.getLogger(__name__)


class LedgerCorrupted(ConveyorError):
    """The stored ledger does not verify; appending to it would bury the evidence."""


class LedgerKeeper:
    def __init__(self, settings: AuditSettings, metrics: AuditMetrics, publisher: Publisher | None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.publisher = publisher  # for checkpoints; None when nothing may be published (read-only)
        self._ledger: Ledger | None = None
        self._signer: Signer | None = None
        self._checkpointer: Checkpointer | None = None

    async def start(self) -> None:
        settings = self.settings
        self._signer = load_signer(settings)  # before opening anything: production needs a real key
        ledger = open_ledger(settings.state_dir("audit"), settings.database_url)
        try:
            self._verify(ledger)
        except BaseException:
            ledger.close()
            raise
        self._ledger = ledger
        self._checkpointer = Checkpointer(ledger, self._signer, settings.origin, settings.checkpoint_every,
                                          publisher=self.publisher)

    def _verify(self, ledger: Ledger) -> None:
        report = verify_snapshot(ledger.snapshot(), self.signer.verifier)
        self.metrics.ledger_size.set(report.size)
        if report.ok:
            logger.info("ledger verified: %d entries, root %s", report.size, report.root.hex())
        elif self.settings.read_only:
            logger.error("ledger fails verification, serving read-only: %s", report.problems)
        else:
            raise LedgerCorrupted(
                f"ledger {ledger.path} fails verification ({'; '.join(report.problems[:5])}); "
                "refusing to append. Start with CONVEYOR_READ_ONLY=true to inspect it."
            )

    async def stop(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
            self._checkpointer = None

    def problems(self) -> list[str]:
        return ["ledger"] if self._ledger is None else []

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("the ledger is not open (service not started)")
        return self._ledger

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            raise RuntimeError("the signing key is not loaded (service not started)")
        return self._signer

    @property
    def checkpointer(self) -> Checkpointer:
        if self._checkpointer is None:
            raise RuntimeError("the ledger is not open (service not started)")
        return self._checkpointer
