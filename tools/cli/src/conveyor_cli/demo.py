"""`conveyor demo`: the whole lifecycle once, narrated from the events themselves."""

import asyncio
from dataclasses import dataclass, field

from rich.console import Console

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import KafkaSettings

from . import scenario
from .narrator import Narrator

console = Console(soft_wrap=True)


@dataclass
class LoopReport:
    phases: dict[str, float] = field(default_factory=dict)
    ledger: dict[str, object] = field(default_factory=dict)
    first_version: int = 0
    retrained_version: int = 0


def _say(elapsed: float, kind: str, text: str) -> None:
    console.print(f"[dim]{elapsed:7.2f}s[/dim] [bold cyan]{kind:<20}[/bold cyan] {text}")


async def run_scenario(
    urls: dict[str, str], kafka: KafkaSettings, window: int = 500, timeout: float = 120.0, quiet: bool = False,
    confirm: int = 2, token: str | None = None,
) -> LoopReport:
    """`window` and `confirm` are the monitor's window size and drift_confirm_windows: the drifted traffic
    fills `confirm` windows (plus some), the monitor's condition for raising an alarm. `token`: the data
    scientist the scenario acts as."""
    client = scenario.Client(urls, token)
    run = await client.demo_run_number()
    model = scenario.MODEL if run == 1 else f"{scenario.MODEL}-run{run}"
    data = scenario.breast_cancer(shuffle_seed=run)
    narrator = Narrator(kafka, (lambda *a: None) if quiet else _say)
    report = LoopReport()
    await narrator.start()
    try:
        if run > 1 and not quiet:
            console.print(f"[yellow]an earlier demo's model exists; this run trains {model}[/yellow]")

        async def seen(event_cls, after=0.0, **fields):
            return await scenario.wait_for(
                f"{event_cls.DESCRIPTOR.name} {fields}",
                lambda: _found(narrator.first(event_cls, after, **fields)), timeout,
            )

        upload = await client.upload(data, scenario.dataset_spec(data, model))
        report.phases["uploaded"] = _now(narrator)
        report.phases["trained"] = await seen(ev.ModelTrained, dataset_id=upload["dataset_id"])
        report.phases["registered"] = await seen(ev.ModelRegistered, model_name=model)
        report.phases["promoted"] = await seen(ev.ModelPromoted, model_name=model)
        report.phases["deployed"] = await seen(ev.ModelDeployed, model_name=model)
        report.first_version = next(
            e.version for _, _, e in narrator.seen if isinstance(e, ev.ModelDeployed) and e.model_name == model
        )

        normal = scenario.traffic(data, window, drift=False, seed=1)
        await scenario.send_traffic(client, model, normal, batch=50, prefix="normal")
        report.phases["predictions served"] = _now(narrator)
        if not quiet:
            console.print(f"[green]served {len(normal)} predictions from undrifted traffic[/green]")

        drifted = scenario.traffic(data, window * confirm + 100, drift=True, seed=2)
        await scenario.send_traffic(client, model, drifted, batch=50, prefix="drifted")
        report.phases["drifted traffic sent"] = _now(narrator)
        report.phases["drift detected"] = await seen(ev.DriftDetected, model_name=model)
        report.phases["retrain requested"] = await seen(ev.RetrainRequested, model_name=model)
        retrained = await seen(ev.ModelTrained, model_name=model, trigger="retrain_requested")
        report.phases["retrained"] = retrained
        report.retrained_version = report.first_version + 1
        report.phases["new version deployed"] = await seen(
            ev.ModelDeployed, model_name=model, version=report.retrained_version
        )

        async def ledger_holds_the_loop():
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


async def _found(value):
    return value


def _now(narrator: Narrator) -> float:
    import time

    return time.monotonic() - narrator.started


def print_report(report: LoopReport, urls: dict[str, str]) -> None:
    console.rule("lifecycle loop")
    previous = 0.0
    for phase, at in report.phases.items():
        console.print(f"  {phase:<24} at {at:7.2f} s   (+{at - previous:5.2f} s)")
        previous = at
    ok = report.ledger.get("ok")
    console.print(f"  ledger: {report.ledger.get('size')} entries, verified={ok}, root {report.ledger.get('root')}")
    console.rule("the platform keeps running")
    for name, url in urls.items():
        where = {"console": "/  (sign in with a role)", "zipkin": "/zipkin/  (traces)",
                 "prometheus": "/graph  (metrics)"}.get(name, "/docs")
        console.print(f"  {name:<10} {url}{where}")
    console.print("  follow the lifecycle: conveyor tail    stop it with: make down")


def run(urls: dict[str, str], kafka: KafkaSettings, window: int, token: str | None = None) -> LoopReport:
    report = asyncio.run(run_scenario(urls, kafka, window=window, token=token))
    print_report(report, urls)
    return report
