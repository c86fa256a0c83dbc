"""Auto scaling configurations: versioned by revision under one name (docs/apprunner-behavior.md 2.5, L12).

Revisions are found by listing by name (``LatestOnly=False``; statuses compared case-insensitively, the
real API answers ``active``) and described for their settings. ``ensure_autoscaling`` reuses an ACTIVE
revision with the same MaxConcurrency/MinSize/MaxSize, else creates a new revision; at the quota of 5
ACTIVE revisions it first deletes the oldest one that no service uses (never the default, never the one
the caller reports in use), or raises QuotaExceeded when every revision is in use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from runbook_lib.aws import call, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import QuotaExceeded, ResourceNotFound
from runbook_lib.params import Params
from runbook_lib.results import Action, Change, Result, diff_fields

log = logging.getLogger(__name__)

REVISION_QUOTA = 5
SETTINGS = ("max_concurrency", "min_size", "max_size")


# ---------------------------------------------------------------- pure parts


def build_create_autoscaling_request(params: Params) -> dict[str, Any]:
    """CreateAutoScalingConfiguration (a new revision when the name exists), tagged."""
    asc = params.autoscaling
    return {
        "AutoScalingConfigurationName": asc.name,
        "MaxConcurrency": asc.max_concurrency,
        "MinSize": asc.min_size,
        "MaxSize": asc.max_size,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(params.owned_tags.items())],
    }


def desired_settings(params: Params) -> dict[str, int]:
    """The settings a revision must have to be reused."""
    asc = params.autoscaling
    return {"max_concurrency": asc.max_concurrency, "min_size": asc.min_size, "max_size": asc.max_size}


def diff_autoscaling(params: Params, observed: dict[str, Any]) -> tuple[Change, ...]:
    """Setting differences between the params and one observed revision."""
    return diff_fields(desired_settings(params), observed)


def name_arn(revision_arn: str) -> str:
    """``…:autoscalingconfiguration/<name>`` from a full revision ARN (DeleteAllRevisions needs it)."""
    head, _, rest = revision_arn.partition(":autoscalingconfiguration/")
    return f"{head}:autoscalingconfiguration/{rest.split('/')[0]}"


@dataclass(frozen=True)
class Decision:
    """What ensure would do over the observed ACTIVE revisions (pure)."""

    action: Action  # CREATE | UPDATE | UNCHANGED (plan tense)
    reuse: dict[str, Any] | None = None
    evict: tuple[dict[str, Any], ...] = ()
    changes: tuple[Change, ...] = ()
    blocked: bool = False  # at the quota with no revision free to delete


def decide_autoscaling(
    params: Params, revisions: list[dict[str, Any]], in_use_arn: str | None = None
) -> Decision:
    """Reuse a matching revision (the one in use first, else the newest), or plan a new revision."""
    matching = [r for r in revisions if not diff_autoscaling(params, r)]
    if matching:
        in_use = [r for r in matching if r["arn"] == in_use_arn]
        return Decision(Action.UNCHANGED, reuse=(in_use or matching[-1:])[0])
    if not revisions:
        return Decision(Action.CREATE, changes=diff_fields(desired_settings(params), {}))
    reference = next((r for r in revisions if r["arn"] == in_use_arn), revisions[-1])
    changes = diff_autoscaling(params, reference)
    excess = len(revisions) - (REVISION_QUOTA - 1)
    if excess <= 0:
        return Decision(Action.UPDATE, changes=changes)
    free = [
        r
        for r in revisions
        if not r["has_associated_service"] and not r["is_default"] and r["arn"] != in_use_arn
    ]
    return Decision(Action.UPDATE, evict=tuple(free[:excess]), changes=changes, blocked=len(free) < excess)


# ---------------------------------------------------------------- readers


def _summaries(clients: Clients, params: Params) -> list[dict[str, Any]]:
    name = params.autoscaling.name
    items = paginate(
        clients,
        "apprunner",
        "ListAutoScalingConfigurations",
        "AutoScalingConfigurationSummaryList",
        resource=f"auto scaling configuration {name}",
        AutoScalingConfigurationName=name,
        LatestOnly=False,
    )
    active = [
        i
        for i in items
        if i.get("AutoScalingConfigurationName") == name and str(i.get("Status", "")).upper() == "ACTIVE"
    ]
    return sorted(active, key=lambda i: i["AutoScalingConfigurationRevision"])


def _revision(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": item["AutoScalingConfigurationArn"],
        "name": item["AutoScalingConfigurationName"],
        "revision": item["AutoScalingConfigurationRevision"],
        "status": str(item.get("Status", "")).upper(),
        "max_concurrency": item.get("MaxConcurrency"),
        "min_size": item.get("MinSize"),
        "max_size": item.get("MaxSize"),
        "has_associated_service": bool(item.get("HasAssociatedService")),
        "is_default": bool(item.get("IsDefault")),
    }


def find_autoscaling(clients: Clients, params: Params) -> list[dict[str, Any]]:
    """Every ACTIVE revision of the name, oldest first, with its settings (one Describe per revision)."""
    revisions = []
    for summary in _summaries(clients, params):
        arn = summary["AutoScalingConfigurationArn"]
        try:
            found = call(
                clients,
                "apprunner",
                "DescribeAutoScalingConfiguration",
                resource=f"auto scaling configuration {arn}",
                AutoScalingConfigurationArn=arn,
            )["AutoScalingConfiguration"]
        except ResourceNotFound:  # deleted between list and describe
            continue
        if str(found.get("Status", "")).upper() == "ACTIVE":
            revisions.append(_revision(found))
    return revisions


# ---------------------------------------------------------------- plan / ensure / delete / prune


def _result(params: Params, action: Action, revision: dict[str, Any] | None = None, **kwargs: Any) -> Result:
    extra = {"revision": revision["revision"]} if revision else {}
    extra.update(kwargs.pop("extra", {}))
    arn = revision["arn"] if revision else kwargs.pop("arn", None)
    return Result("autoscaling", params.autoscaling.name, action, arn=arn, extra=extra, **kwargs)


def _reuse_detail(reuse: dict[str, Any], in_use_arn: str | None) -> str:
    if in_use_arn is None or reuse["arn"] == in_use_arn:
        return ""
    return f"reuses revision {reuse['revision']}; the service is to be switched to it"


def plan_autoscaling(clients: Clients, params: Params, *, in_use_arn: str | None = None) -> Result:
    """Read-only: CREATE (no revision), UPDATE (new revision) or UNCHANGED (a matching revision exists)."""
    decision = decide_autoscaling(params, find_autoscaling(clients, params), in_use_arn)
    if decision.reuse:
        return _result(
            params, Action.UNCHANGED, decision.reuse, detail=_reuse_detail(decision.reuse, in_use_arn)
        )
    detail = ""
    if decision.blocked:
        detail = f"blocked: {REVISION_QUOTA} revisions exist and every one is in use"
    elif decision.evict:
        detail = (
            "deletes unused revision(s) " + ", ".join(str(r["revision"]) for r in decision.evict) + " first"
        )
    return _result(params, decision.action, changes=decision.changes, detail=detail)


def _delete_revision(clients: Clients, revision: dict[str, Any]) -> None:
    call(
        clients,
        "apprunner",
        "DeleteAutoScalingConfiguration",
        resource=f"auto scaling configuration {revision['name']} revision {revision['revision']}",
        AutoScalingConfigurationArn=revision["arn"],
    )
    log.info("deleted auto scaling configuration %s revision %s", revision["name"], revision["revision"])


def ensure_autoscaling(clients: Clients, params: Params, *, in_use_arn: str | None = None) -> Result:
    """Reuse a matching ACTIVE revision (UNCHANGED) or create one (CREATED for a new name, else UPDATED).

    ``in_use_arn``: the revision the service uses now; it is preferred for reuse and never deleted.
    Result.arn is the full revision ARN the service should use; ``extra["revision"]`` its number.
    """
    decision = decide_autoscaling(params, find_autoscaling(clients, params), in_use_arn)
    name = params.autoscaling.name
    if decision.reuse:
        return _result(
            params, Action.UNCHANGED, decision.reuse, detail=_reuse_detail(decision.reuse, in_use_arn)
        )
    if decision.blocked:
        raise QuotaExceeded(
            f"Every ACTIVE revision of {name} is used by a service; switch a service to another "
            "configuration or delete a revision, then re-run.",
            resource=f"auto scaling configuration {name}",
            operation="CreateAutoScalingConfiguration",
            code="RevisionQuota",
            aws_message=f"{REVISION_QUOTA} revisions per name, none unused",
        )
    for revision in decision.evict:
        _delete_revision(clients, revision)
    created = call(
        clients,
        "apprunner",
        "CreateAutoScalingConfiguration",
        resource=f"auto scaling configuration {name}",
        **build_create_autoscaling_request(params),
    )["AutoScalingConfiguration"]
    action = Action.CREATED if decision.action is Action.CREATE else Action.UPDATED
    evicted = [r["arn"] for r in decision.evict]
    log.info(
        "%s auto scaling configuration %s revision %s",
        action.value.lower(),
        name,
        created.get("AutoScalingConfigurationRevision"),
    )
    return _result(
        params,
        action,
        _revision(created),
        changes=decision.changes,
        extra={"deleted_arns": evicted} if evicted else {},
    )


def delete_autoscaling(clients: Clients, params: Params) -> Result:
    """Delete every revision of the name (DeleteAllRevisions on the name ARN); ABSENT when none is ACTIVE.

    Call it after the service is gone: App Runner refuses to delete a revision a service uses.
    """
    summaries = _summaries(clients, params)
    if not summaries:
        return _result(params, Action.ABSENT)
    target = name_arn(summaries[0]["AutoScalingConfigurationArn"])
    try:
        call(
            clients,
            "apprunner",
            "DeleteAutoScalingConfiguration",
            resource=f"auto scaling configuration {params.autoscaling.name}",
            AutoScalingConfigurationArn=target,
            DeleteAllRevisions=True,
        )
    except ResourceNotFound:
        return _result(params, Action.ABSENT)
    revisions = [s["AutoScalingConfigurationRevision"] for s in summaries]
    log.info("deleted auto scaling configuration %s revisions %s", params.autoscaling.name, revisions)
    return _result(params, Action.DELETED, arn=target, extra={"revisions": revisions})


def prune_autoscaling(clients: Clients, params: Params, keep_arn: str) -> Result:
    """Delete ACTIVE revisions other than ``keep_arn`` that no service uses (never the default).

    DELETED with ``extra["deleted_arns"]``, or UNCHANGED when there was nothing to prune.
    """
    deleted = []
    for summary in _summaries(clients, params):
        revision = _revision(summary)
        if revision["arn"] == keep_arn or revision["has_associated_service"] or revision["is_default"]:
            continue
        try:
            _delete_revision(clients, revision)
        except ResourceNotFound:
            continue
        deleted.append(revision["arn"])
    action = Action.DELETED if deleted else Action.UNCHANGED
    return _result(params, action, arn=keep_arn, extra={"deleted_arns": deleted} if deleted else {})
