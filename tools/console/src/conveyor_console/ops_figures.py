"""The figures an SRE reads first, per process: request rate, p99 latency, error rate, consumer lag.

From Prometheus when the platform runs one (PromQL over the last minutes, per scrape job); without it, from one
read of each service's /metrics (totals since the process started, and no rate). REST routes are counted by the
kernel's conveyor_http_* series; serving's infer path by its own conveyor_serving_* series.
"""

from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

WINDOW = "5m"  # what an SRE dashboard shows by default: long enough for a quiet platform
QUERIES = {
    "rate": f"sum by (job) (rate(conveyor_http_requests_total[{WINDOW}]))",
    "rate_infer": f"sum by (job) (rate(conveyor_serving_request_seconds_count[{WINDOW}]))",
    "p99": "histogram_quantile(0.99, sum by (job, le) "
           f"(rate(conveyor_http_request_duration_seconds_bucket[{WINDOW}])))",
    "p99_infer": "histogram_quantile(0.99, sum by (job, le) "
                 f"(rate(conveyor_serving_request_seconds_bucket[{WINDOW}])))",
    "errors": f'sum by (job) (rate(conveyor_http_requests_total{{status=~"5.."}}[{WINDOW}])) '
              f"/ sum by (job) (rate(conveyor_http_requests_total[{WINDOW}]))",
    "errors_infer": f"sum by (job) (rate(conveyor_serving_request_errors_total[{WINDOW}])) "
                    f"/ sum by (job) (rate(conveyor_serving_request_seconds_count[{WINDOW}]))",
    "lag": "sum by (job) (conveyor_consumer_lag)",
    "up": "up",
}


@dataclass
class Figures:
    source: str  # "prometheus" or "metrics"
    note: str
    rows: list[dict[str, Any]]


def from_prometheus(url: str, jobs: list[str], client: httpx.Client) -> Figures:
    values: dict[str, dict[str, float]] = {}
    for name, query in QUERIES.items():
        response = client.get(f"{url}/api/v1/query", params={"query": query})
        response.raise_for_status()
        values[name] = {r["metric"].get("job", ""): float(r["value"][1]) for r in response.json()["data"]["result"]}
    rows = []
    for job in jobs:
        def pick(key: str, job: str = job) -> float | None:
            found = values[f"{key}_infer"].get(job) if job == "serving" else None
            value = found if found is not None else values[key].get(job)
            return None if value is None or value != value else value  # NaN: no requests in the window
        rate, errors = pick("rate"), pick("errors")
        if errors is None and rate:  # traffic and no 5xx series at all: the ratio has no numerator, it is 0
            errors = 0.0
        rows.append({"process": job, "up": values["up"].get(job) == 1.0, "rate": rate, "p99": pick("p99"),
                     "errors": errors, "lag": values["lag"].get(job)})
    return Figures("prometheus", f"Prometheus at {url}, over the last {WINDOW}", rows)


def from_metrics(urls: dict[str, str], jobs: list[str], client: httpx.Client) -> Figures:
    rows = []
    for job in jobs:
        try:
            response = client.get(f"{urls[job]}/metrics")
            response.raise_for_status()
        except httpx.HTTPError:
            rows.append({"process": job, "up": False, "rate": None, "p99": None, "errors": None, "lag": None})
            continue
        rows.append({"process": job, "up": True, **totals(response.text, infer=job == "serving")})
    return Figures("metrics", "no Prometheus: totals since each process started, read from its /metrics", rows)


def totals(text: str, infer: bool = False) -> dict[str, Any]:
    prefix = "conveyor_serving_request_seconds" if infer else "conveyor_http_request_duration_seconds"
    count, errors, lag, buckets = 0.0, 0.0, 0.0, {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{prefix}_count":
                count += sample.value
            elif sample.name == f"{prefix}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == "conveyor_consumer_lag":
                lag += sample.value
            elif infer and sample.name == "conveyor_serving_request_errors_total":
                errors += sample.value
            elif not infer and sample.name == "conveyor_http_requests_total" and sample.labels["status"][0] == "5":
                errors += sample.value
    return {"rate": None, "requests": count, "p99": _quantile(buckets, 0.99),
            "errors": errors / count if count else None, "lag": lag}


def _quantile(buckets: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding the q-th request (what a scrape alone can say)."""
    ordered = sorted(buckets.items())
    total = ordered[-1][1] if ordered else 0.0
    if not total:
        return None
    for bound, cumulative in ordered:
        if cumulative >= q * total:
            return bound
    return None
