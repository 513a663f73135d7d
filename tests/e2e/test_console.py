"""The console in a real browser (Debian's Chromium, driven by Playwright), on a platform of real processes with
Zipkin and Prometheus beside it; the trace of one dataset, read back from Zipkin, from the browser's upload to the
monitor's first evaluation of the model it became; then the CLI on the same platform.

Each role signs in and does its main task: the data scientist uploads (the first table's labels are noisy; the
second, clean one trains a better model), the technology leader has marked the model medium-risk, so the
policy's gates pass and the promotion request waits for one approval; the manager approves it with a comment in
the inbox, the auditor verifies the ledger in the page, the technology leader reads the portfolio, everyone reads
the charts, the live events and the service figures. Screenshots go to var/test-artifacts/console/; no page may
log a console error.

The tests run in order and build on each other (one platform for the module: starting one takes most of the time).
"""

import os
import re
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from conveyor_cli.client import Conveyor
from conveyor_cli.platform import Platform
from conveyor_kernel.identity import AUDITOR, MANAGER

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
    if flip:  # a noisier table: a share of the labels turned over, so the model trained on it scores lower
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
    answer = _upload_in_browser(page, tmp_path, _table(flip=0.15, seed=3), "patients")
    assert answer.startswith("Stored") and "569 rows" in answer, answer
    until(lambda: _deployed(platform, 1), "v1 deployed", timeout=180)
    page.reload()
    page.wait_for_selector(f"tr[data-version='{MODEL}-1']")
    assert "champion" in page.inner_text(f"tr[data-version='{MODEL}-1']")
    assert "clinic" in page.inner_text(f"tr[data-version='{MODEL}-1']")  # fairness per group
    row = page.locator("tr.mine", has_text=MODEL).first
    assert "accepted" in row.inner_text() and "dana" in row.inner_text()
    shot(page, "1-data-scientist")


def _send_predictions(platform, rows: int) -> list[tuple[str, int]]:
    """`rows` predictions in batches of 50; the (request id, truth) of each batch's first row."""
    frame = _table()
    features = [c for c in frame.columns if c not in ("diagnosis", "clinic")]
    sent = []
    for start in range(0, rows, 50):
        batch = frame.iloc[start % 500:start % 500 + 50]
        request_id = uuid.uuid4().hex
        sent.append((request_id, int(batch["diagnosis"].iloc[0])))
        body = {"id": request_id, "parameters": {"attributes": {"clinic": batch["clinic"].tolist()}},
                "inputs": [{"name": f, "shape": [len(batch), 1], "datatype": "FP32", "data": batch[f].tolist()}
                           for f in features]}
        httpx.post(f"{platform.url('serving')}/v2/models/{MODEL}/infer", json=body, timeout=30).raise_for_status()
    return sent


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
    for service in ("ingest", "registry", "audit", "console"):  # all scraped by Prometheus every 5 s, all probed
        names = httpx.get(f"{platform.url('zipkin')}/api/v2/spans",
                          params={"serviceName": f"conveyor-{service}"}).json()
        assert names, f"conveyor-{service} sent Zipkin no spans at all"  # else the check below proves nothing
        assert not [n for n in names if any(p in n for p in ("/readyz", "/healthz", "/metrics"))], names


def test_a_medium_risk_promotion_waits_for_the_manager_who_approves_it_with_a_comment(sign_in, platform, tmp_path):
    leader = platform.issuer.mint("lee", "tech_leader")
    tier = httpx.put(f"{platform.url('registry')}/models/{MODEL}/risk-tier",
                     json={"tier": "medium", "reason": "used on patients: a manager signs each promotion"},
                     headers={"Authorization": f"Bearer {leader}"}, timeout=30)
    assert tier.status_code == 200, tier.text
    scientist = sign_in("dana", "data_scientist")
    answer = _upload_in_browser(scientist, tmp_path, _table(), "patients-clean")
    assert answer.startswith("Stored"), answer
    until(lambda: [e for e in _ledger(platform, type="PromotionGatesEvaluated", subject=MODEL)
                   if int(e["event"].get("version", 0)) == 2], "v2's gates evaluated", 180)
    assert not _deployed(platform, 2)  # medium risk: the gates passed, and it waits for a person
    scientist.reload()
    scientist.locator(f"tr[data-version='{MODEL}-2']").wait_for()
    shot(scientist, "2-data-scientist-requests")

    page = sign_in("max", "manager")
    assert page.url.endswith("/manager")
    card = page.locator(f"[data-request-of='{MODEL}-2']").first
    card.wait_for()
    assert "clinic" in card.inner_text()  # fairness per group
    shot(page, "3-manager-inbox")
    card.locator("input[name=comment]").fill("checked the fairness gaps per clinic; accepted for the pilot")
    card.locator("button[type=submit]").first.click()  # approve (reject is the second button)
    result = card.locator(".result")
    result.locator("p").wait_for()
    assert result.inner_text().startswith(f"{MODEL} v2 approved by max"), result.inner_text()
    until(lambda: _deployed(platform, 2), "v2 deployed after the manager's approval")
    shot(page, "4-manager-approved")


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
    shot(page, "5-auditor-verified")
    # what served at time T: now, the manager's v2
    page.fill("input[name=at]", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()))
    page.click("form:has(input[name=at]) button")
    page.wait_for_selector("#served")
    assert f"{MODEL}" in page.inner_text("#served") and "v2" in page.inner_text("#served")


