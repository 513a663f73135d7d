"""The artifact store on both engines: a local folder, and an S3 bucket on moto's real HTTP server."""

import hashlib
from pathlib import Path

import pytest

from conveyor_kernel import InvalidMessage, ServiceSettings


@pytest.fixture
def store(backend, tmp_path: Path):  # type: ignore[no-untyped-def]
    return ServiceSettings(data_dir=tmp_path, **backend.settings).artifacts()


def test_bytes_go_in_and_come_out_under_their_sha256(store, backend) -> None:  # type: ignore[no-untyped-def]
    data = b"a,b\n1,2\n"
    digest, uri = store.put("datasets", data, ".csv")
    assert digest == hashlib.sha256(data).hexdigest()
    assert uri.startswith("s3://" if backend.distributed else "file://")
    assert uri.endswith(f"/datasets/{digest}.csv")
    assert store.get(uri) == data
    assert store.put("datasets", data, ".csv") == (digest, uri)  # the same bytes twice: one object
    _, doc = store.put_json("references", {"b": 1, "a": [1, 2]})
    assert store.get_json(doc) == {"a": [1, 2], "b": 1}


def test_delete_removes_the_object_for_good(store) -> None:  # type: ignore[no-untyped-def]
    _, uri = store.put("datasets", b"consent withdrawn", ".csv")
    assert store.delete(uri) is True
    assert store.exists(uri) is False
    with pytest.raises(InvalidMessage, match="does not exist"):
        store.get(uri)
    assert store.delete(uri) is False  # idempotent


def test_a_uri_outside_the_store_is_refused(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("not an artifact")
    for uri in (secret.as_uri(), "s3://another-bucket/datasets/x.csv", "http://example.invalid/x",
                store.uri_of("datasets/x.csv").replace("/datasets/", "/../")):
        with pytest.raises(InvalidMessage):
            store.get(uri)


def test_a_missing_object_names_its_uri(store) -> None:  # type: ignore[no-untyped-def]
    uri = store.uri_of("models/" + "0" * 64 + ".onnx")
    with pytest.raises(InvalidMessage, match=uri.replace("/", ".")[:20]):
        store.get(uri)


def test_an_unreachable_bucket_is_a_transient_fault(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from conveyor_cli.local_state import free_port
    from conveyor_kernel import TransientError

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = ServiceSettings(data_dir=tmp_path, artifact_root="s3://nowhere/a").artifacts()
    with pytest.raises(TransientError, match="object store"):
        store.put("datasets", b"x")
