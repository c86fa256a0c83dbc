"""The sandbox's configuration (operation times, handshake mode, …) and its fault switches."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "Faults", "SandboxConfig",
]  # fmt: skip



@dataclass
class SandboxConfig:
    """Behaviour switches of the emulator (``POST /_sandbox/config``)."""

    op_seconds: float = 2.0
    handshake: str = "auto"
    handshake_seconds: float = 3.0
    deleted_retention_s: float = 300.0
    connection_deleted_retention_s: float = 5.0
    update_on_paused: bool = False
    rebuild_on_create_failed: bool = True
    consistency_delay: float = 0.0
    max_size_limit: int = 25
    service_quota: int = 30
    asc_name_quota: int = 10
    asc_revision_quota: int = 5
    restricted_account: bool = False
    enforce_iam: bool = False  # authorise every request against the caller's IAM policies

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown config key {key!r}; known: {sorted(known)}")
            current = getattr(self, key)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, int):
                value = int(value)
            setattr(self, key, value)
        if self.handshake not in ("auto", "manual"):
            raise ValueError("handshake must be 'auto' or 'manual'")
        if self.consistency_delay < 0:
            raise ValueError("consistency_delay must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Faults:
    """Injected faults (``POST /_sandbox/faults``); a seed makes the random ones repeatable."""

    seed: int | None = None
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    fail_next_create: int = 0
    rollback_next_update: int = 0
    fail_next_delete: int = 0
    connector_release_lag_s: float = 0.0
    eni_release_lag_s: float = 0.0
    short_pages: bool = False
    app_unhealthy: list[str] = field(default_factory=list)
    role_propagation_s: float = 0.0
    rate_limit_per_s: float = 0.0  # App Runner requests above this rate per account: ThrottlingException
    rng: random.Random = field(default_factory=random.Random, repr=False)
    _next_free: dict[str, float] = field(default_factory=dict, repr=False)  # the rate limit's buckets

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)} - {"rng", "_next_free"}
        for key in values:
            if key not in known and key != "maintenance":
                raise ValueError(f"unknown fault {key!r}; known: {sorted(known | {'maintenance'})}")
        for key, value in values.items():
            if key == "maintenance":
                continue
            if key in ("fail_next_create", "rollback_next_update", "fail_next_delete"):
                value = int(value) if not isinstance(value, bool) else int(value)
            elif key in (
                "throttle_rate",
                "error_rate",
                "connector_release_lag_s",
                "eni_release_lag_s",
                "role_propagation_s",
                "rate_limit_per_s",
            ):
                value = float(value)
            elif key == "short_pages":
                value = bool(value)
            elif key == "app_unhealthy":
                value = list(value or [])
            setattr(self, key, value)
        if "seed" in values:
            self.rng = random.Random(self.seed)

    def take(self, name: str) -> bool:
        """Consume one pending one-shot fault (``fail_next_create`` …); True if there was one."""
        count = getattr(self, name)
        if count > 0:
            setattr(self, name, count - 1)
            return True
        return False

    def over_rate(self, account: str, now: float) -> bool:
        """True when a request now exceeds ``rate_limit_per_s`` for the account (a token bucket whose
        burst is one second's worth, as AWS throttles: the throttled request takes no token)."""
        if self.rate_limit_per_s <= 0:
            return False
        interval = 1.0 / self.rate_limit_per_s
        burst = max(self.rate_limit_per_s, 1.0)
        slot = max(self._next_free.get(account, 0.0), now - (burst - 1) * interval)
        if slot > now:
            return True
        self._next_free[account] = slot + interval
        return False

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("rng", "_next_free")}
        data["app_unhealthy"] = list(self.app_unhealthy)
        return data
