"""The sandbox's policy evaluator: a table of (policy, request, expected decision)."""

from __future__ import annotations

from typing import Any

import pytest

from runbook_lib.sandbox.iam_policy import Check, Decision, UnsupportedCondition, evaluate, first_denied

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-instance"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/admin"
SERVICE = f"arn:aws:apprunner:us-east-1:{ACCOUNT}:service/app/0123456789abcdef"
SG = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-0123"
ALLOWED, EXPLICIT, IMPLICIT = Decision.ALLOWED, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


def allow(action: Any, resource: Any = "*", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


PASS_ROLE = allow("iam:PassRole", ROLE, StringEquals={"iam:PassedToService": "apprunner.amazonaws.com"})
OWNED_SG = allow(
    ["ec2:DeleteSecurityGroup", "ec2:CreateTags"], f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/*",
    StringEquals={"aws:ResourceTag/runbook:name": "app"},
)  # fmt: skip
TAG_ON_CREATE = allow(
    "ec2:CreateTags", f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/*",
    StringEquals={"ec2:CreateAction": "CreateSecurityGroup"},
)  # fmt: skip
TAG_KEYS = allow(
    "apprunner:TagResource", SERVICE,
    **{"ForAllValues:StringEquals": {"aws:TagKeys": ["runbook:name", "team"]},
       "StringEquals": {"aws:RequestTag/runbook:name": "app"}},
)  # fmt: skip
ANY_KEY = {"ForAnyValue:StringLike": {"aws:TagKeys": "tmp-*"}}
ANY_TAG_KEY = allow("apprunner:UntagResource", SERVICE, **ANY_KEY)
PASS = {"iam:PassedToService": ["apprunner.amazonaws.com"]}

CASES = [
    # (name, statements, action, resource, context, expected)
    ("exact action and resource", [allow("apprunner:DescribeService", SERVICE)],
     "apprunner:DescribeService", SERVICE, {}, ALLOWED),
    ("action names are case-insensitive", [allow("AppRunner:describeservice", SERVICE)],
     "apprunner:DescribeService", SERVICE, {}, ALLOWED),
    ("nothing allows it", [allow("apprunner:ListServices")],
     "apprunner:DeleteService", SERVICE, {}, IMPLICIT),
    ("action wildcard", [allow("apprunner:Describe*", SERVICE)],
     "apprunner:DescribeService", SERVICE, {}, ALLOWED),
    ("? matches one character", [allow("apprunner:ListService?")],
     "apprunner:ListServices", "*", {}, ALLOWED),
    ("ARN wildcard in the resource id",
     [allow("apprunner:DeleteService", "arn:aws:apprunner:*:*:service/app/*")],
     "apprunner:DeleteService", SERVICE, {}, ALLOWED),
    ("ARN wildcard does not reach another name",
     [allow("apprunner:DeleteService", "arn:aws:apprunner:*:*:service/app/*")],
     "apprunner:DeleteService", SERVICE.replace("/app/", "/other/"), {}, IMPLICIT),
    ("resource ARNs are case-sensitive", [allow("apprunner:DeleteService", SERVICE.upper())],
     "apprunner:DeleteService", SERVICE, {}, IMPLICIT),
    ("NotAction allows everything else", [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
     "apprunner:CreateService", SERVICE, {}, ALLOWED),
    ("NotAction excludes what it names", [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
     "iam:CreateRole", ROLE, {}, IMPLICIT),
    ("NotResource allows other resources",
     [{"Effect": "Allow", "Action": "iam:*", "NotResource": OTHER_ROLE}],
     "iam:DeleteRole", ROLE, {}, ALLOWED),
    ("NotResource excludes what it names",
     [{"Effect": "Allow", "Action": "iam:*", "NotResource": OTHER_ROLE}],
     "iam:DeleteRole", OTHER_ROLE, {}, IMPLICIT),
    ("explicit Deny wins over Allow",
     [allow("iam:*"), {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": ROLE}],
     "iam:DeleteRole", ROLE, {}, EXPLICIT),
    ("a Deny on another resource does not apply",
     [allow("iam:*"), {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": OTHER_ROLE}],
     "iam:DeleteRole", ROLE, {}, ALLOWED),
    ("PassRole to the right service", [PASS_ROLE], "iam:PassRole", ROLE, PASS, ALLOWED),
    ("PassRole to the wrong service", [PASS_ROLE], "iam:PassRole", ROLE,
     {"iam:PassedToService": ["tasks.apprunner.amazonaws.com"]}, IMPLICIT),
    ("PassRole of another role", [PASS_ROLE], "iam:PassRole", OTHER_ROLE, PASS, IMPLICIT),
    ("PassRole without the key in the request", [PASS_ROLE], "iam:PassRole", ROLE, {}, IMPLICIT),
    ("StringLike on PassedToService",
     [allow("iam:PassRole", "*", StringLike={"iam:PassedToService": "*.amazonaws.com"})],
     "iam:PassRole", ROLE, PASS, ALLOWED),
    ("condition key names are case-insensitive",
     [allow("iam:PassRole", ROLE, StringEquals={"IAM:passedToService": "apprunner.amazonaws.com"})],
     "iam:PassRole", ROLE, PASS, ALLOWED),
    ("ResourceTag of the owner", [OWNED_SG], "ec2:DeleteSecurityGroup", SG,
     {"aws:ResourceTag/runbook:name": ["app"]}, ALLOWED),
    ("ResourceTag of someone else", [OWNED_SG], "ec2:DeleteSecurityGroup", SG,
     {"aws:ResourceTag/runbook:name": ["other"]}, IMPLICIT),
    ("ResourceTag missing", [OWNED_SG], "ec2:DeleteSecurityGroup", SG, {}, IMPLICIT),
    ("tag on create only", [TAG_ON_CREATE], "ec2:CreateTags", SG,
     {"ec2:CreateAction": ["CreateSecurityGroup"]}, ALLOWED),
    ("tagging an existing group is not a create", [TAG_ON_CREATE], "ec2:CreateTags", SG,
     {"aws:ResourceTag/runbook:name": ["other"]}, IMPLICIT),
    ("RequestTag and TagKeys within the allowed set", [TAG_KEYS], "apprunner:TagResource", SERVICE,
     {"aws:TagKeys": ["runbook:name", "team"], "aws:RequestTag/runbook:name": ["app"]}, ALLOWED),
    ("TagKeys outside the allowed set", [TAG_KEYS], "apprunner:TagResource", SERVICE,
     {"aws:TagKeys": ["runbook:name", "cost"], "aws:RequestTag/runbook:name": ["app"]}, IMPLICIT),
    ("RequestTag with another value", [TAG_KEYS], "apprunner:TagResource", SERVICE,
     {"aws:TagKeys": ["runbook:name"], "aws:RequestTag/runbook:name": ["evil"]}, IMPLICIT),
    ("ForAllValues holds for an empty set",
     [allow("apprunner:TagResource", SERVICE, **{"ForAllValues:StringEquals": {"aws:TagKeys": "team"}})],
     "apprunner:TagResource", SERVICE, {}, ALLOWED),
    ("ForAnyValue needs one match", [ANY_TAG_KEY], "apprunner:UntagResource", SERVICE,
     {"aws:TagKeys": ["team", "tmp-1"]}, ALLOWED),
    ("ForAnyValue with none matching", [ANY_TAG_KEY], "apprunner:UntagResource", SERVICE,
     {"aws:TagKeys": ["team"]}, IMPLICIT),
    ("negated operator with the key absent holds",
     [allow("iam:CreateRole", ROLE, StringNotEquals={"aws:RequestTag/env": "prod"})],
     "iam:CreateRole", ROLE, {}, ALLOWED),
    ("negated operator with a matching value fails",
     [allow("iam:CreateRole", ROLE, StringNotEquals={"aws:RequestTag/env": "prod"})],
     "iam:CreateRole", ROLE, {"aws:RequestTag/env": ["prod"]}, IMPLICIT),
    ("IfExists with the key absent holds",
     [allow("iam:CreateRole", ROLE, StringEqualsIfExists={"aws:RequestTag/env": "dev"})],
     "iam:CreateRole", ROLE, {}, ALLOWED),
    ("ArnLike on a role",
     [allow("iam:PassRole", "*", ArnLike={"iam:AssociatedResourceArn": SERVICE[:-4] + "*"})],
     "iam:PassRole", ROLE, {"iam:AssociatedResourceArn": [SERVICE]}, ALLOWED),
    ("ArnNotEquals", [allow("iam:PassRole", "*", ArnNotEquals={"iam:AssociatedResourceArn": SERVICE})],
     "iam:PassRole", ROLE, {"iam:AssociatedResourceArn": [SERVICE]}, IMPLICIT),
    ("Bool", [allow("s3:GetObject", "*", Bool={"aws:SecureTransport": "true"})],
     "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": ["True"]}, ALLOWED),
    ("Null true: the key must be absent",
     [allow("apprunner:CreateService", "*", Null={"aws:RequestTag/runbook:name": "true"})],
     "apprunner:CreateService", SERVICE, {"aws:RequestTag/runbook:name": ["app"]}, IMPLICIT),
    ("Null false: the key must be present",
     [allow("apprunner:CreateService", "*", Null={"aws:RequestTag/runbook:name": "false"})],
     "apprunner:CreateService", SERVICE, {"aws:RequestTag/runbook:name": ["app"]}, ALLOWED),
    ("a Deny whose condition does not hold does not apply",
     [allow("iam:*"), {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
                       "Condition": {"StringNotEquals": {"iam:PassedToService": "apprunner.amazonaws.com"}}}],
     "iam:PassRole", ROLE, PASS, ALLOWED),
    ("a Deny whose condition holds applies",
     [allow("iam:*"), {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
                       "Condition": {"StringNotEquals": {"iam:PassedToService": "apprunner.amazonaws.com"}}}],
     "iam:PassRole", ROLE, {"iam:PassedToService": ["ec2.amazonaws.com"]}, EXPLICIT),
]  # fmt: skip


@pytest.mark.parametrize(
    ("statements", "action", "resource", "context", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decision_table(statements, action, resource, context, expected) -> None:
    assert evaluate([doc(*statements)], Check(action, resource, context)) is expected


def test_statements_across_policies_combine_and_a_single_statement_object_works() -> None:
    policies = [{"Statement": allow("iam:GetRole", ROLE)}, doc(allow("iam:DeleteRole", ROLE))]
    assert evaluate(policies, Check("iam:GetRole", ROLE)) is ALLOWED
    assert evaluate(policies, Check("iam:DeleteRole", ROLE)) is ALLOWED
    denied = first_denied(policies, [Check("iam:GetRole", ROLE), Check("iam:CreateRole", ROLE)])
    assert denied == (Check("iam:CreateRole", ROLE), IMPLICIT)
    assert first_denied(policies, [Check("iam:GetRole", ROLE)]) is None


def test_an_operator_it_does_not_evaluate_is_an_error_not_a_guess() -> None:
    policy = doc(allow("s3:GetObject", "*", NumericLessThan={"s3:max-keys": "10"}))
    with pytest.raises(UnsupportedCondition, match="NumericLessThan"):
        evaluate([policy], Check("s3:GetObject", "arn:aws:s3:::b/k", {"s3:max-keys": ["5"]}))
