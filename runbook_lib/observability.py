"""Observability configurations (X-Ray tracing): revisioned by name, like auto scaling configurations.

A configuration holds one setting, ``TraceConfiguration.Vendor`` (``AWSXRAY``); a service points at a
revision through ``ObservabilityConfiguration{ObservabilityEnabled, ObservabilityConfigurationArn}``
(API reference: CreateObservabilityConfiguration, UpdateService; Terraform's
``aws_apprunner_observability_configuration`` marks every argument ForceNew, so a change is a new
revision). The runbook reuses an ACTIVE owned revision with the same vendor, creates one otherwise, and
deletes the revisions no service uses once the service has switched away (``prune_observability``) and at
teardown. Ownership as everywhere: the ``runbook:name`` tag on every revision (``ownership.claim``).
"""

from __future__ import annotations

import logging
from typing import Any

from runbook_lib.aws import call, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import InvalidRequest, ResourceNotFound
from runbook_lib.ownership import claim, is_owned, tag_list, tag_map
from runbook_lib.params import Params, autoscaling_name
from runbook_lib.results import NOT_OWNED, Action, Change, Result

__all__ = [
    "build_create_observability_request", "build_observability_member", "delete_observability",
    "ensure_observability", "find_observability", "observability_key", "observed_key", "plan_observability",
    "prune_observability", "wanted_vendor",
]  # fmt: skip

log = logging.getLogger(__name__)

RESOURCE = "observability"
MARK = ":observabilityconfiguration/"


# ---------------------------------------------------------------- pure parts


def config_name(params: Params) -> str:
    """The configuration's name: ``observability.name``, by default the auto scaling default name."""
    return params.observability.name if params.observability else autoscaling_name(params.name)


def wanted_vendor(params: Params) -> str | None:
    """``AWSXRAY`` when tracing is on, else None."""
    return params.observability.tracing if params.observability else None


def build_create_observability_request(params: Params) -> dict[str, Any]:
    """CreateObservabilityConfiguration payload (pure), tagged as owned."""
    return {
        "ObservabilityConfigurationName": config_name(params),
        "TraceConfiguration": {"Vendor": wanted_vendor(params)},
        "Tags": tag_list(params.owned_tags),
    }


def build_observability_member(arn: str | None) -> dict[str, Any]:
    """The service's ObservabilityConfiguration member: on with that revision, or off."""
    if arn:
        return {"ObservabilityEnabled": True, "ObservabilityConfigurationArn": arn}
    return {"ObservabilityEnabled": False}


def observability_key(arn: str | None) -> str | None:
    """``name/revision`` of a revision ARN (ARNs end in a random suffix), None when off."""
    if not arn or MARK not in arn:
        return arn
    return "/".join(arn.split(MARK, 1)[1].split("/")[:2])


def observed_key(service: dict[str, Any]) -> str | None:
    """The key of the revision a DescribeService ``Service`` uses, None when observability is off."""
    member = service.get("ObservabilityConfiguration") or {}
    return (
        observability_key(member.get("ObservabilityConfigurationArn"))
        if member.get("ObservabilityEnabled")
        else None
    )


# ---------------------------------------------------------------- readers


def _what(arn_or_name: str) -> str:
    return f"observability configuration {arn_or_name}"


def find_observability(clients: Clients, params: Params) -> list[dict[str, Any]]:
    """Every ACTIVE revision of the name, oldest first: ``{arn, revision, vendor, tags, owned}``."""
    name = config_name(params)
    items = paginate(
        clients, "apprunner", "ListObservabilityConfigurations", "ObservabilityConfigurationSummaryList",
        resource=_what(name), ObservabilityConfigurationName=name, LatestOnly=False,
    )  # fmt: skip
    revisions = []
    for item in sorted(items, key=lambda i: i["ObservabilityConfigurationRevision"]):
        arn = item["ObservabilityConfigurationArn"]
        try:
            found = call(
                clients, "apprunner", "DescribeObservabilityConfiguration", resource=_what(name),
                ObservabilityConfigurationArn=arn,
            )["ObservabilityConfiguration"]  # fmt: skip
            tags = tag_map(
                call(clients, "apprunner", "ListTagsForResource", resource=_what(name), ResourceArn=arn).get(
                    "Tags"
                )
            )
        except ResourceNotFound:  # deleted between list and describe
            continue
        if (
            str(found.get("Status", "")).upper() != "ACTIVE"
            or found.get("ObservabilityConfigurationName") != name
        ):
            continue
        vendor = (found.get("TraceConfiguration") or {}).get("Vendor")
        revision = found["ObservabilityConfigurationRevision"]
        revisions.append({"arn": arn, "revision": revision, "vendor": vendor, "tags": tags,
                          "owned": is_owned(params, tags)})  # fmt: skip
    return revisions


