"""Lean API models: every operation and shape of botocore's model, without the prose, from a cache."""

from __future__ import annotations

from pathlib import Path

import botocore.loaders
import pytest

from runbook_lib import lean_models


def test_the_lean_model_is_botocores_with_documentation_emptied(tmp_path: Path) -> None:
    lean = lean_models.create_loader()
    lean.file_loader.folder = tmp_path
    full = botocore.loaders.create_loader().load_service_model("apprunner", "service-2")
    got = lean.load_service_model("apprunner", "service-2")
    assert got == lean_models.strip_documentation(full)
    assert type(got) is dict and got["operations"]["CreateService"]["documentation"] == ""
    assert len(list(tmp_path.glob("*.json"))) == 1  # the cache, read by the next process
    again = lean_models.create_loader()
    again.file_loader.folder = tmp_path
    assert again.load_service_model("apprunner", "service-2") == got


def test_a_torn_cache_file_falls_back_to_botocore(tmp_path: Path) -> None:
    lean = lean_models.create_loader()
    lean.file_loader.folder = tmp_path
    lean.load_service_model("sts", "service-2")
    (cached,) = tmp_path.glob("*.json")
    cached.write_text("{not json")
    other = lean_models.create_loader()
    other.file_loader.folder = tmp_path
    assert "AssumeRole" in other.load_service_model("sts", "service-2")["operations"]


def test_clients_use_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from runbook_lib import apimodels, clients

    monkeypatch.setenv(lean_models.DIR_ENV, str(tmp_path))
    monkeypatch.setattr(apimodels, "_LOADERS", {})  # the process's shared loader, built afresh
    made = clients.make_clients(region="us-east-1")
    model = made.apprunner.meta.service_model
    assert model.operation_model("CreateService").documentation == ""
    assert "ServiceName" in model.operation_model("CreateService").input_shape.members
    assert list(tmp_path.glob("*.json"))
