"""What the access guard costs a request, in process: the serving app with its guard against the same app built
without it, in the same invocation (interleaved rounds, best kept), calling the ASGI app directly (no sockets,
so the difference is not lost in the network stack's noise).

- infer (lr, one row): the hot path, whose rule is "inference": the guard matches the path and passes.
- repository index with a manager's token: a control route, where the guard verifies an EdDSA JWT.
Not a test: it asserts nothing. Usage: .venv/bin/python bench/access_guard.py [--requests 60000] [--rounds 30]
(the best of many short rounds: this machine is shared, and one round of noise would swamp a microsecond)
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_servers import build_models  # noqa: E402

from conveyor_kernel._guard import AccessGuard  # noqa: E402
from conveyor_kernel.callers import token_for  # noqa: E402
from conveyor_kernel.identity import MANAGER
from conveyor_serving.settings import ServingSettings  # noqa: E402
from conveyor_serving.wiring import create_app  # noqa: E402


def _app(workdir: Path, guarded: bool):
    app = create_app(ServingSettings(data_dir=workdir / "data", model_repository=workdir / "repo",
                                     kafka_enabled=False))
    if not guarded:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not AccessGuard]
    return app


async def _serve(app, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]], count: int) -> float:
    """Seconds per request over `count` requests straight into the ASGI app."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "root_path": "", "scheme": "http", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         *headers], "server": ("127.0.0.1", 8004), "client": ("127.0.0.1", 50000)}
    statuses = set()

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    started = time.perf_counter()
    for _ in range(count):
        await app(dict(scope), receive, send)
    elapsed = (time.perf_counter() - started) / count
    assert statuses == {200}, statuses
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-guard-") as tmp:
        workdir = Path(tmp)
        bodies = build_models(workdir)
        apps = {"with guard": _app(workdir, True), "without guard": _app(workdir, False)}
        lifespans = [app.router.lifespan_context(app) for app in apps.values()]
        for lifespan in lifespans:
            await lifespan.__aenter__()
        manager = token_for(apps["with guard"], "bench", MANAGER).encode()
        cases = {
            "infer lr (rule: inference)": ("POST", "/v2/models/lr/infer", bodies["lr"].read_bytes(), []),
            "repository index (manager token)": ("POST", "/v2/repository/index", b"",
                                                 [(b"authorization", b"Bearer " + manager)]),
        }
        best: dict[tuple[str, str], float] = {}
        try:
            for case, (method, path, body, headers) in cases.items():
                for app in apps.values():  # warm-up
                    await _serve(app, method, path, body, headers, 500)
                for _ in range(args.rounds):
                    for name, app in apps.items():
                        seconds = await _serve(app, method, path, body, headers, args.requests // args.rounds)
                        best[(case, name)] = min(best.get((case, name), float("inf")), seconds)
        finally:
            for lifespan in lifespans:
                await lifespan.__aexit__(None, None, None)
    print("| request | without guard (us) | with guard (us) | guard adds (us) | ratio with/without |")
    print("|---|---:|---:|---:|---:|")
    for case in cases:
        plain, guarded = best[(case, "without guard")] * 1e6, best[(case, "with guard")] * 1e6
        print(f"| {case} | {plain:.1f} | {guarded:.1f} | {guarded - plain:+.1f} | {guarded / plain:.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
