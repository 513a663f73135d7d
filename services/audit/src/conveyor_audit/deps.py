"""FastAPI dependencies of the audit routes."""

from typing import Annotated

from fastapi import Depends, Request

from .adapters.ledger_db import Ledger
from .keeper import LedgerKeeper
from .note import Signer
from .report_desk import ReportDesk
from .report_entries import ReportEntries


def _keeper(request: Request) -> LedgerKeeper:
    return request.app.state.keeper


def _ledger(request: Request) -> Ledger:
    return _keeper(request).ledger


def _signer(request: Request) -> Signer:
    return _keeper(request).signer


def _report_entries(request: Request) -> ReportEntries:
    return request.app.state.report_entries


KeeperDep = Annotated[LedgerKeeper, Depends(_keeper)]
LedgerDep = Annotated[Ledger, Depends(_ledger)]
SignerDep = Annotated[Signer, Depends(_signer)]
ReportEntriesDep = Annotated[ReportEntries, Depends(_report_entries)]


def _desk(request: Request) -> ReportDesk:
    return request.app.state.desk


DeskDep = Annotated[ReportDesk, Depends(_desk)]
