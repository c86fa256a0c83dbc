"""IAM roles for App Runner: the instance role (``tasks.apprunner.amazonaws.com``) and the ECR access role.

A role is found by name and is the runbook's only when tagged ``runbook:name=<name>`` (or adopted:
``runbook_lib.ownership``); a same-named role of someone else raises NotOwned before any change, and
teardown leaves it alone. An owned role is compared with the params (trust policy as parsed JSON, attached
managed policies as a set, the tags the runbook manages) and converged with the smallest set of calls: the
trust policy with ``UpdateAssumeRolePolicy``, policies with Attach/Detach, tags with ``TagRole`` /
``UntagRole`` (keys set by others stay).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from runbook_lib.aws import call, paginate
from runbook_lib.clients import Clients
from runbook_lib.errors import ResourceNotFound
from runbook_lib.ownership import claim, diff_owned_tags, is_owned, tag_changes, tag_list, tag_map
from runbook_lib.params import Params
from runbook_lib.results import NOT_OWNED, Action, Change, Result

__all__ = [
    "ACCESS_PRINCIPAL", "ECR_ACCESS_POLICY", "INSTANCE_PRINCIPAL", "MAX_PAGES", "POLICY_VERSION",
    "RoleSpec", "access_role_spec", "build_create_role_request", "build_tag_role_request",
    "build_trust_policy", "build_update_trust_request", "delete_access_role", "delete_instance_role",
    "diff_instance_role", "diff_role", "ensure_access_role", "ensure_instance_role", "find_instance_role",
    "find_role", "instance_role_spec", "normalize_policy", "parse_policy_document", "plan_instance_role",
]  # fmt: skip


log = logging.getLogger(__name__)

INSTANCE_PRINCIPAL = "tasks.apprunner.amazonaws.com"
ACCESS_PRINCIPAL = "build.apprunner.amazonaws.com"
ECR_ACCESS_POLICY = "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"
POLICY_VERSION = "2012-10-17"
MAX_PAGES = 100


@dataclass(frozen=True)
class RoleSpec:
    """What one role should look like: name, trusted service principal, managed policies, purpose."""

    resource: str  # Result.resource: instance_role | access_role
    name: str
    principal: str
    policy_arns: tuple[str, ...]
    description: str


def instance_role_spec(params: Params) -> RoleSpec:
    """The instance role the running application assumes."""
    return RoleSpec(
        resource="instance_role",
        name=params.instance.role_name,
        principal=INSTANCE_PRINCIPAL,
        policy_arns=tuple(params.instance.policy_arns),
        description=f"App Runner instance role of {params.name} (managed by runbook)",
    )


def access_role_spec(params: Params, role_name: str) -> RoleSpec:
    """The role App Runner's build uses to pull images from private ECR."""
    return RoleSpec(
        resource="access_role",
        name=role_name,
        principal=ACCESS_PRINCIPAL,
        policy_arns=(ECR_ACCESS_POLICY,),
        description=f"App Runner ECR access role of {params.name} (managed by runbook)",
    )


# ---------------------------------------------------------------- pure builders and diffs


