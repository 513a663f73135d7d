"""FastAPI dependencies of the monitor routes."""

from typing import Annotated

from fastapi import Depends, Request

from .handlers import Monitor


def _monitor(request: Request) -> Monitor:
    return request.app.state.monitor


MonitorDep = Annotated[Monitor, Depends(_monitor)]
