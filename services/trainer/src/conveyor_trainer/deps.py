"""FastAPI dependencies of the trainer routes."""

from typing import Annotated

from fastapi import Depends, Request

from .handlers import TrainerPorts
from .intake import NotebookIntake
from .runs import RunHistory


def _runs(request: Request) -> RunHistory:
    return request.app.state.runs


def _intake(request: Request) -> NotebookIntake:
    return request.app.state.intake


def _ports(request: Request) -> TrainerPorts:
    return request.app.state.ports


PortsDep = Annotated[TrainerPorts, Depends(_ports)]
RunsDep = Annotated[RunHistory, Depends(_runs)]
IntakeDep = Annotated[NotebookIntake, Depends(_intake)]
