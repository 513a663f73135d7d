"""How a serving process starts: it rebuilds its champions from conveyor.registry, read from the beginning
(the kernel's replay: no consumer group, so a process that goes away leaves no lag behind), and reports ready
only once they are loaded.

While the past is read nothing is loaded: each model keeps only its tail, the last promotion and the last
traffic split after it. Once caught up, each tail is applied, and a promotion is announced (ModelDeployed)
only if no serving instance announced that version since the promotion: conveyor.deployments is replayed
beside the registry for that. So a restart republishes nothing for past promotions, and a promotion made
while every instance was down is still announced when it is deployed. conveyor.registry is kept forever
(topics.RETENTION), so a champion promoted long ago survives any restart.
"""

from dataclasses import dataclass, field

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope


@dataclass
class Tail:
    promotion: tuple[ev.ModelPromoted, Envelope] | None = None
    split: ev.TrafficSplitSet | None = None


@dataclass
class Replay:
    active: bool = True  # until the past is read; on the in-memory bus it ends at start
    tails: dict[str, Tail] = field(default_factory=dict)
    _deployed: dict[tuple[str, int], str] = field(default_factory=dict)  # (model, version) -> latest ce_time

    def promoted(self, event: ev.ModelPromoted, envelope: Envelope) -> None:
        self.tails[event.model_name] = Tail((event, envelope))  # a promotion ends any split before it

    def split(self, event: ev.TrafficSplitSet) -> None:
        self.tails.setdefault(event.model_name, Tail()).split = event

    def deployed(self, event: ev.ModelDeployed, envelope: Envelope) -> None:
        key = (event.model_name, event.version)
        self._deployed[key] = max(self._deployed.get(key, ""), envelope.time)

    def announced(self, event: ev.ModelPromoted, envelope: Envelope) -> bool:
        """Some instance said it deploys this version after this promotion was made."""
        return self._deployed.get((event.model_name, event.version), "") >= envelope.time

    def finish(self) -> list[Tail]:
        tails, self.tails, self.active = list(self.tails.values()), {}, False
        self._deployed.clear()
        return tails
