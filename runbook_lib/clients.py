"""The one factory for boto3 clients, and the account guard.

Region comes from the params (or the caller), profile and endpoint from the standard AWS chain:
``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` are honoured by botocore
itself. Every call made through these clients is recorded (operation, identifying names, request id,
outcome, duration) for progress callbacks and the audit trail.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from runbook_lib import shared_reads, throttle
from runbook_lib.apimodels import botocore_session

if TYPE_CHECKING:
    from runbook_lib.params import Params

__all__ = [
    "CallRecord", "Clients", "READ_PREFIXES", "SERVICES", "STABLE", "USER_AGENT", "is_mutating",
    "make_clients", "summarize_request",
]  # fmt: skip


USER_AGENT = "runbook-lib/0.1.0"
SERVICES = ("apprunner", "iam", "ec2", "sts", "s3", "route53")
READ_PREFIXES = ("Describe", "List", "Get", "Head")  # Head*: S3 (HeadObject, HeadBucket)
# request members that identify a resource; everything else (env, secrets, commands) stays out of logs
_IDENTIFYING = (
    "ServiceName", "ServiceArn", "ConnectionName", "ConnectionArn", "VpcConnectorName", "VpcConnectorArn",
    "AutoScalingConfigurationName", "AutoScalingConfigurationArn", "ResourceArn", "OperationId",
    "RoleName", "PolicyArn", "GroupName", "GroupId", "VpcId", "Bucket", "Key",
)  # fmt: skip


def is_mutating(operation: str) -> bool:
    """A read is an operation named Describe*, List*, Get* (or Head*); anything else mutates.

    The one predicate: the sandbox's request log (``sandbox.server``) uses it too."""
    return not operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class CallRecord:
    """One AWS API call as seen by the library."""

    service: str
    operation: str
    mutating: bool
    outcome: str  # "ok" or the AWS error code
    duration_s: float
    request_id: str | None = None
    retries: int = 0
    names: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_request(params: dict[str, Any]) -> dict[str, str]:
    """The identifying members of a request (names, ARNs, ids), never its values or secrets."""
    return {k: str(v) for k, v in params.items() if k in _IDENTIFYING and isinstance(v, (str, int))}


# reads of things the runbook never changes, memoized for the life of the clients (runbook_lib.aws.call)
STABLE = frozenset({("sts", "GetCallerIdentity"), ("ec2", "DescribeVpcs"), ("ec2", "DescribeSubnets")})


