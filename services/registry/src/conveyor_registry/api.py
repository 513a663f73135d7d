"""REST routes: parse, call the registry, map its errors to HTTP. Nothing else lives here."""

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from conveyor_kernel import TransientError, tracer

from . import queries, traffic
from .schemas import ChangeRequest, DecisionPublic, ModelPublic, ModelVersionPublic, TrafficPublic, TrafficRequest
from .service import Conflict, NotFound, Registry

ModelName = Annotated[str, Path(min_length=1, max_length=200, description="registered model name")]
T = TypeVar("T")
Version = Annotated[int, Path(ge=1, description="version number, 1 and up")]


def build_router(registry: Registry) -> APIRouter:
    router = APIRouter(prefix="/models", tags=["registry"])

    def session() -> Iterator[Session]:
        with Session(registry.engine) as s:
            yield s

    Db = Annotated[Session, Depends(session)]

    def read(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("", response_model=list[ModelPublic])
    def list_models(db: Db) -> list[ModelPublic]:
        return queries.list_models(db)

    @router.get("/{name}", response_model=ModelPublic)
    def get_model(name: ModelName, db: Db) -> ModelPublic:
        return read(lambda: queries.get_model(db, name))

    @router.get("/{name}/versions", response_model=list[ModelVersionPublic])
    def list_versions(name: ModelName, db: Db) -> list[ModelVersionPublic]:
        return read(lambda: queries.list_versions(db, name))

    @router.get("/{name}/versions/{version}", response_model=ModelVersionPublic)
    def get_version(name: ModelName, version: Version, db: Db) -> ModelVersionPublic:
        return read(lambda: queries.get_version(db, name, version))

    @router.get("/{name}/decisions", response_model=list[DecisionPublic])
    def list_decisions(name: ModelName, db: Db) -> list[DecisionPublic]:
        return read(lambda: queries.list_decisions(db, name))

    @router.post("/{name}/versions/{version}/promote", response_model=DecisionPublic)
    async def promote(name: ModelName, version: Version, body: ChangeRequest) -> DecisionPublic:
        with tracer.start_as_current_span("manual promote", attributes={"model": name, "version": version}):
            return await _change(lambda: registry.promote(name, version, body.user, body.reason))

    @router.post("/{name}/rollback", response_model=DecisionPublic)
    async def rollback(name: ModelName, body: ChangeRequest) -> DecisionPublic:
        with tracer.start_as_current_span("rollback", attributes={"model": name}):
            return await _change(lambda: registry.rollback(name, body.user, body.reason))

    @router.post("/{name}/traffic", response_model=TrafficPublic)
    async def set_traffic(name: ModelName, body: TrafficRequest) -> TrafficPublic:
        """Canary or shadow: split traffic between the champion and one candidate version."""
        with tracer.start_as_current_span("set traffic split", attributes={"model": name, "mode": body.mode}):
            event = await _split(lambda: traffic.set_split(registry, name, body.mode, body.version, body.weight,
                                                           body.user, body.reason))
        return _traffic(event)

    @router.post("/{name}/traffic/rollback", response_model=TrafficPublic)
    async def rollback_traffic(name: ModelName, body: ChangeRequest) -> TrafficPublic:
        """End the split: the champion answers everything again."""
        with tracer.start_as_current_span("rollback traffic split", attributes={"model": name}):
            return _traffic(await _split(lambda: traffic.clear_split(registry, name, body.user, body.reason)))

    return router


def _traffic(event) -> TrafficPublic:  # type: ignore[no-untyped-def]
    return TrafficPublic(model_name=event.model_name, mode=event.mode or "none",
                         champion_version=event.champion_version,
                         candidate_version=event.candidate_version or None, canary_weight=event.canary_weight)


async def _split(operation: Callable):  # type: ignore[no-untyped-def, type-arg]
    try:
        return await operation()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except TransientError as exc:
        raise HTTPException(503, f"change not made, try again: {exc}") from exc


async def _change(operation: Callable) -> DecisionPublic:  # type: ignore[type-arg]
    try:
        decision = await operation()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except (TransientError, OperationalError) as exc:
        # nothing was committed: the change is safe to ask for again
        raise HTTPException(503, f"change not made, try again: {exc}") from exc
    return DecisionPublic.model_validate(decision, from_attributes=True)
