"""`conveyor demo`: the whole lifecycle once, narrated from the events themselves.

The story (survey.py): a model learns from the survey's recently married women, then serves women married
longer. The monitor sees the drift, but a retrain on the champion's own data would learn nothing new, so it
waits for labels; the label feed posts the true outcomes of the shifted traffic, the monitor hands them to
ingest as the dataset's next version, and the retrain on it is judged against the champion on the newest of
those rows, which neither model learned from.
"""

import asyncio
import time
from dataclasses import dataclass, field

from google.protobuf.message import Message
from rich.console import Console

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import KafkaSettings

from . import scenario, survey
from .narrator import Narrator, describe

console = Console(soft_wrap=True)
MODEL = "fair"
LABEL_FEED = "survey-label-feed"  # the service account that posts the true outcomes
LABEL_BATCHES = 4  # the label feed posts the outcomes as they become known, in a few batches


@dataclass
class LoopReport:
    model: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    ledger: dict[str, object] = field(default_factory=dict)
    first_version: int = 0
    retrained_version: int = 0
    labels_posted: int = 0
    first: ev.ModelTrained = field(default_factory=ev.ModelTrained)
    retrained: ev.ModelTrained = field(default_factory=ev.ModelTrained)


class ScenarioFailed(RuntimeError):
    pass


def _say(elapsed: float, kind: str, text: str) -> None:
    console.print(f"[dim]{elapsed:7.2f}s[/dim] [bold cyan]{kind:<20}[/bold cyan] {text}")


