"""Auto scaling configurations: versioned by revision under one name (docs/apprunner-behavior.md 2.5, L12).

Revisions are found by listing by name (``LatestOnly=False``; statuses compared case-insensitively, the
real API answers ``active``) and described for their settings. The name is the runbook's only when every
ACTIVE revision carries ``runbook:name=<name>`` (or the params adopt it, ``runbook_lib.ownership``);
otherwise plan and ensure raise NotOwned before any change. The default name fits the API's 32
characters with a hash suffix (``params.autoscaling_name``), so two environments never share one.

``ensure_autoscaling`` reuses an ACTIVE revision with the same MaxConcurrency/MinSize/MaxSize, else
creates a new revision; at the quota of 5 ACTIVE revisions it first deletes the oldest owned one that no
service uses (ListServicesForAutoScalingConfiguration; never the default, never the one the caller reports
in use), or raises QuotaExceeded. Teardown and pruning delete revision by revision, only owned ones that no
service uses, and report the rest as kept.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Unpack

from runbook_lib.aws import call, paginate, remember_tags, resource_tags, shared_listing
from runbook_lib.clients import Clients
from runbook_lib.errors import QuotaExceeded, ResourceNotFound
from runbook_lib.ownership import claim, is_owned, tag_list
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result, diff_fields
from runbook_lib.shared_reads import LOOKUP_MAX_AGE_S
from runbook_lib.waiters import Waits, await_read, described_status

__all__ = [
    "Decision", "REVISION_QUOTA", "SETTINGS", "await_revisions", "build_create_autoscaling_request",
    "decide_autoscaling", "delete_autoscaling", "desired_settings", "diff_autoscaling",
    "ensure_autoscaling", "find_autoscaling", "name_arn", "plan_autoscaling", "prune_autoscaling",
]  # fmt: skip


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
        "Tags": tag_list(params.owned_tags),
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
        if r.get("owned", True)
        and not r["has_associated_service"]
        and not r["is_default"]
        and r["arn"] != in_use_arn
    ]
    return Decision(Action.UPDATE, evict=tuple(free[:excess]), changes=changes, blocked=len(free) < excess)


# ---------------------------------------------------------------- readers


def _summaries(clients: Clients, params: Params, max_age: float = 0.0) -> list[dict[str, Any]]:
    """The ACTIVE revisions of the name as listed (``LatestOnly=False``: every revision), oldest first.
    ``max_age``: in a batch, an unfiltered pass of another environment that old may serve (as
    ``connection.find_connection``'s)."""
    name = params.autoscaling.name
    items = shared_listing(
        clients, "ListAutoScalingConfigurations", "AutoScalingConfigurationSummaryList",
        resource=f"auto scaling configuration {name}", concerns=f"autoscalingconfiguration/{name}".__eq__,
        max_age=max_age, narrowed={"AutoScalingConfigurationName": name}, LatestOnly=False,
    ).items  # fmt: skip
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


def _described(clients: Clients, summary: dict[str, Any]) -> dict[str, Any]:
    """A listed revision with its settings: DescribeAutoScalingConfiguration, or none when this process
    already knows them (``clients.revision_settings``, from its create or an earlier Describe).

    A revision's MaxConcurrency, MinSize and MaxSize never change (a change is a new revision), and they
    are all the listing lacks: once known, the rest comes from the listing (Status, HasAssociatedService,
    IsDefault: as fresh as the listing, which in a batch is at most ``LOOKUP_MAX_AGE_S`` old and newer
    than the name's last change, and outside a batch listed now; the in-use flag only proposes revisions
    to delete, which ``_evict`` and ``_delete_unused`` check with ListServicesForAutoScalingConfiguration,
    or at the quota refuses with QuotaExceeded, which a re-run retries).
    """
    arn = summary["AutoScalingConfigurationArn"]
    settings = getattr(clients, "revision_settings", {}).get(arn)
    if settings is not None and {"HasAssociatedService", "IsDefault"} <= summary.keys():
        return {**summary, **settings}
    found = call(
        clients, "apprunner", "DescribeAutoScalingConfiguration",
        resource=f"auto scaling configuration {arn}", AutoScalingConfigurationArn=arn,
    )["AutoScalingConfiguration"]  # fmt: skip
    _remember_settings(clients, found)
    return found


def _remember_settings(clients: Clients, revision: dict[str, Any]) -> None:
    keys = ("MaxConcurrency", "MinSize", "MaxSize")
    if all(revision.get(k) is not None for k in keys):
        known = getattr(clients, "revision_settings", {})
        known[revision["AutoScalingConfigurationArn"]] = {k: revision[k] for k in keys}


def _tags(clients: Clients, arn: str) -> dict[str, str]:
    """Its tags; those of a revision this run created, without a request (``aws.resource_tags``)."""
    return resource_tags(clients, arn, resource=f"auto scaling configuration {arn}")


def _used_by(clients: Clients, arn: str) -> list[str]:
    """The ARNs of the services (anyone's) that use revision ``arn``."""
    return paginate(
        clients, "apprunner", "ListServicesForAutoScalingConfiguration", "ServiceArnList",
        resource=f"auto scaling configuration {arn}", AutoScalingConfigurationArn=arn,
    )  # fmt: skip


def find_autoscaling(clients: Clients, params: Params, *, max_age: float = 0.0) -> list[dict[str, Any]]:
    """Every ACTIVE revision of the name, oldest first, with its settings and tags (``owned`` says whose).

    One Describe and one ListTagsForResource per revision, unless this process knows its settings and
    its tags (see ``_described`` and ``_tags``). ``max_age``: as ``_summaries``'.
    """
    revisions = []
    for summary in _summaries(clients, params, max_age):
        arn = summary["AutoScalingConfigurationArn"]
        try:
            found = _described(clients, summary)
            tags = _tags(clients, arn)
        except ResourceNotFound:  # deleted between list and describe
            continue
        if str(found.get("Status", "")).upper() == "ACTIVE":
            revisions.append({**_revision(found), "tags": tags, "owned": is_owned(params, tags)})
    return revisions


def _claimed(clients: Clients, params: Params) -> list[dict[str, Any]]:
    """The revisions of the name, after checking they are the runbook's (NotOwned otherwise). A lookup
    before a change (plan, ensure), or after one (the service step's): in a batch, a shared listing
    from after the name's last change serves (``shared_reads``)."""
    revisions = find_autoscaling(clients, params, max_age=LOOKUP_MAX_AGE_S)
    for revision in revisions:
        claim(params, "autoscaling", f"{revision['name']} revision {revision['revision']}", revision["arn"],
              revision["tags"])  # fmt: skip
    return revisions


def _status(clients: Clients, arn: str) -> str:
    """The revision's status as DescribeAutoScalingConfiguration tells it (upper case), GONE if unknown."""
    return described_status(
        clients, "DescribeAutoScalingConfiguration", "AutoScalingConfiguration",
        f"auto scaling configuration {arn}", AutoScalingConfigurationArn=arn,
    ).upper()  # fmt: skip


def await_revisions(
    clients: Clients,
    arns: list[str],
    *,
    deleted: bool,
    **waits: Unpack[Waits],
) -> None:
    """Wait until reads show the revisions created (ACTIVE) or ``deleted`` (INACTIVE or unknown), as
    Terraform does for up to 2 minutes each way: reads may lag the write."""
    for arn in arns:
        fetch = functools.partial(_status, clients, arn)
        await_read(f"auto scaling configuration {arn}", fetch, deleted=deleted, **waits)


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
    revisions = _claimed(clients, params)
    decision = decide_autoscaling(params, revisions, in_use_arn)
    adopt = _adoption(params, revisions)
    if decision.reuse and not adopt:
        return _result(
            params, Action.UNCHANGED, decision.reuse, detail=_reuse_detail(decision.reuse, in_use_arn)
        )
    if decision.reuse:
        return _result(params, Action.UPDATE, decision.reuse, changes=adopt, detail="adopts the revisions")
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


def ensure_autoscaling(
    clients: Clients, params: Params, *, in_use_arn: str | None = None, **waits: Unpack[Waits]
) -> Result:
    """Reuse a matching ACTIVE revision (UNCHANGED) or create one (CREATED for a new name, else UPDATED).

    ``in_use_arn``: the revision the service uses now; it is preferred for reuse and never deleted.
    Result.arn is the full revision ARN the service should use; ``extra["revision"]`` its number.
    """
    revisions = _claimed(clients, params)
    adopted = _adoption(params, revisions)
    _adopt(clients, params, revisions)
    decision = decide_autoscaling(params, revisions, in_use_arn)
    name = params.autoscaling.name
    if decision.reuse:
        action = Action.UPDATED if adopted else Action.UNCHANGED
        detail = _reuse_detail(decision.reuse, in_use_arn)
        return _result(params, action, decision.reuse, changes=adopted, detail=detail)
    if decision.blocked:
        raise QuotaExceeded(
            f"Every ACTIVE revision of {name} is used by a service; switch a service to another "
            "configuration or delete a revision, then re-run.",
            resource=f"auto scaling configuration {name}",
            operation="CreateAutoScalingConfiguration",
            code="RevisionQuota",
            aws_message=f"{REVISION_QUOTA} revisions per name, none unused",
        )
    _evict(clients, params, decision.evict, **waits)
    request = build_create_autoscaling_request(params)
    created = call(
        clients, "apprunner", "CreateAutoScalingConfiguration", resource=f"auto scaling configuration {name}",
        **request,
    )["AutoScalingConfiguration"]  # fmt: skip
    new_arn = created["AutoScalingConfigurationArn"]
    _remember_settings(clients, created)  # the service step then needs no Describe or tags of it
    remember_tags(clients, new_arn, request["Tags"])
    await_revisions(clients, [new_arn], deleted=False, **waits)
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


def _evict(
    clients: Clients, params: Params, evict: tuple[dict[str, Any], ...], **waits: Unpack[Waits]
) -> None:
    """Delete the revisions a new one replaces (never one in use), and wait until they are gone."""
    name = params.autoscaling.name
    for revision in evict:
        if _used_by(clients, revision["arn"]):  # the flag said unused; never delete one in use
            raise QuotaExceeded(
                f"Revision {revision['revision']} of {name} is used by a service after all; re-run "
                "when it is free, or delete an unused revision.",
                resource=f"auto scaling configuration {name}",
                operation="DeleteAutoScalingConfiguration",
                code="RevisionInUse",
                aws_message=f"{REVISION_QUOTA} revisions per name; revision {revision['revision']} in use",
            )
        _delete_revision(clients, revision)
    await_revisions(clients, [r["arn"] for r in evict], deleted=True, **waits)


def _adoption(params: Params, revisions: list[dict[str, Any]]) -> tuple[Change, ...]:
    """The tag changes that adopting the name's untagged revisions makes (none when all are owned)."""
    foreign = [r["revision"] for r in revisions if not r["owned"]]
    return (Change("tags", f"revisions {foreign} not tagged", dict(params.owned_tags)),) if foreign else ()


def _adopt(clients: Clients, params: Params, revisions: list[dict[str, Any]]) -> None:
    """Tag the adopted revisions as owned (``claim`` has let only adopted ones through)."""
    for revision in revisions:
        if not revision["owned"]:
            call(
                clients, "apprunner", "TagResource", resource=f"auto scaling configuration {revision['arn']}",
                ResourceArn=revision["arn"], Tags=tag_list(params.owned_tags),
            )  # fmt: skip
            revision["owned"] = True


def _delete_unused(
    clients: Clients, params: Params, keep_arn: str | None = None, **waits: Unpack[Waits]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Delete the owned ACTIVE revisions that no service uses (never ``keep_arn`` or the default).

    Returns (deleted revisions, why each other revision was kept).
    """
    deleted, kept = [], []
    for revision in find_autoscaling(clients, params):
        label = f"revision {revision['revision']}"
        if revision["arn"] == keep_arn:
            continue
        if not revision["owned"]:
            kept.append(f"{label}: {NOT_OWNED}")
        elif revision["is_default"]:
            kept.append(f"{label}: the account default")
        elif used := _used_by(clients, revision["arn"]):
            kept.append(f"{label}: used by {', '.join(used)}")
        else:
            try:
                _delete_revision(clients, revision)
            except ResourceNotFound:
                continue
            await_revisions(clients, [revision["arn"]], deleted=True, **waits)
            deleted.append(revision)
    return deleted, kept


def delete_autoscaling(clients: Clients, params: Params, **waits: Unpack[Waits]) -> Result:
    """Delete the owned revisions of the name that no service uses, one by one; ABSENT when none is ACTIVE,
    KEPT when every remaining one is someone else's or still used (``detail`` says which and why).

    Call it after the service is gone: App Runner refuses to delete a revision a service uses.
    """
    deleted, kept = _delete_unused(clients, params, **waits)
    detail = "; ".join(f"kept {k}" for k in kept)
    if not deleted:
        return _result(params, Action.KEPT if kept else Action.ABSENT, detail=detail)
    revisions = [r["revision"] for r in deleted]
    log.info("deleted auto scaling configuration %s revisions %s", params.autoscaling.name, revisions)
    arn = name_arn(deleted[0]["arn"])
    return _result(params, Action.DELETED, arn=arn, detail=detail, extra={"revisions": revisions})


def prune_autoscaling(clients: Clients, params: Params, keep_arn: str, **waits: Unpack[Waits]) -> Result:
    """Delete owned ACTIVE revisions other than ``keep_arn`` that no service uses (never the default).

    DELETED with ``extra["deleted_arns"]``, or UNCHANGED when there was nothing to prune.
    """
    deleted = [r["arn"] for r in _delete_unused(clients, params, keep_arn, **waits)[0]]
    action = Action.DELETED if deleted else Action.UNCHANGED
    return _result(params, action, arn=keep_arn, extra={"deleted_arns": deleted} if deleted else {})