def _claimed(clients: Clients, params: Params) -> list[dict[str, Any]]:
    revisions = find_observability(clients, params)
    for r in revisions:
        claim(params, RESOURCE, f"{config_name(params)} revision {r['revision']}", r["arn"], r["tags"])
    return revisions


def _result(params: Params, action: Action, arn: str | None = None, **kw: Any) -> Result:
    return Result(RESOURCE, config_name(params), action, arn=arn, **kw)


# ---------------------------------------------------------------- plan / ensure / delete


def plan_observability(clients: Clients, params: Params) -> Result | None:
    """Read-only: CREATE (no matching revision) or UNCHANGED; None when tracing is off."""
    vendor = wanted_vendor(params)
    if vendor is None:
        return None
    match = next((r for r in _claimed(clients, params) if r["vendor"] == vendor and r["owned"]), None)
    if match:
        return _result(params, Action.UNCHANGED, match["arn"], extra={"revision": match["revision"]})
    return _result(params, Action.CREATE, changes=(Change("tracing", None, vendor),))


def ensure_observability(clients: Clients, params: Params) -> Result | None:
    """Reuse an owned ACTIVE revision with the wanted vendor, or create one; None when tracing is off."""
    planned = plan_observability(clients, params)
    if planned is None or planned.action is Action.UNCHANGED:
        return planned
    created = call(
        clients, "apprunner", "CreateObservabilityConfiguration", resource=_what(config_name(params)),
        **build_create_observability_request(params),
    )["ObservabilityConfiguration"]  # fmt: skip
    log.info("created observability configuration %s", created["ObservabilityConfigurationArn"])
    return _result(
        params, Action.CREATED, created["ObservabilityConfigurationArn"], changes=planned.changes,
        extra={"revision": created["ObservabilityConfigurationRevision"]},
    )  # fmt: skip


def _delete_unused(clients: Clients, params: Params, keep_arn: str | None) -> tuple[list[int], list[str]]:
    """Delete owned revisions other than ``keep_arn``; App Runner refuses one in use (kept, with why)."""
    deleted, kept = [], []
    for r in find_observability(clients, params):
        if r["arn"] == keep_arn:
            continue
        if not r["owned"]:
            kept.append(f"revision {r['revision']}: {NOT_OWNED}")
            continue
        try:
            call(clients, "apprunner", "DeleteObservabilityConfiguration", resource=_what(r["arn"]),
                 ObservabilityConfigurationArn=r["arn"])  # fmt: skip
        except ResourceNotFound:
            continue
        except InvalidRequest as err:  # in use by a service
            kept.append(f"revision {r['revision']}: {err.aws_message}")
            continue
        deleted.append(r["revision"])
    return deleted, kept


def delete_observability(clients: Clients, params: Params) -> Result:
    """Delete every owned revision of the name (after the service is gone); ABSENT when none, KEPT when
    the remaining ones are someone else's or in use."""
    deleted, kept = _delete_unused(clients, params, None)
    detail = "; ".join(f"kept {k}" for k in kept)
    if not deleted:
        return _result(params, Action.KEPT if kept else Action.ABSENT, detail=detail)
    return _result(params, Action.DELETED, detail=detail, extra={"revisions": deleted})


def prune_observability(clients: Clients, params: Params, keep_arn: str | None) -> Result | None:
    """After the service switched (tracing changed or turned off): delete the owned revisions it left."""
    if not find_observability(clients, params):
        return None
    deleted, _ = _delete_unused(clients, params, keep_arn)
    return _result(params, Action.DELETED, extra={"revisions": deleted}) if deleted else None
