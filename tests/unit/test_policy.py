"""The operator policy printed by `runbook policy`: explicit actions, scoped to the params' names."""

from __future__ import annotations

import json
from pathlib import Path

from runbook_lib.params import load_params
from runbook_lib.policy import allows, build_operator_policy

ROOT = Path(__file__).resolve().parents[2]


def test_no_wildcard_actions_and_valid_document() -> None:
    policy = build_operator_policy(load_params(ROOT / "params/example-go.yaml"))
    json.dumps(policy)
    assert policy["Version"] == "2012-10-17"
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert actions and not any("*" in a for a in actions)
    assert len({s["Sid"] for s in policy["Statement"]}) == len(policy["Statement"])


def test_mutations_are_scoped_to_named_resources() -> None:
    params = load_params(ROOT / "params/example-go.yaml")
    policy = build_operator_policy(params)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AppRunnerService"]["Resource"] == [
        "arn:aws:apprunner:us-east-1:111122223333:service/seed-go-app/*"
    ]
    assert by_sid["IamInstanceRole"]["Resource"] == ["arn:aws:iam::111122223333:role/seed-go-app-instance"]
    assert by_sid["IamPassInstanceRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "tasks.apprunner.amazonaws.com"}
    }
    assert by_sid["Ec2ChangeOwnedSecurityGroup"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/runbook:name": "seed-go-app"}
    }
    for statement in policy["Statement"]:
        mutating = [
            a for a in statement["Action"] if not a.split(":")[1].startswith(("List", "Describe", "Get"))
        ]
        if mutating and statement["Sid"] != "Identity":
            assert statement["Resource"] != ["*"], statement["Sid"]


def test_no_network_statements_without_network_and_s3_when_audit_in_s3() -> None:
    params = load_params(
        ROOT / "params/sandbox.yaml", overrides={"network": None, "audit_dir": "s3://audit-b/runs"}
    )
    policy = build_operator_policy(params)
    sids = {s["Sid"] for s in policy["Statement"]}
    assert "AppRunnerVpcConnector" not in sids and "Ec2ReadNetwork" not in sids
    assert allows(policy, "s3", "PutObject") and allows(policy, "s3", "HeadObject")
    assert not allows(policy, "ec2", "CreateSecurityGroup") and not allows(policy, "apprunner", "DeleteAll")
