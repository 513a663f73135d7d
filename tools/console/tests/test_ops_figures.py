"""The service figures: from Prometheus (PromQL per scrape job), or from one read of a service's /metrics."""

import httpx

from conveyor_console import ops_figures

METRICS = """\
# TYPE conveyor_http_requests_total counter
conveyor_http_requests_total{method="GET",route="/models",status="200"} 90.0
conveyor_http_requests_total{method="POST",route="/datasets",status="503"} 10.0
# TYPE conveyor_http_request_duration_seconds histogram
conveyor_http_request_duration_seconds_bucket{method="GET",route="/models",le="0.01"} 80.0
conveyor_http_request_duration_seconds_bucket{method="GET",route="/models",le="0.1"} 99.0
conveyor_http_request_duration_seconds_bucket{method="GET",route="/models",le="1.0"} 100.0
conveyor_http_request_duration_seconds_bucket{method="GET",route="/models",le="+Inf"} 100.0
conveyor_http_request_duration_seconds_count{method="GET",route="/models"} 100.0
conveyor_http_request_duration_seconds_sum{method="GET",route="/models"} 1.5
# TYPE conveyor_consumer_lag gauge
conveyor_consumer_lag{topic="conveyor.models",partition="0"} 3.0
conveyor_consumer_lag{topic="conveyor.models",partition="1"} 4.0
"""


def test_a_scrape_alone_gives_totals_the_bucket_of_the_p99_the_error_share_and_the_lag():
    # 99 of 100 requests took at most 0.1 s: the p99 is that bucket's bound; 10 of the 100 counted were 503s
    figures = ops_figures.totals(METRICS)
    assert figures == {"rate": None, "requests": 100.0, "p99": 0.1, "errors": 0.1, "lag": 7.0}


def _prometheus(results: dict[str, list[dict]]):
    def handle(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        name = next(k for k, q in ops_figures.QUERIES.items() if q == query)
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector",
                                                                       "result": results.get(name, [])}})
    return httpx.Client(transport=httpx.MockTransport(handle))


def _sample(job: str, value: str) -> dict:
    return {"metric": {"job": job}, "value": [0, value]}


def test_prometheus_figures_per_job_serving_by_its_infer_series_and_no_5xx_as_zero_errors():
    client = _prometheus({
        "up": [_sample("ingest", "1"), _sample("serving", "1"), _sample("audit", "0")],
        "rate": [_sample("ingest", "2.5"), _sample("serving", "0.1")],
        "rate_infer": [_sample("serving", "40")],
        "p99": [_sample("ingest", "0.2"), _sample("serving", "NaN")],
        "p99_infer": [_sample("serving", "0.004")],
        "errors_infer": [_sample("serving", "0.01")],
        "lag": [_sample("ingest", "5")],
    })
    rows = {r["process"]: r for r in ops_figures.from_prometheus("http://p", ["ingest", "serving", "audit"],
                                                                  client).rows}
    assert rows["ingest"] == {"process": "ingest", "up": True, "rate": 2.5, "p99": 0.2, "errors": 0.0, "lag": 5.0}
    assert rows["serving"]["rate"] == 40.0 and rows["serving"]["p99"] == 0.004 and rows["serving"]["errors"] == 0.01
    assert rows["audit"] == {"process": "audit", "up": False, "rate": None, "p99": None, "errors": None,
                             "lag": None}
