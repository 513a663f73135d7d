"""FastAPI dependencies of the trainer routes."""

from typing import Annotated

from fastapi import Depends, Request

from .intake import NotebookIntake
from .runs import RunHistory


def _runs(request: Request) -> RunHistory:
    return request.app.state.runs


def _intake(request: Request) -> NotebookIntake:
    return request.app.state.intake


RunsDep = Annotated[RunHistory, Depends(_runs)]
IntakeDep = Annotated[NotebookIntake, Depends(_intake)]
