"""Read-only views for the API; plain functions over a Session."""

from sqlalchemy import func
from sqlmodel import Session, select

from .errors import NotFound
from .schemas import DecisionPublic, ModelPublic, ModelVersionPublic
from .tables import PRODUCTION, Alias, Decision, ModelVersion, RegisteredModel


def list_models(session: Session, name: str | None = None) -> list[ModelPublic]:
    """Every model (or just `name`) with its champion and newest version numbers."""
    latest = (
        select(ModelVersion.model_name, func.max(ModelVersion.version).label("latest"))
        .group_by(ModelVersion.model_name)
        .subquery()
    )
    query = (
        select(RegisteredModel, Alias.version, latest.c.latest)
        .join(Alias, (Alias.model_name == RegisteredModel.name) & (Alias.alias == PRODUCTION), isouter=True)
        .join(latest, latest.c.model_name == RegisteredModel.name, isouter=True)
        .order_by(RegisteredModel.name)
    )
    if name is not None:
        query = query.where(RegisteredModel.name == name)
    return [
        ModelPublic(name=m.name, task=m.task, created_at=m.created_at, champion_version=champion,
                    latest_version=newest)
        for m, champion, newest in session.exec(query).all()
    ]


def get_model(session: Session, name: str) -> ModelPublic:
    found = list_models(session, name)
    if found:
        return found[0]
    raise NotFound(f"model {name!r} is not registered")


def list_versions(session: Session, name: str) -> list[ModelVersionPublic]:
    get_model(session, name)
    rows = session.exec(select(ModelVersion).where(ModelVersion.model_name == name).order_by(ModelVersion.version))
    return [ModelVersionPublic.model_validate(row, from_attributes=True) for row in rows.all()]


def get_version(session: Session, name: str, version: int) -> ModelVersionPublic:
    row = session.exec(
        select(ModelVersion).where(ModelVersion.model_name == name, ModelVersion.version == version)
    ).first()
    if row is None:
        get_model(session, name)  # say which part is missing: the model or only the version
        raise NotFound(f"model {name!r} has no version {version}")
    return ModelVersionPublic.model_validate(row, from_attributes=True)


def list_decisions(session: Session, name: str) -> list[DecisionPublic]:
    get_model(session, name)
    rows = session.exec(select(Decision).where(Decision.model_name == name).order_by(Decision.id))
    return [DecisionPublic.model_validate(row, from_attributes=True) for row in rows.all()]
