"""Helpers shared by the unit tests (imported as `unit_helpers`; fixtures live in conftest.py)."""

from __future__ import annotations

import copy
from typing import Any

from runbook_lib.params import Params, parse_params

ACCOUNT = "123456789012"
BASE_DOC: dict[str, Any] = {
    "name": "demo-app",
    "account_id": ACCOUNT,
    "region": "us-east-1",
    "tags": {"team": "platform"},
    "connection": {"name": "github-demo"},
    "source": {"repository_url": "https://github.com/example/app", "branch": "main", "runtime": "GO_1"},
    "instance": {},
    "autoscaling": {},
}


def demo_params(sections: dict[str, Any] | None = None, **overrides: Any) -> Params:
    """The `demo-app` params: BASE_DOC with whole ``sections`` replaced, then dotted ``overrides``."""
    doc = {**copy.deepcopy(BASE_DOC), **copy.deepcopy(sections or {})}
    return parse_params(doc, overrides=overrides)


class FakeTime:
    """An injectable clock that only moves when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
