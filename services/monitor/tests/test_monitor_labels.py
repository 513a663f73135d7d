"""The label store, on SQLite and on PostgreSQL: durable across a restart, idempotent for redelivered batches,
bounded, and shared by instances."""

import pytest

from conveyor_kernel.database import make_engine
from conveyor_monitor.labels import LabelJoin
from conveyor_monitor.performance import Logged

WINDOW = 10


def logged(i: int, version: int = 1) -> Logged:
    return Logged("churn", version, str(i % 2), 0.8 if i % 2 else 0.2, 0.0, {"clinic": "north" if i % 3 else "south"},
                  "classification", "1")


def batch(request: str, n: int, version: int = 1) -> list[tuple[str, int, Logged]]:
    return [(request, i, logged(i, version)) for i in range(n)]


def labels_for(request: str, n: int) -> list[tuple[str, int, str]]:
    return [(request, i, str(i % 2) if i % 4 else str(1 - i % 2)) for i in range(n)]  # every 4th one wrong


@pytest.fixture
def open_store(backend, tmp_path):
    """name -> a new LabelJoin on that store (a SQLite file, or a schema of the test's PostgreSQL database)."""
    def open_(name: str, window: int = WINDOW, **options) -> LabelJoin:
        stem = name.removesuffix(".db")
        url = backend.database_url or f"sqlite:///{tmp_path / name}"
        return LabelJoin(make_engine(url, schema=f"monitor_{stem}"), window, **options)
    return open_


def run(store_at, steps) -> list:
    """Apply (kind, args) steps; `restart` opens a new store object on the same file. Returns every score."""
    store = store_at()
    scored = []
    for kind, args in steps:
        if kind == "restart":
            store.close()
            store = store_at()
        elif kind == "remember":
            store.remember_batch(args)
        else:
            for request, row, truth in args:
                scored.extend(store.join(request, row, truth) or [])
    store.close()
    return scored


def test_a_restart_midway_gives_the_same_scored_windows_as_none(open_store):
    labels = labels_for("a", 25) + labels_for("b", 25)
    steps = [("remember", batch("a", 25)), ("join", labels[:13]), ("remember", batch("b", 25)),
             ("join", labels[13:27]), ("join", labels[27:])]
    straight = run(lambda: open_store("one.db", WINDOW), steps)
    restarted = run(lambda: open_store("two.db", WINDOW),
                    steps[:2] + [("restart", None)] + steps[2:4] + [("restart", None)] + steps[4:])
    assert len(straight) == 5  # 50 labels, windows of 10
    assert restarted == straight
    assert straight[0].metrics["accuracy"] == 0.7 and "clinic" in straight[0].equalized_odds


def test_a_redelivered_batch_is_not_remembered_twice(open_store):
    store = open_store("labels.db", WINDOW)
    assert store.remember_batch(batch("a", 8)) == 8
    assert [store.join("a", i, "1") for i in range(3)] == [[], [], []]
    assert store.remember_batch(batch("a", 8)) == 0  # redelivered after a crash, partly labelled meanwhile
    assert store.pending() == 5
    assert store.join("a", 0, "1") is None  # a label joins once
    store.close()
    reopened = open_store("labels.db", WINDOW)
    assert reopened.remember_batch(batch("a", 8)) == 0 and reopened.pending() == 5
    scored = [s for i in range(3, 8) for s in reopened.join("a", i, "1")]
    assert scored == []  # 8 labelled of a window of 10: nothing scored twice, nothing early


def test_pending_rows_are_bounded_oldest_forgotten_first_and_baselines_persist(open_store):
    store = open_store("labels.db", WINDOW, max_pending=5)
    store.remember_batch(batch("a", 4))
    store.remember_batch(batch("b", 3))
    assert store.pending() == 5
    assert store.join("a", 0, "1") is None and store.join("a", 1, "1") is None  # forgotten
    assert store.join("a", 2, "1") == [] and store.join("b", 2, "1") == []
    store.set_baseline("churn", 1, {"accuracy": 0.9})
    store.set_baseline("churn", 1, {"accuracy": 0.95})  # a redelivered ModelRegistered: upsert
    store.close()
    reopened = open_store("labels.db", WINDOW, max_pending=5)
    assert reopened.pending() == 3
    assert reopened.baseline("churn", 1) == {"accuracy": 0.95} and reopened.baseline("churn", 2) == {}


def test_labelled_rows_keep_their_input_rows_until_a_feedback_table_carries_them(open_store):
    store = open_store("labels.db", WINDOW)
    rows = [("a", i, Logged("churn", 1, "1", 0.5, 0.0, {}, "classification", "1",
                            {"x": float("nan") if i == 0 else float(i), "plan": "pro"}, 1000 + i)) for i in range(12)]
    store.remember_batch(rows)
    scored = [s for i in range(11) for s in store.join("a", i, str(i % 2))]
    assert len(scored) == 1  # the first 10 formed a performance window, and stay as feedback
    assert store.uncollected("churn") == 11 and store.uncollected("other") == 0
    store.close()
    store = open_store("labels.db", WINDOW)  # durable across a restart
    found = store.feedback("churn")
    assert [f.truth for f in found] == [str(i % 2) for i in range(11)]
    assert found[0].logged.inputs == {"x": None, "plan": "pro"} and found[3].logged.timestamp_ms == 1003
    store.collected([f.seq for f in found], "sha")
    assert store.uncollected("churn") == 0 and store.feedback("churn") == []
    store.join("a", 11, "1")
    assert [f.logged.inputs["x"] for f in store.feedback("churn")] == [11.0]  # only the new row
    store.close()


def test_two_instances_share_the_store_and_complete_each_window_once(open_store):
    first, second = open_store("labels.db", WINDOW), open_store("labels.db", WINDOW)
    first.remember_batch(batch("a", 40))  # the instance that consumed the predictions
    labels = labels_for("a", 40)
    from concurrent.futures import ThreadPoolExecutor

    def post(store, part):  # labels reach whichever instance the load balancer picked
        return [s for request, row, truth in part for s in (store.join(request, row, truth) or [])]

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(post, first, labels[0::2]), pool.submit(post, second, labels[1::2])]
        scored = [s for future in futures for s in future.result()]
    assert len(scored) == 4 and all(s.size == WINDOW for s in scored)  # 40 labels: 4 windows, none twice
    assert second.uncollected("churn") == 40
    second.set_champion("churn", {"version": 1, "dataset_id": "d1"})
    assert first.champion("churn") == {"dataset_id": "d1", "version": 1} and first.champion("other") is None
    first.close()
    second.close()
