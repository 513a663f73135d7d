"""Issue 15, finding 8: the alarm cooldown and the hourly retrain cap outlive a restart of the monitor."""

from prometheus_client import CollectorRegistry

from conveyor_kernel.database import make_engine, resolve_url
from conveyor_kernel.memory import InMemoryBus
from conveyor_monitor.adapters.throttle_db import ThrottleStore
from conveyor_monitor.cooldown import CooldownGate
from conveyor_monitor.history import EvaluationHistory
from conveyor_monitor.metrics import MonitorMetrics
from conveyor_monitor.policy import RetrainPolicy
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import build_monitor


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _engine(backend, tmp_path):
    return make_engine(resolve_url(backend.database_url, tmp_path, "labels.db"), schema="monitor")


def test_a_cooldown_and_the_grants_of_the_last_hour_survive_a_restart(backend, tmp_path):
    clock = Clock()
    engine = _engine(backend, tmp_path)
    store = ThrottleStore(engine)
    gate, policy = CooldownGate(300, clock, store), RetrainPolicy(60, 2, clock, store)
    assert gate.allow("drift:m") and policy.decide("m") is None
    clock.now += 120
    assert policy.decide("m") is None  # the second of two this hour
    engine.dispose()

    clock.now += 10
    engine = _engine(backend, tmp_path)
    store = ThrottleStore(engine)  # the restarted process
    gate, policy = CooldownGate(300, clock, store), RetrainPolicy(60, 2, clock, store)
    assert not gate.allow("drift:m") and gate.cooling("drift:m")
    assert policy.decide("m") == "cooldown: last retrain request 10 s ago (< 60 s)"
    clock.now += 60
    assert policy.decide("m") == "cap: 2 retrain requests in the last hour (max 2)"
    clock.now += 3600
    assert gate.allow("drift:m") and policy.decide("m") is None  # an hour later both have passed


def test_a_released_grant_and_a_reset_cooldown_stay_released_after_a_restart(backend, tmp_path):
    clock = Clock()
    store = ThrottleStore(_engine(backend, tmp_path))
    gate, policy = CooldownGate(300, clock, store), RetrainPolicy(600, 1, clock, store)
    assert gate.allow("drift:m") and policy.decide("m") is None
    gate.reset_prefix("m")  # a new champion
    policy.release("m")  # the request never reached the broker
    store = ThrottleStore(_engine(backend, tmp_path))
    assert CooldownGate(300, clock, store).allow("drift:m")
    assert RetrainPolicy(600, 1, clock, store).decide("m") is None


def test_the_monitor_as_wired_keeps_its_throttle_in_its_database(backend, tmp_path):
    settings = MonitorSettings(data_dir=tmp_path, **backend.settings)

    def monitor():
        return build_monitor(settings, InMemoryBus().publish, {}, EvaluationHistory(10),
                             MonitorMetrics.create(CollectorRegistry()))

    assert monitor().alerting.gate.allow("drift:m")
    assert not monitor().alerting.gate.allow("drift:m")
