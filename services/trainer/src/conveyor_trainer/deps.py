"""FastAPI dependencies of the trainer routes."""

from typing import Annotated

from fastapi import Depends, Request

from .runs import RunHistory


def _runs(request: Request) -> RunHistory:
    return request.app.state.runs


RunsDep = Annotated[RunHistory, Depends(_runs)]
