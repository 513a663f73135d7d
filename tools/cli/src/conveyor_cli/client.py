"""The Python client for everything a person does on Conveyor: the CLI is built on it, the console reads through
it, and a notebook imports it.

    from conveyor_cli.client import Conveyor
    conveyor = Conveyor()                       # URLs and token from the config file or the environment
    dataset = conveyor.upload_dataset("patients.csv", spec)
    conveyor.models()
    conveyor.canary("patients", version=3, weight=0.1, reason="first live traffic")

Every call is one REST request with your bearer token. A refusal raises ApiError carrying the server's own
message (and its per-field errors, when it sent them). `log_model` (a notebook's scikit-learn pipeline, converted
to ONNX on your machine) lives in `notebook` and is importable from here too.
"""

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from . import config as client_config
from .approvals_routes import APPROVALS

Progress = Callable[[int, int], None]  # (bytes sent so far, total bytes)
_NOTEBOOK = {"ConveyorClient", "ParityError", "feature_columns", "log_model", "model_rows", "synthetic_sample",
             "to_onnx", "check_parity"}
LABEL_BATCH = 10_000


class ApiError(httpx.HTTPStatusError):
    """A service refused a request: `status`, the server's `detail`, and its field `errors` when it named them."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.detail, self.errors = _detail_of(response)
        request = response.request
        super().__init__(f"{request.method} {request.url.path} -> {self.status}: {self.detail}",
                         request=request, response=response)


def _detail_of(response: httpx.Response) -> tuple[str, list[dict[str, Any]]]:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase, []
    if isinstance(body, dict):
        detail = body.get("detail", body.get("error", body))
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        if isinstance(detail, list):  # FastAPI's validation errors: one per field
            errors = [{"field": ".".join(str(p) for p in e.get("loc", [])), "reason": e.get("msg", "")}
                      for e in detail if isinstance(e, dict)]
            detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return str(detail), errors
    return str(body), []


def _inject_trace(request: httpx.Request) -> None:
    from opentelemetry import propagate

    propagate.inject(request.headers)


def raise_for(response: httpx.Response) -> None:
    if response.is_error:
        response.read()
        raise ApiError(response)


class _CountingFile:
    """A file that reports how much of it has been read: httpx streams multipart files by reading them."""

    def __init__(self, file: IO[bytes], total: int, progress: Progress) -> None:
        self._file, self._total, self._progress, self._sent = file, total, progress, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._sent += len(chunk)
        self._progress(self._sent, self._total)
        return chunk

    def fileno(self) -> int:  # lets httpx compute Content-Length: ingest refuses an oversized upload before reading
        return self._file.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


class Conveyor:
    """One client for every service. `urls`/`token` override the config; `transport` is for tests."""

    def __init__(self, urls: dict[str, str] | None = None, token: str | None = None, *,
                 timeout: float = 60.0, transport: httpx.BaseTransport | None = None,
                 settings: client_config.ClientConfig | None = None, propagate_trace: bool = False) -> None:
        """`propagate_trace`: send the current span's traceparent (the console does, so a browser upload's trace
        starts at the console and runs on through the services)."""
        loaded = settings or client_config.load()
        self.urls = {**loaded.urls, **(urls or {})}
        self.token = token if token is not None else loaded.token
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        hooks = {"request": [_inject_trace]} if propagate_trace else {}
        self._http = httpx.Client(timeout=timeout, headers=headers, transport=transport, event_hooks=hooks)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Conveyor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, f"{self.urls[service]}{path}", **kwargs)
        raise_for(response)
        return response

    def _json(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(service, method, path, **kwargs).json()

    # --- datasets (ingest) -------------------------------------------------------------------------------------
    def upload_dataset(self, file: str | Path, spec: dict[str, Any] | str, *, format: str | None = None,
                       progress: Progress | None = None) -> dict[str, Any]:
        """Upload a CSV or Parquet file with its DatasetSpec (a dict, or its JSON text); `progress` is called
        as the file streams. The answer names the dataset id and version (a re-upload answers duplicate)."""
        import json

        path = Path(file)
        total = path.stat().st_size
        spec_text = spec if isinstance(spec, str) else json.dumps(spec)
        data = {"spec": spec_text, **({"format": format} if format else {})}
        with path.open("rb") as handle:
            body: IO[bytes] = _CountingFile(handle, total, progress) if progress else handle  # type: ignore[assignment]
            return self._json("ingest", "POST", "/datasets", files={"file": (path.name, body)}, data=data,
                              timeout=max(60.0, total / 5e6))

    # --- consent (ingest; issue 13's routes: `conveyor consent` comes with them) --------------------------------
    def record_consent(self, subject_ids: list[str], purpose: str, state: str, basis: str = "consent"
                       ) -> dict[str, Any]:
        """Consent given or withdrawn for a purpose, for subjects as their id column holds them (in the body:
        raw ids never go into a path, which access logs keep)."""
        return self._json("ingest", "POST", "/consent", json={"subject_ids": subject_ids, "purpose": purpose,
                                                              "state": state, "basis": basis})

    def withdraw_consent(self, subject_ids: list[str], purpose: str = "training") -> dict[str, Any]:
        """The trainer then flags the models that learned from these subjects and retrains them without them."""
        return self._json("ingest", "POST", "/consent/withdraw", json={"subject_ids": subject_ids,
                                                                       "purpose": purpose})

    def consent_of(self, subject_ref: str) -> dict[str, Any]:
        """A subject's current consent per purpose and its history, by its pseudonymous reference."""
        return self._json("ingest", "GET", f"/subjects/{subject_ref}/consent")

    def datasets(self, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **({"name": name} if name else {})}
        return self._json("ingest", "GET", "/datasets", params=params)["datasets"]

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        return self._json("ingest", "GET", f"/datasets/{dataset_id}")

    # --- runs (trainer) ----------------------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        return self._json("trainer", "GET", "/runs")

    def run(self, run_id: str) -> dict[str, Any]:
        return self._json("trainer", "GET", f"/runs/{run_id}")

    # --- models (registry) -------------------------------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        return self._json("registry", "GET", "/models")

    def model(self, name: str) -> dict[str, Any]:
        return self._json("registry", "GET", f"/models/{name}")

    def versions(self, name: str) -> list[dict[str, Any]]:
        return self._json("registry", "GET", f"/models/{name}/versions")

    def version(self, name: str, version: int) -> dict[str, Any]:
        return self._json("registry", "GET", f"/models/{name}/versions/{version}")

    def decisions(self, name: str) -> list[dict[str, Any]]:
        return self._json("registry", "GET", f"/models/{name}/decisions")

    def promote(self, name: str, version: int, reason: str) -> dict[str, Any]:
        """A manager's or technology leader's direct promotion (the registry's route before approvals)."""
        return self._json("registry", "POST", f"/models/{name}/versions/{version}/promote", json={"reason": reason})

    def rollback(self, name: str, reason: str) -> dict[str, Any]:
        return self._json("registry", "POST", f"/models/{name}/rollback", json={"reason": reason})

    def canary(self, name: str, version: int, weight: float, reason: str) -> dict[str, Any]:
        body = {"mode": "canary", "version": version, "weight": weight, "reason": reason}
        return self._json("registry", "POST", f"/models/{name}/traffic", json=body)

    def shadow(self, name: str, version: int, reason: str) -> dict[str, Any]:
        body = {"mode": "shadow", "version": version, "reason": reason}
        return self._json("registry", "POST", f"/models/{name}/traffic", json=body)

    def clear_traffic(self, name: str, reason: str) -> dict[str, Any]:
        """End a canary or shadow split: the champion answers everything again."""
        return self._json("registry", "POST", f"/models/{name}/traffic/rollback", json={"reason": reason})

    # --- promotion requests and approvals (registry; see approvals_routes) --------------------------------------
    def request_promotion(self, name: str, version: int, reason: str, alias: str = "production") -> dict[str, Any]:
        """Ask for `version` to move `alias` ("production" is what serves): the gates run at once, and a manager
        (or the quorum the model's risk tier needs) decides unless the policy needs no approval."""
        route = APPROVALS["request"]
        return self._json("registry", route.method, route.path(name=name),
                          json={"version": version, "alias": alias, "reason": reason})

    def promotion_requests(self, name: str, state: str | None = None) -> list[dict[str, Any]]:
        route = APPROVALS["list"]
        return self._json("registry", route.method, route.path(name=name), params={"state": state} if state else {})

    def every_promotion_request(self, state: str | None = None) -> list[dict[str, Any]]:
        """Every model's requests (the manager's inbox, a person's own requests), newest first."""
        found = [r for model in self.models() for r in self.promotion_requests(model["name"], state)]
        return sorted(found, key=lambda r: str(r.get("created_at", "")), reverse=True)

    def promotion_request(self, name: str, request_id: str) -> dict[str, Any]:
        route = APPROVALS["show"]
        return self._json("registry", route.method, route.path(name=name, request_id=request_id))

    def approve(self, name: str, request_id: str, comment: str) -> dict[str, Any]:
        route = APPROVALS["approve"]
        return self._json("registry", route.method, route.path(name=name, request_id=request_id),
                          json={"comment": comment})

    def reject(self, name: str, request_id: str, reason: str) -> dict[str, Any]:
        route = APPROVALS["reject"]
        return self._json("registry", route.method, route.path(name=name, request_id=request_id),
                          json={"reason": reason})

    def policies(self) -> list[dict[str, Any]]:
        route = APPROVALS["policies"]
        return self._json("registry", route.method, route.path())

    def policy_what_if(self, version: int) -> dict[str, Any]:
        """Policy `version` replayed over every recorded decision: which requests would have come out otherwise."""
        route = APPROVALS["policy"]
        document = self._json("registry", route.method, route.path(version=version))["document"]
        route = APPROVALS["what_if"]
        return self._json("registry", route.method, route.path(), json={"document": document})

    # --- monitoring (monitor) ----------------------------------------------------------------------------------
    def drift(self, name: str) -> dict[str, Any]:
        return self._json("monitor", "GET", f"/models/{name}/drift")

    def series(self, name: str, kind: str, version: int | None = None) -> list[dict[str, Any]]:
        params = {"version": version} if version is not None else {}
        return self._json("monitor", "GET", f"/models/{name}/series/{kind}", params=params)["points"]

    def post_labels(self, labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Late labels, {request_id, row, label}, in batches the monitor accepts; one answer per batch."""
        return [self._json("monitor", "POST", "/labels", json={"labels": labels[i:i + LABEL_BATCH]})
                for i in range(0, len(labels), LABEL_BATCH)]

    # --- the audit ledger and reports (audit) ------------------------------------------------------------------
    def ledger(self, subject: str | None = None, type: str | None = None, limit: int = 100,
               offset: int = 0) -> dict[str, Any]:
        params = {k: v for k, v in {"subject": subject, "type": type, "limit": limit, "offset": offset}.items()
                  if v is not None}
        return self._json("audit", "GET", "/ledger", params=params)

    def follow_ledger(self, start: int | None = None, poll: float = 1.0,
                      stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
        """Every ledger entry from `start` (default: the end) on, as the audit service records it."""
        import time

        position = self.ledger(limit=1)["total"] if start is None else start
        while not stop():
            page = self.ledger(limit=500, offset=position)
            yield from page["entries"]
            position += len(page["entries"])
            if not page["entries"]:
                time.sleep(poll)

    def ledger_verify(self) -> dict[str, Any]:
        return self._json("audit", "GET", "/ledger/verify")

    def checkpoint(self) -> dict[str, Any]:
        return self._json("audit", "GET", "/ledger/checkpoint")

    def public_key(self) -> str:
        return self.request("audit", "GET", "/ledger/public-key").text.strip()

    def entry(self, index: int) -> dict[str, Any]:
        return self._json("audit", "GET", f"/ledger/entries/{index}")

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        params = {"size": size} if size else {}
        return self._json("audit", "GET", f"/ledger/entries/{index}/proof", params=params)

    def monthly_report(self, month: str, format: str = "json") -> dict[str, Any] | str:
        response = self.request("audit", "GET", f"/reports/monthly/{month}", params={"format": format},
                                timeout=120)
        return response.json() if format == "json" else response.text

    def model_card(self, name: str, version: int, format: str = "json") -> dict[str, Any] | str:
        response = self.request("audit", "GET", f"/reports/model-card/{name}/{version}", params={"format": format})
        return response.json() if format == "json" else response.text


def labels_from_csv(path: str | Path) -> list[dict[str, Any]]:
    """A CSV with columns request_id, label and optionally row (default 0): what POST /labels takes."""
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"request_id", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; the header needs "
                             "request_id,label (and optionally row)")
        labels = []
        for line, row in enumerate(reader, start=2):
            if not row["request_id"]:
                raise ValueError(f"{path}, line {line}: request_id is empty")
            labels.append({"request_id": row["request_id"], "row": int(row.get("row") or 0),
                           "label": _number_or_text(row["label"])})
        return labels


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def __getattr__(name: str) -> Any:
    """The notebook helpers, imported on first use: skl2onnx and onnxruntime load only when a model is logged."""
    if name in _NOTEBOOK:
        from . import notebook

        return getattr(notebook, name)
    raise AttributeError(name)
