"""The console in a real browser (Debian's Chromium, driven by Playwright), on a platform of real processes with
Zipkin and Prometheus beside it; and the trace of one dataset, read back from Zipkin, from the browser's upload
to the monitor's first evaluation of the model it became.

Each role signs in and does its main task: the data scientist uploads (twice: the second model is worse and the
policy declines it), the manager approves the declined version with a comment, the auditor verifies the ledger
in the page, the technology leader reads the portfolio, everyone reads the charts, the live events and the
service figures. Screenshots go to var/test-artifacts/console/; no page may log a console error.

Promotion requests made by the data scientist and the manager's inbox of them need the registry's approval
routes (issue 12, part B): until they exist the manager approves through the direct promotion the access table
gives managers today.
"""

import os
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from conveyor_cli.client import Conveyor
from conveyor_cli.platform import Platform
from conveyor_kernel import AUDITOR, MANAGER

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "console"
CHROMIUM = Path("/usr/bin/chromium")
WINDOW = 100
MODEL = "console-cancer"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
ORDER = ["conveyor-console", "conveyor-ingest", "conveyor-trainer", "conveyor-registry", "conveyor-serving",
         "conveyor-monitor"]


def until(probe, what: str, timeout: float = 120.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _table(flip: float = 0.0, seed: int = 0):
    raw = load_breast_cancer(as_frame=True)
    frame = raw.frame.rename(columns={"target": "diagnosis"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["clinic"] = np.where(np.arange(len(frame)) % 2 == 0, "north", "south")
    if flip:  # a worse table: a share of the labels turned over, so the model trained on it loses to the champion
        rng = np.random.default_rng(seed)
        turned = rng.random(len(frame)) < flip
        frame.loc[turned, "diagnosis"] = 1 - frame.loc[turned, "diagnosis"]
    return frame


def _spec(frame) -> dict:
    features = [c for c in frame.columns if c not in ("diagnosis", "clinic")]
    return {"name": MODEL, "target": "diagnosis", "task": "classification",
            "features": [{"name": f, "kind": "numeric"} for f in features], "sensitive_attributes": ["clinic"],
            "consent_basis": "public_task", "owner": "console-e2e@conveyor.example",
            "training": {"model_name": MODEL, "estimator": "logistic_regression", "seed": 42,
                         "primary_metric": "roc_auc"}}


@pytest.fixture(scope="module")
def platform(kafka_bootstrap, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("the console's browser tests need Debian's chromium: apt-get install chromium")
    state = tmp_path_factory.mktemp("console-platform")
    running = Platform(
        state_dir=state, port_offset=int(os.environ.get("CONVEYOR_E2E_PORT_OFFSET", "100")) + 20,
        observability=True, console=True,
        env={"CONVEYOR_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
             "CONVEYOR_KAFKA__TOPIC_PREFIX": f"console{uuid.uuid4().hex[:8]}.",
             "CONVEYOR_WINDOW_SIZE": str(WINDOW), "CONVEYOR_DRIFT_CONFIRM_WINDOWS": "2",
             "CONVEYOR_CHECKPOINT_SECONDS": "2"},  # the auditor verifies against a checkpoint: issue them often
    )
    try:
        running.start(timeout=150)
        assert running.pid_of("zipkin") is not None, f"zipkin did not start: {state}/log/zipkin.log"
        yield running
    finally:  # a start that failed half-way leaves nothing running either
        running.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console_errors():
    return []


@pytest.fixture
def sign_in(platform, browser, console_errors):
    """A fresh browser context per person; every console error and page error is kept for the last test."""
    contexts = []

    def open_as(user: str, role: str):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda m: console_errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(f"{page.url}: {e}"))
        page.goto(f"{platform.url('console')}/login")
        page.fill("input[name=user]", user)
        page.select_option("select[name=role]", role)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _ledger(platform, **params):
    token = platform.issuer.mint("e2e-auditor", AUDITOR)
    response = httpx.get(f"{platform.url('audit')}/ledger", params={"limit": 1000, **params},
                         headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()["entries"]


def _deployed(platform, version: int):
    return [e for e in _ledger(platform, type="ModelDeployed", subject=MODEL)
            if int(e["event"].get("version", 0)) == version]


def _upload_in_browser(page, tmp_path: Path, frame, name: str) -> str:
    import json

    data, spec = tmp_path / f"{name}.csv", tmp_path / f"{name}.spec.json"
    frame.to_csv(data, index=False)
    spec.write_text(json.dumps(_spec(frame)))
    page.set_input_files("input[name=file]", str(data))
    page.set_input_files("input[name=spec]", str(spec))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#upload-result p.ok, #upload-result .error")
    return page.inner_text("#upload-result")


def test_the_data_scientist_uploads_a_dataset_from_the_browser_and_sees_it_become_a_model(sign_in, platform,
                                                                                        tmp_path):
    page = sign_in("dana", "data_scientist")
    assert page.url.endswith("/scientist")
    answer = _upload_in_browser(page, tmp_path, _table(), "patients")
    assert answer.startswith("Stored") and "569 rows" in answer, answer
    until(lambda: _deployed(platform, 1), "v1 deployed", timeout=180)
    page.reload()
    page.wait_for_selector(f"tr[data-version='{MODEL}-1']")
    assert "champion" in page.inner_text(f"tr[data-version='{MODEL}-1']")
    assert "clinic" in page.inner_text(f"tr[data-version='{MODEL}-1']")  # fairness per group
    row = page.locator("tr.mine", has_text=MODEL).first
    assert "accepted" in row.inner_text() and "dana" in row.inner_text()
    shot(page, "1-data-scientist")


def _send_predictions(platform, rows: int) -> None:
    frame = _table()
    features = [c for c in frame.columns if c not in ("diagnosis", "clinic")]
    for start in range(0, rows, 50):
        batch = frame.iloc[start % 500:start % 500 + 50]
        body = {"id": uuid.uuid4().hex, "parameters": {"attributes": {"clinic": batch["clinic"].tolist()}},
                "inputs": [{"name": f, "shape": [len(batch), 1], "datatype": "FP32", "data": batch[f].tolist()}
                           for f in features]}
        httpx.post(f"{platform.url('serving')}/v2/models/{MODEL}/infer", json=body, timeout=30).raise_for_status()


def test_one_trace_runs_from_the_upload_to_the_monitors_first_evaluation_in_zipkin(platform):
    _send_predictions(platform, WINDOW)
    zipkin = platform.url("zipkin")

    def evaluation_trace():
        found = httpx.get(f"{zipkin}/api/v2/traces", params={"serviceName": "conveyor-monitor",
                                                             "spanName": "evaluate drift", "limit": 50}).json()
        for spans in found:
            services = {s.get("localEndpoint", {}).get("serviceName") for s in spans}
            if "conveyor-ingest" in services:
                return spans[0]["traceId"]
        return None

    trace_id = until(evaluation_trace, "the monitor's evaluation in the upload's trace", timeout=120, every=1.0)
    def whole_trace():  # spans arrive in batches from each process: wait until every parent is there
        spans = httpx.get(f"{zipkin}/api/v2/trace/{trace_id}").json()
        ids = {s["id"] for s in spans}
        orphans = [(s["localEndpoint"]["serviceName"], s["name"]) for s in spans if s.get("parentId", "") not in ids
                   and "parentId" in s]
        whole.clear()
        whole.extend(orphans)
        return spans if not orphans else None

    whole: list = []
    try:
        spans = until(whole_trace, "every span's parent in the trace", timeout=30, every=1.0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; spans without their parent: {whole}") from None
    by_id = {s["id"]: s for s in spans}
    roots = [s for s in spans if "parentId" not in s]
    assert [r["localEndpoint"]["serviceName"] for r in roots] == ["conveyor-console"], roots
    # from the evaluation back to the browser's upload, parent by parent: which services, in which order
    evaluation = next(s for s in spans if s["name"] == "evaluate drift")
    chain, span = [], evaluation
    while span is not None:
        chain.append(span)
        span = by_id.get(span.get("parentId", ""))
    services = []
    for span in reversed(chain):
        name = span["localEndpoint"]["serviceName"]
        if not services or services[-1] != name:
            services.append(name)
    assert services == ORDER, services
    names = [s["name"].lower() for s in reversed(chain)]
    for expected in ("post /scientist/datasets", "ingest dataset", "deploy model", "first prediction",
                     "evaluate drift"):
        assert expected in names, f"{expected!r} not on the path {names}"
    times = [s["timestamp"] for s in reversed(chain)]
    assert times == sorted(times), "a child started before its parent"


def test_probes_and_scrapes_leave_no_spans_in_zipkin(platform):
    for service in ("ingest", "registry", "audit"):
        names = httpx.get(f"{platform.url('zipkin')}/api/v2/spans",
                          params={"serviceName": f"conveyor-{service}"}).json()
        assert not [n for n in names if any(p in n for p in ("/readyz", "/healthz", "/metrics"))], names


def test_the_manager_approves_a_version_the_policy_declined_with_a_comment(sign_in, platform, tmp_path):
    scientist = sign_in("dana", "data_scientist")
    answer = _upload_in_browser(scientist, tmp_path, _table(flip=0.35, seed=3), "patients-relabelled")
    assert answer.startswith("Stored"), answer
    until(lambda: [e for e in _ledger(platform, type="PromotionDeclined", subject=MODEL)], "v2 declined", 180)

    page = sign_in("max", "manager")
    assert page.url.endswith("/manager")
    card = page.locator(f"[data-candidate='{MODEL}-2']")
    card.wait_for()
    assert "clinic" in card.inner_text() and "public_task" in card.inner_text()
    shot(page, "2-manager-inbox")
    card.locator("input[name=comment]").fill("checked the fairness gaps per clinic; accepted for the pilot")
    card.locator("button[type=submit]").click()
    result = card.locator(".result")
    result.locator("p").wait_for()
    assert result.inner_text().startswith(f"{MODEL} v2 promoted by max"), result.inner_text()
    until(lambda: _deployed(platform, 2), "v2 deployed after the manager's approval")
    shot(page, "3-manager-approved")


def test_the_auditor_verifies_the_ledger_in_the_page(sign_in, platform):
    page = sign_in("ada", "auditor")
    assert page.url.endswith("/auditor")

    def checkpoint_covers_the_approval():
        token = platform.issuer.mint("e2e-auditor", AUDITOR)
        note = httpx.get(f"{platform.url('audit')}/ledger/checkpoint", headers={"Authorization": f"Bearer {token}"})
        promoted = _ledger(platform, type="ModelPromoted", subject=MODEL)
        return note.status_code == 200 and len(promoted) >= 2 and note.json()["size"] > promoted[-1]["index"]

    until(checkpoint_covers_the_approval, "a checkpoint covering the manager's promotion", timeout=120)
    page.reload()
    page.click("button[data-verify-ledger]")
    summary = page.locator("#verify-summary.ok, #verify-summary.failed")
    summary.wait_for()
    text = summary.inner_text()
    assert "signature valid" in text and "proven included" in text, text
    assert page.locator("td.proof.failed").count() == 0
    assert page.locator("td.proof.ok").count() >= 5
    shot(page, "4-auditor-verified")
    # what served at time T: now, the manager's v2
    page.fill("input[name=at]", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()))
    page.click("form:has(input[name=at]) button")
    page.wait_for_selector("#served")
    assert f"{MODEL}" in page.inner_text("#served") and "v2" in page.inner_text("#served")


def test_everyone_sees_charts_live_events_and_service_figures(sign_in, platform):
    page = sign_in("lee", "tech_leader")
    assert page.url.endswith("/leader") and MODEL in page.inner_text("table.portfolio")
    shot(page, "5-tech-leader")
    page.goto(f"{platform.url('console')}/models/{MODEL}")
    page.wait_for_function("document.querySelectorAll('canvas[data-drawn=yes]').length >= 2")
    shot(page, "6-model-charts")
    page.goto(f"{platform.url('console')}/events")
    assert page.locator("tr.event", has_text="ModelPromoted").count() >= 2
    promoted = page.locator("tr.event", has_text="ModelPromoted")
    before = promoted.count()
    # the manager rolls back from the CLI's client while the page is open: the stream shows it without a reload
    with Conveyor({"registry": platform.url("registry")}, platform.issuer.mint("max", MANAGER)) as client:
        client.rollback(MODEL, "back to v1 while the pilot is reviewed")
    until(lambda: promoted.count() > before, "the rollback on the live stream", timeout=60)
    shot(page, "7-live-events")
    _send_predictions(platform, WINDOW)  # traffic for serving's figures
    page.goto(f"{platform.url('console')}/ops")
    until(lambda: "Prometheus" in page.inner_text("#ops-source"), "figures from Prometheus")
    serving = page.locator("tr[data-process=serving]")
    assert "up" in serving.inner_text()
    until(lambda: (page.reload() or True) and "ms" in page.locator("tr[data-process=serving]").inner_text(),
          "serving's p99 from Prometheus", timeout=60, every=2.0)
    shot(page, "8-service-figures")


def test_no_page_logged_a_console_error(console_errors):
    assert console_errors == []
