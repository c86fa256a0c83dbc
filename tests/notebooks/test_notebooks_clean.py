"""The committed notebooks: no outputs, a parameters cell, thin cells (no boto3, no loops or branches)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "00_preflight", "01_connection", "02_instance_role", "03_vpc_connector", "04_autoscaling",
    "05_service", "06_custom_domains", "50_operations", "90_teardown", "99_audit",
]  # fmt: skip


def test_the_sequence_is_complete() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_clean_and_thin(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: commit without outputs"
        assert "boto3" not in cell.source
        assert not re.search(r"^\s*(for|while|if|try)\b", cell.source, re.M), f"{path.name}: keep it thin"
    (params,) = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert "params_path =" in params.source and "interactive =" in params.source
