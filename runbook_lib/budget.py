"""One timeout budget: the waits each notebook may do, from the params, and cell timeouts that cover them.

nbclient interrupts a cell that outlives its timeout. If that timeout were shorter than the library's own
waits, the cell would be killed mid-wait: the library's WaitTimeout (with how to resume) would never be
raised and a teardown would never reach what comes after the stuck resource. So, unless the user gives
``--cell-timeout`` / ``--timeout``, the runner gives each notebook's cells ``BASE_CELL_S`` plus the sum
of the waits its step may do one after another, and the run ``BASE_RUN_S`` plus the waits of all its
steps. Pure functions of the params.
"""

from __future__ import annotations

from collections.abc import Iterable

from runbook_lib.params import Params

__all__ = [
    "BASE_CELL_S", "BASE_RUN_S", "cell_timeout", "run_timeout", "step_waits",
]  # fmt: skip


BASE_CELL_S = 1800.0  # a cell's own work besides waits (API calls with retries), as before the budget
BASE_RUN_S = 7200.0  # a run's own work besides waits


def step_waits(params: Params, step: str) -> dict[str, float]:
    """The waits one step (a runner step name) may do in one cell, one after another, in seconds."""
    t = params.timeouts
    service = float(t.service_s)
    connector = {"old vpc connector deletion": float(t.vpc_connector_delete_s)} if params.network else {}
    network = {
        "vpc connector deletion": float(t.vpc_connector_delete_s),
        "security group deletion": float(t.security_group_delete_s),
    }
    private = {"ingress connection": float(t.ingress_s)} if params.ingress else {}
    domains = len(params.custom_domains)
    waits: dict[str, dict[str, float]] = {
        "domains": {
            "domain records": 300.0 * domains,
            "domain validation": float(t.domain_validation_s) * domains,
        }
        if domains
        else {},
        "connection": {
            "handshake": float(params.connection.handshake_timeout_s) if params.connection else 0.0
        },
        # a busy service settles, a failed one is deleted, then the create/update/resume operation
        "service": {
            "service settling": service,
            "failed service deletion": service,
            "service operation": service,
            **connector,
            **private,
        },
        **{
            op: {"service settling": service, "service operation": service}
            for op in ("pause", "resume", "deploy")
        },
        "teardown": {
            **({"domain disassociation": 300.0 * domains} if domains else {}),
            **private,
            "service settling": service,
            "service deletion": service,
            **(network if params.network else {}),
        },
    }
    return waits.get(step, {})


def cell_timeout(params: Params, step: str) -> float:
    """Seconds each cell of this step's notebook may run: ``BASE_CELL_S`` plus the step's waits."""
    return BASE_CELL_S + sum(step_waits(params, step).values())


def run_timeout(params: Params, steps: Iterable[str]) -> float:
    """Seconds a whole run may take: ``BASE_RUN_S`` plus the waits of every step it runs."""
    return BASE_RUN_S + sum(sum(step_waits(params, step).values()) for step in steps)