class Clients:
    """Lazily built boto3 clients sharing one session, one Config and one call recorder."""

    def __init__(self, session: boto3.Session, config: Config, endpoint_url: str | None = None) -> None:
        self.session = session
        self.config = config
        self.region = session.region_name
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.calls: list[CallRecord] = []
        self.listeners: list[Callable[[CallRecord], None]] = []
        self.reads: dict[tuple[str, str, str], Any] = {}  # memo of reads, see runbook_lib.aws.call
        self.read_only = False  # inside read_only_scope(): every read is memoized
        self.budget: Any = None  # runbook_lib.throttle.Budget: App Runner requests wait for a token
        self.shared: Any = None  # runbook_lib.shared_reads.SharedReads: a batch's shared listings
        # what this process created or read that only a change can alter, kept across the notebooks of a
        # kernel (make_clients keeps them): ARN -> (tags it created it with, when) (aws.resource_tags),
        # and auto scaling revision ARN -> its settings, which never change (autoscaling)
        self.created_tags: dict[str, tuple[dict[str, str], float]] = {}
        self.revision_settings: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def read_only_scope(self) -> Iterator[None]:
        """Within the block (a plan: reads only, no waits) a repeated read is answered from memory; the
        block starts and ends with no memory of changeable reads, so every plan reads afresh."""
        self.forget_reads()
        self.read_only = True
        try:
            yield
        finally:
            self.read_only = False
            self.forget_reads()

    def forget_reads(self) -> None:
        """Drop the memo of reads, except those of what the runbook never changes (STABLE)."""
        self.reads = {k: v for k, v in self.reads.items() if (k[0], k[1]) in STABLE}

    def client(self, service: str) -> Any:
        """The client for one service, created on first use."""
        with self._lock:
            if service not in self._clients:
                made = self.session.client(service, config=self.config, endpoint_url=self._endpoint_url)
                self._record_calls(made)
                if service == "apprunner" and self.budget is not None:
                    self.budget.attach(made)
                self._clients[service] = made
            return self._clients[service]

    # one client per service, made on first use: clients.apprunner, clients.iam, …
    apprunner = property(lambda self: self.client("apprunner"))
    iam = property(lambda self: self.client("iam"))
    ec2 = property(lambda self: self.client("ec2"))
    sts = property(lambda self: self.client("sts"))
    s3 = property(lambda self: self.client("s3"))

    @property
    def endpoint_url(self) -> str:
        """Where App Runner calls go: AWS, or the local sandbox."""
        return self.apprunner.meta.endpoint_url

    def _record_calls(self, client: Any) -> None:
        service = client.meta.service_model.service_name

        def before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["runbook_started"] = time.monotonic()
            context["runbook_names"] = summarize_request(params)

        def record(operation: str, context: dict[str, Any], outcome: str, meta: dict[str, Any]) -> None:
            entry = CallRecord(
                service=service,
                operation=operation,
                mutating=is_mutating(operation),
                outcome=outcome,
                duration_s=round(time.monotonic() - context.get("runbook_started", time.monotonic()), 4),
                request_id=meta.get("RequestId"),
                retries=int(meta.get("RetryAttempts", 0)),
                names=context.get("runbook_names", {}),
            )
            self.calls.append(entry)
            for listener in list(self.listeners):
                listener(entry)

        def after(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            code = parsed.get("Error", {}).get("Code") if "Error" in parsed else None
            record(model.name, context, code or "ok", parsed.get("ResponseMetadata", {}))

        def after_error(exception: Exception, context: dict[str, Any], event_name: str, **_: Any) -> None:
            # botocore emits no `model` with this event (connection refused, timeouts, retries exhausted)
            record(event_name.rsplit(".", 1)[-1], context, type(exception).__name__, {})

        client.meta.events.register(f"before-parameter-build.{service}", before)
        client.meta.events.register(f"after-call.{service}", after)
        client.meta.events.register(f"after-call-error.{service}", after_error)


# Kernels the runner starts (runbook_lib.kernel) set this: their notebooks run one after another in one
# thread, so each notebook's make_clients hands back the previous notebook's Clients, emptied (no calls,
# listeners or memo: as new), instead of building every boto3 client again (~0.1 s of CPU a notebook).
# Kept: what only a change can alter (created_tags, revision_settings), so a later step of the same run
# need not read again what an earlier one created.
REUSE_ENV = "RUNBOOK_REUSE_CLIENTS"
_REUSED: dict[tuple[Any, ...], Clients] = {}


def make_clients(
    params: Params | None = None,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    max_attempts: int = 8,
) -> Clients:
    """Build the clients: region from params, profile/endpoint from the environment unless given."""
    how = {"region": region, "profile": profile, "endpoint_url": endpoint_url, "max_attempts": max_attempts}
    if os.environ.get(REUSE_ENV) != "1":
        return _new_clients(params, **how)
    env = tuple(os.environ.get(k) for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL"))
    key = (threading.get_ident(), params.account_id if params else None,
           params.region if params else None, *how.values(), *env)  # fmt: skip
    found = _REUSED.get(key)
    if found is None:
        found = _REUSED[key] = _new_clients(params, **how)
    found.calls, found.listeners, found.reads, found.read_only = [], [], {}, False
    return found


def _new_clients(
    params: Params | None, *, region: str | None, profile: str | None, endpoint_url: str | None,
    max_attempts: int,
) -> Clients:
    session = boto3.Session(
        botocore_session=botocore_session(),
        profile_name=profile,
        region_name=region or (params.region if params else None),
    )
    config = Config(
        user_agent_extra=USER_AGENT,
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
    )
    clients = Clients(session, config, endpoint_url)
    clients.budget = throttle.from_environment(params.account_id if params else None, clients.region)
    clients.shared = shared_reads.from_environment(params.account_id if params else None, clients.region)
    return clients
