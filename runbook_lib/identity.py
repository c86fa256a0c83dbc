"""Who and where: the caller's identity, the account guard, the session's credentials and the sandbox.

``is_sandbox_endpoint`` is the one test of whether calls go to the local sandbox: it parses the URL and
compares its host (``127.0.0.1``, ``localhost``, ``::1``), so ``http://localhost.evil.com`` is not it.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from runbook_lib.aws import call
from runbook_lib.errors import WrongAccount

if TYPE_CHECKING:
    from runbook_lib.clients import Clients
    from runbook_lib.params import Params

__all__ = [
    "SANDBOX_HOSTS", "caller", "caller_identity", "check_account", "is_local", "is_sandbox_endpoint",
    "sandbox_endpoint", "session_credentials",
]  # fmt: skip

SANDBOX_HOSTS = {"127.0.0.1", "localhost", "::1"}


def caller_identity(clients: Clients) -> dict[str, str]:
    """Who the credentials belong to: Account, Arn, UserId."""
    found = call(clients, "sts", "GetCallerIdentity", resource="caller identity")
    return {"Account": found["Account"], "Arn": found["Arn"], "UserId": found["UserId"]}


def check_account(clients: Clients, params: Params) -> dict[str, str]:
    """Return the caller identity, or raise WrongAccount if it is not ``params.account_id``."""
    identity = caller_identity(clients)
    if identity["Account"] != params.account_id:
        raise WrongAccount(
            "Nothing was changed.",
            expected=params.account_id,
            actual=identity["Account"],
            arn=identity["Arn"],
        )
    return identity


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
    identity = check_account(clients, params)
    endpoint = clients.endpoint_url
    return {
        "Account": identity["Account"],
        "Arn": identity["Arn"],
        "UserId": identity["UserId"],
        "Region": clients.region,
        "Endpoint": endpoint,
        "Sandbox": is_sandbox_endpoint(endpoint),
    }


def is_sandbox_endpoint(url: str | None) -> bool:
    """Whether ``url`` is the local sandbox's: its host is 127.0.0.1, localhost or ::1."""
    try:
        return bool(url) and urllib.parse.urlsplit(str(url)).hostname in SANDBOX_HOSTS
    except ValueError:  # not a URL at all
        return False


is_local = is_sandbox_endpoint  # (its old name, in runbook_lib.runner)


def sandbox_endpoint(clients: Clients) -> str | None:
    """The local sandbox's URL when App Runner calls go to it (an endpoint on 127.0.0.1/localhost)."""
    endpoint = clients.endpoint_url or ""
    return endpoint if is_sandbox_endpoint(endpoint) else None
