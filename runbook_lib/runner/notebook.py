"""Execute one notebook with papermill; the scrubbed output is written even when it fails."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib import audit, report, signals
from runbook_lib.redact import Redactor
from runbook_lib.runner.io import _redacting_io, _RedactingIO
from runbook_lib.runner.kernels import close_clients
from runbook_lib.runner.steps import KERNEL_NAME, Event

__all__ = ["Executed", "StoppedBeforeCell", "execute_notebook"]

log = logging.getLogger(__name__)



@dataclass
class Executed:
    """One executed notebook: status, duration, what it displayed, and the error if any."""

    status: str
    duration_s: float
    payloads: list[dict[str, Any]]
    sha256: str | None
    error: dict[str, Any] | None = None


def execute_notebook(
    input_path: str | Path, output_path: str, parameters: Mapping[str, Any], *, store: audit.Store,
    redactor: Redactor, kernel_name: str = KERNEL_NAME, cell_timeout: float | None = None,
    deadline: float | None = None, start_timeout: float = 60.0,
    on_event: Callable[[Event], None] | None = None, km: Any = None, stop: signals.StopState | None = None,
) -> Executed:  # fmt: skip
    """Execute one notebook with papermill; the scrubbed output is written even when it fails.

    ``km``: a kernel from ``start_kernel`` to run it on (left running, its clients closed); None
    starts one as usual. ``stop``: once it is requested, no further cell starts.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    io = _redacting_io()
    target = io.target(store, output_path, redactor)
    started = time.monotonic()
    name = Path(input_path).stem
    emit = on_event or (lambda event: None)

    def timeout_for(cell: Any) -> int | None:
        limits = [t for t in (cell_timeout, None if deadline is None else deadline - time.monotonic()) if t]
        return max(1, int(min(limits))) if limits else None

    def cell_done(cell: Any, cell_index: int, execute_reply: Any = None, **_: Any) -> None:
        emit({"event": "cell", "notebook": name, "cell_index": cell_index})

    error: dict[str, Any] | None = None
    try:
        papermill.execute_notebook(
            str(input_path), target, parameters=dict(parameters), kernel_name=kernel_name, progress_bar=False,
            start_timeout=int(start_timeout), timeout_func=timeout_for, on_cell_executed=cell_done,
            on_cell_start=_refuse_cells_once(stop),
            shutdown_kernel="immediate",  # every cell has finished and its output is in: no grace needed
            **({"km": km} if km is not None else {}),
        )  # fmt: skip
    except PapermillExecutionError as err:
        error = {"type": err.ename, "message": redactor.text(err.evalue), "cell_index": err.cell_index}
    except (CellTimeoutError, DeadKernelError, StoppedBeforeCell) as err:
        error = _mark_interrupted(io, output_path, target, err, redactor)
    except Exception as err:  # kernel start, I/O: the notebook never ran to an error cell
        error = {"type": type(err).__name__, "message": redactor.text(str(err))}
        log.debug("notebook %s failed outside a cell: %s", name, traceback.format_exc())
    finally:
        if km is not None:
            close_clients(km)
    nb = io.written.get(output_path)
    executed = Executed(
        status="failed" if error else "ok",
        duration_s=round(time.monotonic() - started, 3),
        payloads=report.extract(nb) if nb is not None else [],
        sha256=io.digests.get(output_path),
        error=error,
    )
    io.release(output_path)
    return executed


class StoppedBeforeCell(Exception):
    """Raised (by the cell-start hook) instead of running a cell once a signal came."""


def _refuse_cells_once(stop: signals.StopState | None) -> Callable[..., None] | None:
    """nbclient's cell-start hook: once a signal came, the next cell does not start."""
    if stop is None:
        return None

    def cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        if stop.requested:
            raise StoppedBeforeCell(f"stopped by {signals.signal_name(stop.signum)} before this cell ran")

    return cell_start


def _mark_interrupted(
    io: _RedactingIO, output_path: str, target: str, err: Exception, redactor: Redactor
) -> dict[str, Any]:
    """A timed-out or dead kernel: add an error output to the cell that was running, as papermill would."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import raise_for_execution_errors

    kind = type(err).__name__
    message = redactor.text(str(err).splitlines()[0] if str(err) else kind)
    nb = io.written.get(output_path)
    if nb is None:
        return {"type": kind, "message": message}
    started = [
        i for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]  # fmt: skip
    index = started[-1] if started else 0
    nb.cells[index].setdefault("outputs", []).append(
        nbformat.v4.new_output("error", ename=kind, evalue=message, traceback=[f"{kind}: {message}"])
    )
    try:
        raise_for_execution_errors(nb, target)
    except PapermillExecutionError:
        pass
    return {"type": kind, "message": message, "cell_index": index}