def test_everyone_sees_charts_live_events_and_service_figures(sign_in, platform):
    page = sign_in("lee", "tech_leader")
    assert page.url.endswith("/leader") and MODEL in page.inner_text("table.portfolio")
    shot(page, "6-tech-leader")
    page.goto(f"{platform.url('console')}/models/{MODEL}")
    page.wait_for_function("document.querySelectorAll('canvas[data-drawn=yes]').length >= 2")
    shot(page, "7-model-charts")
    page.goto(f"{platform.url('console')}/events")
    assert page.locator("tr.event", has_text="ModelPromoted").count() >= 2
    promoted = page.locator("tr.event", has_text="ModelPromoted")
    before = promoted.count()
    # the manager rolls back from the CLI's client while the page is open: the stream shows it without a reload
    with Conveyor({"registry": platform.url("registry")}, platform.issuer.mint("max", MANAGER)) as client:
        client.rollback(MODEL, "back to v1 while the pilot is reviewed")
    until(lambda: promoted.count() > before, "the rollback on the live stream", timeout=60)
    shot(page, "8-live-events")
    _send_predictions(platform, WINDOW)  # traffic for serving's figures
    page.goto(f"{platform.url('console')}/ops")
    until(lambda: "Prometheus" in page.inner_text("#ops-source"), "figures from Prometheus")
    serving = page.locator("tr[data-process=serving]")
    assert "up" in serving.inner_text()
    until(lambda: (page.reload() or True) and "ms" in page.locator("tr[data-process=serving]").inner_text(),
          "serving's p99 from Prometheus", timeout=60, every=2.0)
    shot(page, "9-service-figures")


def test_no_page_logged_a_console_error(console_errors):
    assert console_errors == []


# --- the same platform from the CLI: the verbs a person types, tables for people, --json for scripts ---------


