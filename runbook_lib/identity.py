"""Who and where: the caller's identity, the account check and the session's credentials."""

from __future__ import annotations

from typing import Any

__all__ = ["caller", "is_local", "session_credentials"]


def session_credentials(clients: Any) -> list[str]:
    """The resolved credentials (profile, SSO, …) of the session, to scrub them wherever they appear."""
    try:
        creds = clients.session.get_credentials()
    except Exception:  # no credentials: the identity call reports it
        return []
    if creds is None:
        return []
    frozen = creds.get_frozen_credentials()
    return [v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v]


def caller(clients: Any, params: Any) -> dict[str, Any]:
    """Account, ARN, region and endpoint of the caller; raises WrongAccount outside the params' account."""
    from runbook_lib.clients import check_account

    identity = check_account(clients, params)
    endpoint = clients.endpoint_url
    return {
        "Account": identity["Account"],
        "Arn": identity["Arn"],
        "UserId": identity["UserId"],
        "Region": clients.region,
        "Endpoint": endpoint,
        "Sandbox": is_local(endpoint),
    }


def is_local(endpoint: str | None) -> bool:
    return bool(endpoint) and any(h in str(endpoint) for h in ("://127.0.0.1", "://localhost"))
