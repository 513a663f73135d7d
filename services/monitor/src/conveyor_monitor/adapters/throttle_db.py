"""The alarm cooldowns and retrain grants in the monitor's database (SQLite in the state dir, or the platform's
PostgreSQL, schema `monitor`), so that a restart forgets neither (issue 15, finding 8: a restarted monitor
could alarm again at once and exceed its hourly retrain cap).

Times are wall-clock seconds (time.time): a monotonic clock restarts with the process. Every change is one
short transaction; the tables are tiny (a row per alarm key, a row per retrain grant in the last hour).
"""

from sqlalchemy import Column, Engine, Float, Index, MetaData, Table, Text, delete, insert, select

metadata = MetaData()
alarm_fired = Table("alarm_fired", metadata, Column("key", Text, primary_key=True), Column("at", Float, nullable=False))
retrain_granted = Table("retrain_granted", metadata, Column("model", Text, nullable=False),
                        Column("at", Float, nullable=False), Index("retrain_granted_model", "model", "at"))


class ThrottleStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)

    def fired(self) -> dict[str, float]:
        with self._engine.connect() as connection:
            return {key: at for key, at in connection.execute(select(alarm_fired.c.key, alarm_fired.c.at))}

    def fire(self, key: str, at: float) -> None:
        with self._engine.begin() as connection:  # an upsert both dialects speak: delete, then insert
            connection.execute(delete(alarm_fired).where(alarm_fired.c.key == key))
            connection.execute(insert(alarm_fired).values(key=key, at=at))

    def forget(self, keys: list[str]) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(alarm_fired).where(alarm_fired.c.key.in_(keys)))

    def grants(self, since: float) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        with self._engine.begin() as connection:
            connection.execute(delete(retrain_granted).where(retrain_granted.c.at < since))
            rows = connection.execute(select(retrain_granted.c.model, retrain_granted.c.at)
                                      .order_by(retrain_granted.c.at))
            for model, at in rows:
                found.setdefault(model, []).append(at)
        return found

    def grant(self, model: str, at: float) -> None:
        with self._engine.begin() as connection:
            connection.execute(insert(retrain_granted).values(model=model, at=at))

    def revoke(self, model: str, at: float) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(retrain_granted).where(retrain_granted.c.model == model,
                                                             retrain_granted.c.at == at))

    def close(self) -> None:
        """The engine is the label store's too; whoever made it disposes of it."""
