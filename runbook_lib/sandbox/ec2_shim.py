"""EC2 behaviour moto lacks, which the sandbox adds in front of it: deletes refused while App Runner's
network interfaces still use a security group or subnet (``DependencyViolation``), and EC2's error
document."""

from __future__ import annotations

import uuid

from runbook_lib.sandbox.defaults import DEFAULT_ACCOUNT_ID

__all__ = ["dependency_violation", "ec2_error"]


def dependency_violation(region: str, params: dict[str, str]) -> str | None:
    """Message for EC2 deletes that moto would allow but AWS refuses while ENIs remain, else None."""
    action = params.get("Action")
    if action not in ("DeleteSecurityGroup", "DeleteSubnet"):
        return None
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    if action == "DeleteSecurityGroup":
        group_id = params.get("GroupId")
        if not group_id:
            return None
        for eni in list(ec2.enis.values()):
            if any(getattr(g, "id", g) == group_id for g in eni.group_set):
                return f"resource {group_id} has a dependent object"
    else:
        subnet_id = params.get("SubnetId")
        for eni in list(ec2.enis.values()):
            if getattr(eni.subnet, "id", None) == subnet_id:
                return f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
    return None


def ec2_error(code: str, message: str) -> bytes:
    """An EC2 (query protocol) error document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()