def build_trust_policy(principal: str = INSTANCE_PRINCIPAL) -> dict[str, Any]:
    """The assume-role policy that lets one App Runner service principal assume the role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
    }


def build_create_role_request(params: Params, spec: RoleSpec | None = None) -> dict[str, Any]:
    """CreateRole for ``spec`` (default: the instance role), tagged with the owned tags."""
    spec = spec or instance_role_spec(params)
    return {
        "RoleName": spec.name,
        "AssumeRolePolicyDocument": json.dumps(build_trust_policy(spec.principal), sort_keys=True),
        "Description": spec.description,
        "Tags": tag_list(params.owned_tags),
    }


def build_update_trust_request(spec: RoleSpec) -> dict[str, Any]:
    """UpdateAssumeRolePolicy putting the trust policy back to the App Runner principal."""
    return {
        "RoleName": spec.name,
        "PolicyDocument": json.dumps(build_trust_policy(spec.principal), sort_keys=True),
    }


def build_tag_role_request(spec: RoleSpec, tags: dict[str, str]) -> dict[str, Any]:
    """TagRole with the managed tags that differ (adds or overwrites; foreign tags are left alone)."""
    return {"RoleName": spec.name, "Tags": tag_list(tags)}


def parse_policy_document(document: Any) -> dict[str, Any]:
    """A policy document as a dict, whether boto3 decoded it already or it is (URL-encoded) JSON."""
    if isinstance(document, dict):
        return document
    text = str(document)
    if not text.lstrip().startswith("{"):
        text = unquote(text)
    return json.loads(text)


def _as_sorted_list(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))


def normalize_policy(document: Any) -> dict[str, Any]:
    """A canonical form of a policy: Statement a list; Action, Resource and principals sorted lists."""
    doc = parse_policy_document(document)
    statements = []
    for stmt in _as_sorted_list(doc.get("Statement", [])):
        norm = dict(stmt)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in norm:
                norm[key] = _as_sorted_list(norm[key])
        if isinstance(norm.get("Principal"), dict):
            norm["Principal"] = {k: _as_sorted_list(v) for k, v in norm["Principal"].items()}
        statements.append(norm)
    return {"Version": doc.get("Version", POLICY_VERSION), "Statement": _as_sorted_list(statements)}


def diff_role(params: Params, observed: dict[str, Any], spec: RoleSpec | None = None) -> tuple[Change, ...]:
    """Changes between the desired role and the observed one (``find_*`` output)."""
    spec = spec or instance_role_spec(params)
    changes: list[Change] = []
    desired_trust = normalize_policy(build_trust_policy(spec.principal))
    if normalize_policy(observed["trust_policy"]) != desired_trust:
        changes.append(Change("trust_policy", observed["trust_policy"], build_trust_policy(spec.principal)))
    if set(observed["policy_arns"]) != set(spec.policy_arns):
        changes.append(Change("policy_arns", sorted(observed["policy_arns"]), sorted(spec.policy_arns)))
    return (*changes, *tag_changes(params, observed.get("tags", {})))


def diff_instance_role(params: Params, observed: dict[str, Any]) -> tuple[Change, ...]:
    """Changes between the desired instance role and the observed one."""
    return diff_role(params, observed, instance_role_spec(params))


# ---------------------------------------------------------------- readers


def find_role(clients: Clients, name: str, *, policies: bool = True) -> dict[str, Any] | None:
    """The role ``name`` as {name, arn, trust_policy, policy_arns, tags}, or None.

    ``policies=False`` skips listing the attached policies (``policy_arns`` is then None): enough to
    learn the role's ARN.
    """
    resource = f"role {name}"
    try:
        role = call(clients, "iam", "GetRole", resource=resource, RoleName=name)["Role"]
    except ResourceNotFound:
        return None
    attached = (
        paginate(
            clients, "iam", "ListAttachedRolePolicies", "AttachedPolicies", resource=resource, RoleName=name
        )
        if policies
        else None
    )
    return {
        "name": role["RoleName"],
        "arn": role["Arn"],
        "trust_policy": parse_policy_document(role["AssumeRolePolicyDocument"]),
        "policy_arns": None if attached is None else sorted(p["PolicyArn"] for p in attached),
        "tags": tag_map(role.get("Tags", [])),
    }


def find_instance_role(clients: Clients, params: Params, *, policies: bool = True) -> dict[str, Any] | None:
    """The instance role named in the params, or None."""
    return find_role(clients, params.instance.role_name, policies=policies)


# ---------------------------------------------------------------- plan / ensure / delete


def _plan(clients: Clients, params: Params, spec: RoleSpec) -> tuple[Result, dict[str, Any] | None]:
    observed = find_role(clients, spec.name)
    if observed is None:
        changes = (Change("role", None, spec.name),)
        return Result(spec.resource, spec.name, Action.CREATE, changes=changes), None
    claim(params, spec.resource, spec.name, observed["arn"], observed["tags"])
    changes = diff_role(params, observed, spec)
    action = Action.UPDATE if changes else Action.UNCHANGED
    return Result(spec.resource, spec.name, action, arn=observed["arn"], changes=changes), observed


def _ensure(clients: Clients, params: Params, spec: RoleSpec) -> Result:
    planned, observed = _plan(clients, params, spec)
    resource = f"role {spec.name}"
    if observed is None:
        created = call(
            clients, "iam", "CreateRole", resource=resource, **build_create_role_request(params, spec)
        )
        for arn in spec.policy_arns:
            call(clients, "iam", "AttachRolePolicy", resource=resource, RoleName=spec.name, PolicyArn=arn)
        log.info("created role %s trusting %s", spec.name, spec.principal)
        return Result(
            spec.resource, spec.name, Action.CREATED, arn=created["Role"]["Arn"], changes=planned.changes
        )
    if planned.action is Action.UNCHANGED:
        return planned
    for change in planned.changes:
        if change.field == "trust_policy":
            call(
                clients,
                "iam",
                "UpdateAssumeRolePolicy",
                resource=resource,
                **build_update_trust_request(spec),
            )
        elif change.field == "policy_arns":
            for arn in sorted(set(spec.policy_arns) - set(observed["policy_arns"])):
                call(clients, "iam", "AttachRolePolicy", resource=resource, RoleName=spec.name, PolicyArn=arn)
            for arn in sorted(set(observed["policy_arns"]) - set(spec.policy_arns)):
                call(clients, "iam", "DetachRolePolicy", resource=resource, RoleName=spec.name, PolicyArn=arn)
        elif change.field == "tags":
            to_set, to_remove = diff_owned_tags(params, observed["tags"])
            if to_set:
                call(clients, "iam", "TagRole", resource=resource, **build_tag_role_request(spec, to_set))
            if to_remove:
                call(clients, "iam", "UntagRole", resource=resource, RoleName=spec.name, TagKeys=to_remove)
    log.info("updated role %s: %s", spec.name, ", ".join(planned.changed_fields))
    return Result(spec.resource, spec.name, Action.UPDATED, arn=planned.arn, changes=planned.changes)


def _delete(clients: Clients, params: Params, resource_kind: str, name: str) -> Result:
    resource = f"role {name}"
    observed = find_role(clients, name)
    if observed is None:
        return Result(resource_kind, name, Action.ABSENT)
    if not is_owned(params, observed["tags"]):
        return Result(resource_kind, name, Action.KEPT, arn=observed["arn"], detail=NOT_OWNED)
    try:
        for arn in observed["policy_arns"]:
            call(clients, "iam", "DetachRolePolicy", resource=resource, RoleName=name, PolicyArn=arn)
        inline = paginate(clients, "iam", "ListRolePolicies", "PolicyNames", resource=resource, RoleName=name)
        for policy_name in inline:
            call(clients, "iam", "DeleteRolePolicy", resource=resource, RoleName=name, PolicyName=policy_name)
        call(clients, "iam", "DeleteRole", resource=resource, RoleName=name)
    except ResourceNotFound:  # deleted concurrently: the goal is reached
        return Result(resource_kind, name, Action.ABSENT)
    log.info("deleted role %s", name)
    return Result(resource_kind, name, Action.DELETED, arn=observed["arn"])


def plan_instance_role(clients: Clients, params: Params) -> Result:
    """Read-only: CREATE, UPDATE (trust policy, policies, tags) or UNCHANGED."""
    return _plan(clients, params, instance_role_spec(params))[0]


def ensure_instance_role(clients: Clients, params: Params) -> Result:
    """Create the instance role, or converge its trust policy, managed policies and tags."""
    return _ensure(clients, params, instance_role_spec(params))


def delete_instance_role(clients: Clients, params: Params) -> Result:
    """Detach every managed policy, delete inline policies, then the role; ABSENT if it is gone, KEPT
    (untouched) if it is not owned."""
    return _delete(clients, params, "instance_role", params.instance.role_name)


def ensure_access_role(clients: Clients, params: Params, role_name: str) -> Result:
    """The ECR access role (private ECR images): trusts the build principal, has the ECR access policy."""
    return _ensure(clients, params, access_role_spec(params, role_name))


def delete_access_role(clients: Clients, params: Params, role_name: str) -> Result:
    """Delete the ECR access role; ABSENT if it is gone."""
    return _delete(clients, params, "access_role", role_name)


def plan_access_role(clients: Clients, params: Params, role_name: str) -> Result:
    """Read-only: what ``ensure_access_role`` would do."""
    return _plan(clients, params, access_role_spec(params, role_name))[0]