async def run_scenario(
    urls: dict[str, str], kafka: KafkaSettings, window: int = 500, timeout: float = 120.0, quiet: bool = False,
    confirm: int = 2, token: str | None = None, label_token: str | None = None,
) -> LoopReport:
    """`window` and `confirm` are the monitor's window size and drift_confirm_windows: the drifted traffic
    fills `confirm` windows (plus some), the monitor's condition for raising an alarm. `token`: the data
    scientist the scenario acts as; `label_token`: the label feed's service account."""
    client = scenario.Client(urls, token, label_token)
    names = await client.model_names()
    run = 1 + sum(1 for n in names if n == MODEL or n.startswith(f"{MODEL}-run"))
    model = MODEL if run == 1 else f"{MODEL}-run{run}"
    say = (lambda *a: None) if quiet else _say
    narrator = Narrator(kafka, say)
    report = LoopReport(model=model)
    people = survey.populations(shuffle_seed=run)
    shifted_rows = window * confirm + 100
    await narrator.start()
    try:
        if run > 1 and not quiet:
            console.print(f"[yellow]an earlier demo's model exists; this run trains {model}[/yellow]")

        async def seen(event_cls: type[Message], **fields: object) -> tuple[float, Message]:
            return await scenario.wait_for(f"{event_cls.DESCRIPTOR.name} {fields}",
                                           lambda: _found(narrator.first_event(event_cls, **fields)), timeout)

        async def outcome(wanted: type[Message], failed: type[Message], **fields: object) -> tuple[float, Message]:
            """The event, or its failure (matched on the fields it has): a refusal ends the run with its reason."""
            shared = {k: v for k, v in fields.items() if k in failed.DESCRIPTOR.fields_by_name}
            at, event = await scenario.wait_for(
                f"{wanted.DESCRIPTOR.name} or {failed.DESCRIPTOR.name} {fields}",
                lambda: _found(narrator.first_event(wanted, **fields) or narrator.first_event(failed, **shared)),
                timeout)
            if isinstance(event, failed):
                raise ScenarioFailed(f"{model}: {describe(event)}")
            return at, event

        spec = survey.dataset_spec(model, min_labels=shifted_rows)
        upload = await client.upload(people.trained, spec, "fair_recently_married.csv")
        report.phases["uploaded"] = _now(narrator)
        report.phases["trained"], report.first = await outcome(ev.ModelTrained, ev.ModelTrainingFailed,
                                                                dataset_id=upload["dataset_id"])
        report.phases["registered"], _ = await seen(ev.ModelRegistered, model_name=model)
        report.phases["promoted"], _ = await outcome(ev.ModelPromoted, ev.PromotionDeclined, model_name=model)
        report.phases["deployed"], deployed = await seen(ev.ModelDeployed, model_name=model)
        report.first_version = deployed.version

        normal = scenario.traffic(people.trained, window, seed=1)
        await scenario.send_traffic(client, model, normal, survey.TARGET, batch=50, prefix=f"{model}-usual")
        report.phases["predictions served"] = _now(narrator)
        if not quiet:
            console.print(f"[green]served {len(normal)} predictions to the population the model learned from[/green]")

        shifted = scenario.traffic(people.shifted, shifted_rows, seed=2)
        served = await scenario.send_traffic(client, model, shifted, survey.TARGET, batch=50,
                                             prefix=f"{model}-shifted")
        report.phases["shifted traffic sent"] = _now(narrator)
        if not quiet:
            console.print(f"[green]served {len(shifted)} predictions to women married {survey.MARRIED_YEARS} years "
                          "or more: a population the model never saw[/green]")
        report.phases["drift detected"], _ = await seen(ev.DriftDetected, model_name=model)
        report.phases["retrain deferred"], _ = await seen(ev.RetrainDeferred, model_name=model)

        report.phases["labels arriving"] = _now(narrator)
        size = -(-len(served) // LABEL_BATCHES)
        for start in range(0, len(served), size):
            batch = served[start:start + size]
            # said before the POST: the one that completes the count publishes FeedbackCollected before it answers
            say(_now(narrator), "labels posted", f"{len(batch)} true outcomes from the label feed (a service "
                                                 f"account): {start + len(batch)} of {len(served)} labelled")
            report.labels_posted += await scenario.post_labels(client, batch, timeout)
        report.phases["feedback collected"], _ = await seen(ev.FeedbackCollected, model_name=model)
        report.phases["feedback version arrived"], _ = await seen(ev.DatasetArrived, name=model, version=2)
        report.phases["retrained"], report.retrained = await outcome(
            ev.ModelTrained, ev.ModelTrainingFailed, model_name=model, trigger="production_feedback")
        report.retrained_version = report.first_version + 1
        report.phases["new version promoted"], _ = await outcome(ev.ModelPromoted, ev.PromotionDeclined,
                                                                 model_name=model, version=report.retrained_version)
        report.phases["new version deployed"], _ = await seen(ev.ModelDeployed, model_name=model,
                                                              version=report.retrained_version)

        async def ledger_holds_the_loop() -> bool | None:
            # the new deployment is the last event of the loop: once the ledger holds it, it holds the loop
            deployments = await client.ledger(type="conveyor.events.v1.ModelDeployed", subject=model)
            return len(deployments) >= 2 or None

        await scenario.wait_for("the ledger to hold the loop", ledger_holds_the_loop, timeout)
        report.ledger = await client.ledger_verify()
        report.phases["ledger verified"] = _now(narrator)
    finally:
        await narrator.stop()
        await client.close()
    return report


async def _found(value: object) -> object:
    return value


def _now(narrator: Narrator) -> float:
    return time.monotonic() - narrator.started


def print_report(report: LoopReport, urls: dict[str, str]) -> None:
    console.rule("lifecycle loop")
    previous = 0.0
    for phase, at in report.phases.items():
        console.print(f"  {phase:<26} at {at:7.2f} s   (+{at - previous:5.2f} s)")
        previous = at
    comparison = report.retrained.comparison
    metric = report.retrained.training.primary_metric
    console.print(f"  learned: on {comparison.description}, {metric} of v{report.first_version} "
                  f"{comparison.champion_metrics.get(metric, float('nan')):.3f}, of v{report.retrained_version} "
                  f"{comparison.challenger_metrics.get(metric, float('nan')):.3f}")
    ok = report.ledger.get("ok")
    console.print(f"  ledger: {report.ledger.get('size')} entries, verified={ok}, root {report.ledger.get('root')}")
    console.rule("the platform keeps running")
    for name, url in urls.items():
        where = {"console": "/  (sign in with a role)", "zipkin": "/zipkin/  (traces)",
                 "prometheus": "/graph  (metrics)"}.get(name, "/docs")
        console.print(f"  {name:<10} {url}{where}")
    console.print("  follow the lifecycle: conveyor tail    stop it with: make down")


def run(urls: dict[str, str], kafka: KafkaSettings, window: int, token: str | None = None,
        label_token: str | None = None) -> LoopReport:
    report = asyncio.run(run_scenario(urls, kafka, window=window, token=token, label_token=label_token))
    print_report(report, urls)
    return report
