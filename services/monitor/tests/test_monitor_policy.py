from conveyor_monitor.policy import RetrainPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cooldown_then_hourly_cap_per_model():
    clock = Clock()
    policy = RetrainPolicy(cooldown_seconds=600, max_per_hour=2, clock=clock)
    assert policy.decide("m") is None
    clock.now = 300
    assert policy.decide("m").startswith("cooldown")
    assert policy.decide("other") is None  # per model
    clock.now = 700
    assert policy.decide("m") is None
    clock.now = 1400
    assert policy.decide("m").startswith("cap: 2 retrain requests in the last hour")
    clock.now = 3600  # the first grant (t=0) left the rolling hour
    assert policy.decide("m") is None


def test_a_request_that_never_reached_the_broker_does_not_count():
    policy = RetrainPolicy(cooldown_seconds=600, max_per_hour=1, clock=Clock())
    assert policy.decide("m") is None
    policy.release("m")
    assert policy.decide("m") is None
