import numpy as np

from conveyor_kernel import Envelope
from conveyor_monitor.cooldown import CooldownGate
from conveyor_monitor.live import LiveBatch
from conveyor_monitor.window import WindowBuffer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_alarm_per_shift_until_the_cooldown_ends():
    clock = FakeClock()
    gate = CooldownGate(300, clock=clock)
    assert gate.allow("m")
    clock.now += 10
    assert not gate.allow("m")
    clock.now += 289
    assert not gate.allow("m")
    assert gate.cooling("m")
    clock.now += 1
    assert gate.allow("m")


def test_cooldown_is_per_model_and_a_new_champion_resets_it():
    gate = CooldownGate(300, clock=FakeClock())
    assert gate.allow("a")
    assert gate.allow("b")
    assert not gate.allow("a")
    gate.reset("a")
    assert gate.allow("a")
    assert not gate.allow("b")


def live(values: list[float], outputs: list[str], attributes: dict | None = None) -> LiveBatch:
    """A read batch of one numeric feature "x"."""
    n = len(values)
    return LiveBatch(size=n, inputs={"x": values}, outputs=outputs, attributes=attributes or {},
                     request_ids=[f"r{i}" for i in range(n)], request_rows=[0] * n, timestamps_ms=[0] * n,
                     labels=outputs, values=[], probabilities=np.zeros((n, 0)))


def test_windows_fill_exactly_and_carry_the_rest():
    buffer = WindowBuffer(size=4)
    first, second = Envelope("t", "s", "m"), Envelope("t", "s", "m")
    assert buffer.add("m", 1, live([1.0] * 3, ["0"] * 3), first) == []
    full = buffer.add("m", 1, live([2.0] * 3, ["1"] * 3), second)
    assert len(full) == 1
    assert full[0].inputs == {"x": [1.0] * 3 + [2.0]} and full[0].outputs == ["0"] * 3 + ["1"]
    assert [e.id for e in full[0].envelopes] == [first.id, second.id]
    assert buffer.pending("m") == 2
    assert buffer.seen("m", second.id) and buffer.seen("m", first.id) and not buffer.seen("m", "other")


def test_window_state_is_plain_json_so_a_table_can_hold_it():
    import json

    state: dict = {}
    buffer = WindowBuffer(size=4, state=state)
    buffer.add("m", 1, live([1.0, float("nan"), 2.0], ["0"] * 3, {"clinic": ["north"] * 3}),
               Envelope("t", "s", "m", traceparent="00-ab-cd-01"))
    # what a changelog replay gives (faust writes table values with orjson: NaN becomes null)
    restored = WindowBuffer(size=4, state=json.loads(json.dumps(state).replace("NaN", "null")))
    [full] = restored.add("m", 1, live([3.0], ["1"]), Envelope("t", "s", "m"))
    assert full.inputs == {"x": [1.0, None, 2.0, 3.0]}
    assert full.attributes == {"clinic": ["north"] * 3 + [""]}  # the last batch sent none
    assert full.envelopes[0].traceparent == "00-ab-cd-01"


def test_a_new_version_starts_a_new_window():
    buffer = WindowBuffer(size=4)
    envelope = Envelope("t", "s", "m")
    buffer.add("m", 1, live([1.0] * 3, ["0"] * 3), envelope)
    assert buffer.add("m", 2, live([1.0] * 3, ["0"] * 3), envelope) == []
    assert buffer.pending("m") == 3
    buffer.reset("m")
    assert buffer.pending("m") == 0