@pytest.fixture
def cli(platform, monkeypatch, tmp_path):
    """`conveyor ...` in this process (typer's runner), pointed at this platform by the environment alone."""
    from typer.testing import CliRunner

    from conveyor_cli.main import app

    for name in ("ingest", "trainer", "registry", "serving", "monitor", "audit", "console"):
        monkeypatch.setenv(f"CONVEYOR_{name.upper()}_URL", platform.url(name))
    monkeypatch.setenv("CONVEYOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CONVEYOR_DATA_DIR", str(platform.data_dir))  # where `conveyor login` finds the issuer
    monkeypatch.delenv("CONVEYOR_TOKEN", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables as wide as a terminal would show them, unwrapped
    runner = CliRunner()

    def run(*args: str, token: str | None = None, code: int = 0):
        result = runner.invoke(app, list(args), env={"CONVEYOR_TOKEN": token} if token else {})
        assert result.exit_code == code, f"conveyor {' '.join(args)} -> {result.exit_code}: {result.output}"
        return result

    return run


def test_the_cli_lists_models_versions_decisions_datasets_and_runs_as_json(cli, platform):
    import json
    from importlib.metadata import version

    assert cli("--version").output.strip() == f"conveyor {version('conveyor-cli')}"
    scientist = platform.issuer.mint("dana", "data_scientist")
    models = json.loads(cli("models", "list", "--json", token=scientist).stdout)
    mine = next(m for m in models if m["name"] == MODEL)
    assert mine["latest_version"] == 2 and mine["champion_version"] == 1  # v2 approved, then rolled back
    versions = json.loads(cli("models", "versions", MODEL, "--json", token=scientist).stdout)
    assert [v["version"] for v in versions] == [1, 2] and all(v["fairness"] for v in versions)
    decisions = json.loads(cli("models", "decisions", MODEL, "--json", token=scientist).stdout)
    assert [(d["action"], d["decided_by"]) for d in decisions][-2:] == [("promote", "max"), ("rollback", "max")]
    table = cli("models", "versions", MODEL, token=scientist).stdout  # people get a table
    assert "roc_auc" in table and "champion" in table, table
    datasets = json.loads(cli("datasets", "list", "--name", MODEL, "--json", token=scientist).stdout)
    assert len(datasets) == 2 and {d["rows"] for d in datasets} == {569}
    shown = json.loads(cli("datasets", "show", datasets[0]["dataset_id"], "--json", token=scientist).stdout)
    assert shown["dataset_id"] == datasets[0]["dataset_id"] and shown["name"] == MODEL and shown["rows"] == 569
    runs = json.loads(cli("runs", "list", "--json", token=scientist).stdout)
    assert len([r for r in runs if r.get("model_name") == MODEL]) >= 2


def test_the_cli_uploads_a_dataset_and_shows_ingests_reasons_for_a_bad_spec(cli, platform, tmp_path):
    import json

    scientist = platform.issuer.mint("dana", "data_scientist")
    frame = _table(flip=0.15, seed=3)
    data, spec = tmp_path / "patients.csv", tmp_path / "spec.json"
    frame.to_csv(data, index=False)  # the very bytes the browser uploaded first: stored once, no new training
    spec.write_text(json.dumps(_spec(frame)))
    answer = json.loads(cli("datasets", "upload", str(data), "--spec", str(spec), "--json", token=scientist).stdout)
    assert answer["duplicate"] and answer["version"] == 1 and answer["rows"] == 569, answer
    person = cli("datasets", "upload", str(data), "--spec", str(spec), token=scientist).stdout
    assert person.startswith("already stored") and "569 rows" in person, person
    same_bytes = cli("datasets", "upload", str(data), "--spec", str(spec.with_name("other.json")), code=2)
    assert "other.json" in same_bytes.output  # a missing spec file: the CLI says which, before any upload
    fewer = tmp_path / "fewer.csv"
    frame.head(300).to_csv(fewer, index=False)
    spec.write_text(json.dumps({**_spec(frame), "target": "no_such_column"}))
    refused = cli("datasets", "upload", str(fewer), "--spec", str(spec), code=1, token=scientist)
    assert "no_such_column" in refused.output and "422" in refused.output, refused.output


def test_the_cli_sets_and_clears_a_canary_and_a_shadow_and_shows_the_servers_refusal(cli, platform):
    import json

    manager = platform.issuer.mint("max", "manager")
    canary = json.loads(cli("canary", "set", MODEL, "--version", "2", "--weight", "0.2", "--reason",
                            "a fifth of the traffic to v2", "--json", token=manager).stdout)
    assert canary["mode"] == "canary" and canary["candidate_version"] == 2 and canary["canary_weight"] == 0.2
    cleared = json.loads(cli("canary", "clear", MODEL, "--reason", "enough seen", "--json", token=manager).stdout)
    assert cleared["mode"] == "none"
    shadow = json.loads(cli("shadow", "set", MODEL, "--version", "2", "--reason", "compare quietly", "--json",
                            token=manager).stdout)
    assert shadow["mode"] == "shadow" and shadow["candidate_version"] == 2
    cli("shadow", "clear", MODEL, "--reason", "done", token=manager)
    # a data scientist may not move traffic: the CLI says so with the server's own words and exits 1
    refused = cli("canary", "set", MODEL, "--version", "2", "--reason", "let me", code=1,
                  token=platform.issuer.mint("dana", "data_scientist"))
    assert "403" in refused.output and "manager" in refused.output, refused.output
    missing = cli("models", "show", "no-such-model", code=1, token=manager)
    assert "404" in missing.output and "no-such-model" in missing.output, missing.output


def test_the_cli_posts_labels_from_a_csv_verifies_the_ledger_and_tails_events(cli, platform, tmp_path):
    import json

    pending = dict(_send_predictions(platform, 100))  # request id -> the first row's true label
    labels = tmp_path / "labels.csv"
    feed = platform.issuer.mint("label-feed", kind="service")

    def joined():  # serving logs predictions to the monitor in batches: post again what found no prediction yet
        labels.write_text("request_id,label\n" + "".join(f"{rid},{truth}\n" for rid, truth in pending.items()))
        answers = json.loads(cli("labels", str(labels), "--json", token=feed).stdout)
        unmatched = {u["request_id"] for a in answers for u in a["unmatched"]}
        for rid in set(pending) - unmatched:
            del pending[rid]
        return not pending

    until(joined, "every label joined to its prediction", 60, 1.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\nx,1\n")
    assert "request_id" in cli("labels", str(bad), code=1, token=feed).output  # names the missing column

    auditor = platform.issuer.mint("ada", "auditor")
    verified = cli("ledger", "verify", token=auditor).stdout
    assert "signed by" in verified and "recomputed to the signed root" in verified, verified
    total = _ledger_total(platform)
    tail = cli("tail", "--from", str(total - 2), "--count", "2", token=auditor).stdout
    printed = [int(m.group(1)) for line in tail.splitlines() if (m := re.match(r"\s*(\d+) \d\d:\d\d:", line))]
    assert printed == [total - 2, total - 1], tail


def _ledger_total(platform) -> int:
    token = platform.issuer.mint("e2e-auditor", AUDITOR)
    response = httpx.get(f"{platform.url('audit')}/ledger", params={"limit": 1},
                         headers={"Authorization": f"Bearer {token}"})
    return response.json()["total"]


def test_conveyor_login_keeps_the_token_in_the_config_file_and_the_environment_wins(cli, platform, tmp_path):
    import json

    cli("login", "--user", "lee", "--role", "tech_leader")
    config = tmp_path / "config.toml"
    assert config.stat().st_mode & 0o077 == 0 and "token" in config.read_text()
    shown = json.loads(cli("config", "show", "--json").stdout)
    assert shown["path"] == str(config) and shown["token_set"]
    assert json.loads(cli("models", "list", "--json").stdout)  # the stored token is sent
    assert cli("models", "list", "--json", token="not-a-token", code=1).output.count("401") >= 1
