"""How long the promotion policy's gates take: a 50-rule CEL policy (conditions and messages with numbers, as
the default's are) evaluated over the registry's typed input, against the same 50 conditions and messages
written as plain Python in the same invocation (the baseline: what hand-coded gates would cost).

Both wall time and the thread's CPU time are reported: on a shared 2-core machine with other test runs the
wall-clock tail is the scheduler's (the plain-Python baseline's p99 shows how much), the CPU time is what an
evaluation costs the registry.

Goal (issue 12): p99 <= 5 ms per evaluation, so thousands of decisions a second never wait on governance.
Not a test: it asserts nothing. Usage: .venv/bin/python bench/policy.py [--evaluations 2000] [--rules 50]
"""

import argparse
import gc
import statistics
import time

from conveyor_registry import gate_input
from conveyor_registry.gates import compile_policy
from conveyor_registry.policy import num
from conveyor_registry.policy_doc import parse
from conveyor_registry.tables import ModelVersion, RegisteredModel

KINDS = 5  # five shapes of rule, as a real policy mixes them


def _rule(i: int) -> dict:
    limit = 0.05 + (i % 9) / 100
    shapes = [
        {"expr": f"!has_champion || metric.candidate >= metric.champion - {limit}",
         "pass": f"{{metric.name}} {{metric.candidate}} >= champion {{metric.champion}} - {limit}",
         "fail": f"{{metric.name}} {{metric.candidate}} < champion {{metric.champion}} - {limit}"},
        {"expr": f"fairness.all(g, g.measured && g.demographic_parity_difference <= {limit + 0.1})",
         "pass": f"parity gaps within {limit + 0.1:g} (largest {{fairness_largest}})",
         "fail": f"parity gap over {limit + 0.1:g}: {{fairness.filter(g, g.demographic_parity_difference > "
                 f"{limit + 0.1}).map(g, g.attribute)}}"},
        {"expr": "risk_tier in ['low', 'medium'] || consent.status == 'valid'",
         "pass": "risk {risk_tier}, consent {consent.status}", "fail": "high risk needs valid consent"},
        {"expr": f"lineage.training_rows >= {100 * (i % 7 + 1)}",
         "pass": "{lineage.training_rows} training rows", "fail": "only {lineage.training_rows} training rows"},
        {"expr": "'accuracy' in candidate.metrics && candidate.metrics.accuracy >= 0.5",
         "pass": "accuracy {candidate.metrics.accuracy}", "fail": "accuracy below 0.5 or missing"},
    ]
    return {"name": f"rule_{i:02d}", **shapes[i % KINDS]}


def _python_rules(count: int):
    """The same conditions and messages in plain Python."""
    rules = []
    for i in range(count):
        limit = 0.05 + (i % 9) / 100
        kind = i % KINDS
        if kind == 0:
            rules.append(lambda d, lim=limit: ((not d["has_champion"]) or d["metric"]["candidate"] >=
                                               d["metric"]["champion"] - lim,
                                               f"{d['metric']['name']} {num(d['metric']['candidate'])} vs "
                                               f"{num(d['metric']['champion'])} - {lim}"))
        elif kind == 1:
            rules.append(lambda d, lim=limit: (all(g["measured"] and g["demographic_parity_difference"] <= lim + 0.1
                                                   for g in d["fairness"]), f"largest {num(d['fairness_largest'])}"))
        elif kind == 2:
            rules.append(lambda d: (d["risk_tier"] in ("low", "medium") or d["consent"]["status"] == "valid",
                                    f"risk {d['risk_tier']}, consent {d['consent']['status']}"))
        elif kind == 3:
            rules.append(lambda d, n=100 * (i % 7 + 1): (d["lineage"]["training_rows"] >= n,
                                                         f"{d['lineage']['training_rows']} training rows"))
        else:
            rules.append(lambda d: ("accuracy" in d["candidate"]["metrics"] and
                                    d["candidate"]["metrics"]["accuracy"] >= 0.5,
                                    f"accuracy {num(d['candidate']['metrics'].get('accuracy', 0))}"))
    return rules


