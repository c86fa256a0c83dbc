"""The runner's machinery with throwaway notebooks (a real kernel, no AWS)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from runbook_lib import audit, runner
from runbook_lib.errors import ParameterError
from runbook_lib.redact import Redactor


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('params_path = ""\ninteractive = True')
    params.metadata.tags = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(nb, path)
    return path


def _execute(tmp_path: Path, source: Path, parameters: dict | None = None, **kw) -> tuple:
    out = str(tmp_path / "out" / source.name)
    (tmp_path / "out").mkdir(exist_ok=True)
    red = Redactor.from_environment(parameters or {})
    done = runner.execute_notebook(
        source,
        out,
        {"params_path": "p.yaml", **(parameters or {})},
        store=audit.Store(str(tmp_path)),
        redactor=red,
        **kw,
    )
    return done, Path(out)


def test_select_steps() -> None:
    assert [s.notebook for s in runner.select_steps("up")][-1] == "06_custom_domains"
    assert [s.name for s in runner.select_steps("up", "05_service")] == ["service"]
    assert [s.name for s in runner.select_steps("down")] == ["preflight", "teardown"]
    with pytest.raises(ParameterError):
        runner.select_steps("up", "teardown")


def test_runner_owned_parameters_cannot_be_passed(tmp_path: Path) -> None:
    runner.check_parameters({"api_token": "x", "n": 3})  # others pass
    with pytest.raises(ParameterError) as err:
        runner.check_parameters({"params_path": "other.yaml", "interactive": True, "ok": 1})
    assert [p.field for p in err.value.problems] == ["interactive", "params_path"]
    assert "set by the runner" in str(err.value)
    params = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"
    options = runner.RunOptions(parameters={"params_path": "x"}, audit_dir=str(tmp_path / "runs"))
    with pytest.raises(ParameterError, match="params_path"):
        runner.run(params, "up", options)
    assert not (tmp_path / "runs").exists()  # refused before the run is recorded


def test_results_travel_as_structured_data_and_secrets_are_scrubbed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "distinctive-secret-key-0042")
    source = _notebook(
        tmp_path / "emit.ipynb",
        "from runbook_lib.report import show_results\nfrom runbook_lib.results import Action, Result\n"
        'show_results([Result("service", "x", Action.CREATED, arn="arn:x")], step="service")',
        'import os\nprint(os.environ["AWS_SECRET_ACCESS_KEY"], db_password)',
    )
    done, out = _execute(tmp_path, source, {"db_password": "hunter2-distinctive"})
    assert done.status == "ok" and done.error is None
    assert done.payloads == [
        {
            "kind": "results",
            "step": "service",
            "data": [
                {
                    "resource": "service",
                    "name": "x",
                    "action": "CREATED",
                    "arn": "arn:x",
                    "changes": [],
                    "detail": "",
                    "console_url": None,
                    "extra": {},
                }
            ],
        }
    ]
    text = out.read_text()
    assert "distinctive-secret-key-0042" not in text and "hunter2-distinctive" not in text
    assert done.sha256 == audit.sha256_file(out)
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "distinctive-secret-key-0042"


def test_a_failing_cell_is_written_with_papermills_error_cells(tmp_path: Path) -> None:
    done, out = _execute(tmp_path, _notebook(tmp_path / "fail.ipynb", "x = 1", 'raise ValueError("boom")'))
    assert done.status == "failed" and done.error["type"] == "ValueError" and done.error["message"] == "boom"
    nb = nbformat.read(out, as_version=4)
    assert "papermill-error-cell" in nb.cells[0].source
    assert any(o.get("ename") == "ValueError" for c in nb.cells for o in c.get("outputs", []))


def test_cell_timeout_interrupts_and_still_writes(tmp_path: Path) -> None:
    source = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)", "after = 1")
    done, out = _execute(tmp_path, source, cell_timeout=1)
    assert done.status == "failed" and done.error["type"] == "CellTimeoutError"
    nb = nbformat.read(out, as_version=4)
    assert any(o.get("ename") == "CellTimeoutError" for c in nb.cells for o in c.get("outputs", []))


def test_after_a_signal_no_further_cell_starts_and_the_notebook_is_written(tmp_path: Path) -> None:
    from runbook_lib import signals

    stop = signals.StopState()
    source = _notebook(tmp_path / "stop.ipynb", "first = 1", "second = 2")
    stop.request(2)  # SIGINT came: no cell starts from now on
    done, out = _execute(tmp_path, source, stop=stop)
    assert done.status == "failed" and done.error["type"] == "StoppedBeforeCell", done.error
    nb = nbformat.read(out, as_version=4)
    assert any(o.get("ename") == "StoppedBeforeCell" for c in nb.cells for o in c.get("outputs", []))
    assert runner.notebook._refuse_cells_once(None) is None


def _printed(out: Path) -> list[str]:
    nb = nbformat.read(out, as_version=4)
    return [o["text"].strip() for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout"]


def test_the_notebooks_of_a_run_share_one_kernel_each_from_a_clean_namespace(tmp_path: Path) -> None:
    kernel = runner.RunKernel(runner.KERNEL_NAME)
    kernel.start()
    try:
        km = kernel.take()
        first = _notebook(tmp_path / "a.ipynb", "import os, fractions\nleft_behind = 1\nprint(os.getpid())")
        done, out = _execute(tmp_path, first, km=km)
        assert done.status == "ok"
        second = _notebook(
            tmp_path / "b.ipynb",
            "import os, sys\nprint(os.getpid(), 'left_behind' in globals(), 'fractions' in sys.modules)",
        )
        assert kernel.take() is km
        done, out2 = _execute(tmp_path, second, km=km)
        assert done.status == "ok"
        (pid,) = _printed(out)
        assert _printed(out2) == [f"{pid} False True"]  # same process, nothing left but the imports
        counts = [c.execution_count for c in nbformat.read(out2, as_version=4).cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1))  # a new session, as in a kernel of its own
        assert runner.run_silently(km, "1") and len(km.__dict__["_runbook_clients"]) == 0
    finally:
        kernel.close()
    assert not kernel._starter._threads or all(not t.is_alive() for t in kernel._starter._threads)


def test_a_batch_hands_a_kernel_from_a_good_run_to_the_next_but_not_from_a_failed_one(tmp_path: Path) -> None:
    from jupyter_core.utils import run_sync

    pool = runner.KernelPool()
    first = runner.RunKernel(runner.KERNEL_NAME, pool=pool)
    first.start()
    km = first.take()
    source = _notebook(tmp_path / "a.ipynb", "import os\nsecret = 1\nprint(os.getpid())")
    _, out = _execute(tmp_path, source, km=km)
    first.close(reusable=True)
    try:
        second = runner.RunKernel(runner.KERNEL_NAME, pool=pool)
        second.start()
        assert second.take() is km and pool.get() is None
        probe = _notebook(tmp_path / "b.ipynb", "import os\nprint(os.getpid(), 'secret' in globals())")
        done, out2 = _execute(tmp_path, probe, km=km)
        assert done.status == "ok" and _printed(out2) == [f"{_printed(out)[0]} False"]
        second.close(reusable=False)  # a failed run: its kernel is stopped, not pooled
        assert pool.get() is None and not run_sync(km.is_alive)()
    finally:
        pool.close()


def test_a_kernel_that_died_between_notebooks_is_replaced(tmp_path: Path) -> None:
    from jupyter_core.utils import run_sync

    kernel = runner.RunKernel(runner.KERNEL_NAME, start_timeout=10)
    kernel.start()
    try:
        km = kernel.take()
        _, out = _execute(tmp_path, _notebook(tmp_path / "a.ipynb", "import os\nprint(os.getpid())"), km=km)
        run_sync(km.shutdown_kernel)(now=True)
        replaced = kernel.take()
        probe = _notebook(tmp_path / "b.ipynb", "import os\nprint(os.getpid())")
        done, out2 = _execute(tmp_path, probe, km=replaced)
        assert done.status == "ok" and _printed(out2) != _printed(out) and len(_printed(out2)) == 1
    finally:
        kernel.close()


def test_collect_keeps_the_last_word_per_resource() -> None:
    manifest = audit.Manifest(run_id="r", action="up", name="n")
    runner.record._collect(
        manifest,
        [
            {
                "kind": "plan",
                "step": "plan",
                "data": [{"resource": "service", "name": "n", "action": "CREATE"}],
            },
            {
                "kind": "results",
                "step": "service",
                "data": [
                    {"resource": "service", "name": "n", "action": "CREATED", "extra": {"url": "abc.example"}}
                ],
            },
            {
                "kind": "verify",
                "step": "service",
                "data": [{"extra": {"ok": True, "http_url": "http://x/", "status_code": 200,
                                    "latency_ms": 3.0, "first_line": "ok"}}],  # fmt: skip
            },
        ],
    )
    assert [r["action"] for r in manifest.resources] == ["CREATED"]
    assert manifest.plan[0]["action"] == "CREATE" and manifest.service_url == "https://abc.example"
    assert manifest.verify == {
        "http_url": "http://x/", "status_code": 200, "latency_ms": 3.0, "first_line": "ok", "ok": True
    }  # fmt: skip
