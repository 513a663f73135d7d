"""`conveyor policy test FILE` against a registry app: the recorded decisions replayed under a draft, flips named."""

import os

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conveyor_cli import governance_cmd
from conveyor_cli.main import app as cli
from conveyor_kernel.callers import token_for
from conveyor_kernel.identity import TECH_LEADER
from conveyor_kernel.memory import InMemoryBus
from conveyor_registry.policy_doc import default_policy
from conveyor_registry.settings import RegistrySettings
from conveyor_registry.wiring import create_app


@pytest.fixture
def registry_client(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    # the registry tests' ModelTrained factory (the root conftest shadows the name `conftest`)
    spec = importlib.util.spec_from_file_location(
        "registry_test_factories", Path(__file__).resolve().parents[3] / "services/registry/tests/conftest.py")
    factories = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(factories)
    trained = factories.trained

    app = create_app(RegistrySettings(data_dir=tmp_path), transport=InMemoryBus(source="registry"))
    with TestClient(app) as client:
        client.portal.call(app.state.registry.register, trained("run-1", {"roc_auc": 0.90}))
        client.portal.call(app.state.registry.register, trained("run-2", {"roc_auc": 0.93}))
        monkeypatch.setattr(governance_cmd.httpx, "request", lambda method, url, **kw: client.request(
            method, url.removeprefix("http://127.0.0.1:8003"), **kw))
        monkeypatch.setitem(os.environ, "CONVEYOR_TOKEN", token_for(app, "tess", TECH_LEADER))
        yield client


def test_policy_test_prints_which_recorded_decisions_a_draft_would_flip(registry_client, tmp_path):
    strict = default_policy().as_json()
    strict["params"]["metric_tolerance"] = 0.0
    strict["rules"][0]["expr"] = "!has_champion || metric.candidate >= metric.champion + 0.05"
    import json

    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(strict))
    result = CliRunner().invoke(cli, ["policy", "test", str(draft)])
    assert result.exit_code == 0, result.output
    assert "2 recorded decision(s), 1 would flip" in result.output
    assert "FLIP churn v2 -> production" in result.output and "pass -> fail" in result.output


def test_policy_test_names_a_broken_draft_before_sending_it(registry_client, tmp_path):
    draft = tmp_path / "draft.toml"
    draft.write_text('schema = 1\nname = "x"\n[aliases.production]\nquorum.low = { approvals = 0 }\n')
    result = CliRunner().invoke(cli, ["policy", "test", str(draft)])
    assert result.exit_code == 1 and "missing: medium, high" in result.output