def _input(policy) -> dict:
    model = RegisteredModel(name="churn", task="classification")

    def version(n: int, auc: float) -> ModelVersion:
        return ModelVersion(
            model_name="churn", version=n, run_id=f"run-{n}", dataset_id="d" * 64, artifact_uri="file:///m.onnx",
            primary_metric="roc_auc", metrics={"roc_auc": auc, "accuracy": 0.91}, training={"estimator": "lr"},
            fairness=[{"attribute": a, "demographic_parity_difference": 0.04, "equalized_odds_difference": 0.06,
                       "selection_rate": {"x": 0.4, "y": 0.45}} for a in ("sex", "age_band", "region")],
            training_rows=5000)
    return gate_input.build(model, version(2, 0.95), version(1, 0.94), "production", "low", policy)


def _percentiles(seconds: list[float]) -> tuple[float, float, float]:
    ordered = sorted(seconds)
    return (statistics.median(ordered) * 1e3, ordered[int(0.99 * (len(ordered) - 1))] * 1e3, ordered[-1] * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=50)
    args = parser.parse_args()
    policy = parse({"schema": 1, "name": "bench", "aliases": {"production": {"quorum": {
        "low": {"approvals": 0}, "medium": {"approvals": 1}, "high": {"approvals": 2}}}},
        "rules": [_rule(i) for i in range(args.rules)]})
    compiled = compile_policy(policy)
    data = _input(policy)
    python = _python_rules(args.rules)
    for _ in range(50):  # warm both
        compiled.evaluate("production", data)
        [rule(data) for rule in python]
    cel, plain, cel_cpu, plain_cpu = [], [], [], []
    gc.collect()
    for _ in range(args.evaluations):  # interleaved, so both see the same noise
        start, cpu = time.perf_counter(), time.thread_time()
        results = compiled.evaluate("production", data)
        cel.append(time.perf_counter() - start)
        cel_cpu.append(time.thread_time() - cpu)
        start, cpu = time.perf_counter(), time.thread_time()
        [rule(data) for rule in python]
        plain.append(time.perf_counter() - start)
        plain_cpu.append(time.thread_time() - cpu)
    assert len(results) == args.rules
    failed = sum(not r.passed for r in results)
    cel_p50, cel_p99, cel_max = _percentiles(cel)
    py_p50, py_p99, _ = _percentiles(plain)
    cpu_p50, cpu_p99, cpu_max = _percentiles(cel_cpu)
    pyc_p50, pyc_p99, _ = _percentiles(plain_cpu)
    print(f"{args.rules}-rule CEL policy, {args.evaluations} evaluations ({failed} rules fail on this input):")
    print(f"  CEL wall:              p50 {cel_p50:.3f} ms  p99 {cel_p99:.3f} ms  max {cel_max:.3f} ms"
          "  (goal: p99 <= 5 ms)")
    print(f"  CEL CPU:               p50 {cpu_p50:.3f} ms  p99 {cpu_p99:.3f} ms  max {cpu_max:.3f} ms")
    print(f"  plain Python wall:     p50 {py_p50:.3f} ms  p99 {py_p99:.3f} ms")
    print(f"  plain Python CPU:      p50 {pyc_p50:.3f} ms  p99 {pyc_p99:.3f} ms")
    print(f"  ratio CEL / Python:    wall p50 {cel_p50 / py_p50:.1f}x p99 {cel_p99 / py_p99:.1f}x, "
          f"CPU p50 {cpu_p50 / pyc_p50:.1f}x p99 {cpu_p99 / pyc_p99:.1f}x")
    print(f"  evaluations per second (wall p50): {1000 / cel_p50:.0f}")


if __name__ == "__main__":
    main()
