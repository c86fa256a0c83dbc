"""IAM roles: request builders (snapshots + botocore model), decisions over stubbed IAM, and moto."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from moto import mock_aws
from unit_helpers import ACCOUNT, demo_params

from runbook_lib import iam
from runbook_lib.clients import make_clients
from runbook_lib.ownership import NotOwned
from runbook_lib.results import NOT_OWNED, Action

ROLE = "demo-app-instance"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
SQS_READ = "arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"
TAGS = [
    {"Key": "runbook:name", "Value": "demo-app"},
    {"Key": "runbook:tags", "Value": "team"},
    {"Key": "team", "Value": "platform"},
]
FOREIGN = [{"Key": "runbook:name", "Value": "other-app"}, {"Key": "team", "Value": "platform"}]
TRUST_JSON = (
    '{"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", '
    '"Principal": {"Service": "tasks.apprunner.amazonaws.com"}}], "Version": "2012-10-17"}'
)


def make_params(**overrides):
    return demo_params({"instance": {"policy_arns": [S3_READ]}}, **overrides)


@pytest.fixture
def stub(clients, no_network):
    with Stubber(clients.iam) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def role(trust=None, tags=TAGS) -> dict:
    return {
        "Role": {
            "Path": "/",
            "RoleName": ROLE,
            "RoleId": "AROAEXAMPLEEXAMPLE01",
            "Arn": ROLE_ARN,
            "CreateDate": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
            "AssumeRolePolicyDocument": trust if trust is not None else TRUST_JSON,
            "Tags": tags,
        }
    }


def attached(*arns: str) -> dict:
    return {"AttachedPolicies": [{"PolicyName": a.rsplit("/", 1)[1], "PolicyArn": a} for a in arns]}


def observe(stub: Stubber, *policies: str, trust=None, tags=TAGS) -> None:
    stub.add_response("get_role", role(trust, tags), {"RoleName": ROLE})
    stub.add_response("list_attached_role_policies", attached(*policies), {"RoleName": ROLE})


def mutating(clients) -> list[str]:
    return [c.operation for c in clients.calls if c.mutating]


def validate(client, operation: str, request: dict) -> None:
    validate_parameters(request, client.meta.service_model.operation_model(operation).input_shape)


# ---------------------------------------------------------------- pure builders


def test_create_role_request_snapshot(clients) -> None:
    request = iam.build_create_role_request(make_params())
    assert request == {
        "RoleName": ROLE,
        "AssumeRolePolicyDocument": TRUST_JSON,
        "Description": "App Runner instance role of demo-app (managed by runbook)",
        "Tags": TAGS,
    }
    validate(clients.iam, "CreateRole", request)


def test_access_role_request_snapshot(clients) -> None:
    params = make_params()
    request = iam.build_create_role_request(params, iam.access_role_spec(params, "demo-app-ecr"))
    assert request == {
        "RoleName": "demo-app-ecr",
        "AssumeRolePolicyDocument": TRUST_JSON.replace("tasks.", "build."),
        "Description": "App Runner ECR access role of demo-app (managed by runbook)",
        "Tags": TAGS,
    }
    validate(clients.iam, "CreateRole", request)


def test_update_trust_and_tag_requests_snapshot(clients) -> None:
    params = make_params()
    spec = iam.instance_role_spec(params)
    update = iam.build_update_trust_request(spec)
    assert update == {"RoleName": ROLE, "PolicyDocument": TRUST_JSON}
    validate(clients.iam, "UpdateAssumeRolePolicy", update)
    tag = iam.build_tag_role_request(spec, params.owned_tags)
    assert tag == {"RoleName": ROLE, "Tags": TAGS}
    validate(clients.iam, "TagRole", tag)
    only_differing = iam.build_tag_role_request(spec, {"team": "platform"})
    assert only_differing == {"RoleName": ROLE, "Tags": [{"Key": "team", "Value": "platform"}]}


def test_policy_documents_compare_as_parsed_json() -> None:
    desired = iam.build_trust_policy()
    encoded = quote(json.dumps(desired))
    reshaped = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Principal": {"Service": ["tasks.apprunner.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
        },
    }
    assert iam.parse_policy_document(encoded) == desired
    assert iam.normalize_policy(encoded) == iam.normalize_policy(desired) == iam.normalize_policy(reshaped)
    other = iam.build_trust_policy(iam.ACCESS_PRINCIPAL)
    assert iam.normalize_policy(other) != iam.normalize_policy(desired)


def test_diff_role_fields() -> None:
    params = make_params()
    observed = {
        "trust_policy": iam.build_trust_policy("ec2.amazonaws.com"),
        "policy_arns": [SQS_READ],
        "tags": {"team": "platform"},
    }
    changes = iam.diff_instance_role(params, observed)
    assert [c.field for c in changes] == ["trust_policy", "policy_arns", "tags"]
    assert changes[1].observed == [SQS_READ] and changes[1].desired == [S3_READ]
    in_sync = {
        "trust_policy": json.loads(TRUST_JSON),
        "policy_arns": [S3_READ],
        "tags": {"runbook:name": "demo-app", "runbook:tags": "team", "team": "platform", "x": "y"},
    }
    assert iam.diff_instance_role(params, in_sync) == ()  # others' keys (x) are no change


# ---------------------------------------------------------------- decisions over stubbed IAM


def test_ensure_creates_absent_role(clients, stub) -> None:
    stub.add_client_error(
        "get_role", "NoSuchEntity", http_status_code=404, expected_params={"RoleName": ROLE}
    )
    stub.add_response("create_role", role(), iam.build_create_role_request(make_params()))
    stub.add_response("attach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": S3_READ})
    result = iam.ensure_instance_role(clients, make_params())
    assert (result.resource, result.action, result.arn) == ("instance_role", Action.CREATED, ROLE_ARN)
    assert mutating(clients) == ["CreateRole", "AttachRolePolicy"]


def test_ensure_leaves_matching_role_alone(clients, stub) -> None:
    observe(stub, S3_READ, trust=quote(TRUST_JSON))
    result = iam.ensure_instance_role(clients, make_params())
    assert (result.action, result.arn, result.changes) == (Action.UNCHANGED, ROLE_ARN, ())
    assert mutating(clients) == []


def test_ensure_corrects_trust_drift(clients, stub) -> None:
    drifted = quote(json.dumps(iam.build_trust_policy("ec2.amazonaws.com")))
    observe(stub, S3_READ, trust=drifted)
    stub.add_response(
        "update_assume_role_policy", {}, iam.build_update_trust_request(iam.instance_role_spec(make_params()))
    )
    result = iam.ensure_instance_role(clients, make_params())
    assert (result.action, result.changed_fields) == (Action.UPDATED, ["trust_policy"])
    assert mutating(clients) == ["UpdateAssumeRolePolicy"]


def test_ensure_attaches_and_detaches_policies(clients, stub) -> None:
    observe(stub, SQS_READ)
    stub.add_response("attach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": S3_READ})
    stub.add_response("detach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": SQS_READ})
    result = iam.ensure_instance_role(clients, make_params())
    assert (result.action, result.changed_fields) == (Action.UPDATED, ["policy_arns"])


def test_ensure_restores_owned_tags(clients, stub) -> None:
    """TagRole sets only the differing managed tags, UntagRole removes managed keys gone from the params,
    and keys set by others (CostCenter) stay."""
    drifted = [
        {"Key": "runbook:name", "Value": "demo-app"},
        {"Key": "runbook:tags", "Value": "env+team"},
        {"Key": "env", "Value": "dev"},
        {"Key": "team", "Value": "other"},
        {"Key": "CostCenter", "Value": "42"},
    ]
    observe(stub, S3_READ, tags=drifted)
    stub.add_response(
        "tag_role",
        {},
        {
            "RoleName": ROLE,
            "Tags": [{"Key": "runbook:tags", "Value": "team"}, {"Key": "team", "Value": "platform"}],
        },
    )
    stub.add_response("untag_role", {}, {"RoleName": ROLE, "TagKeys": ["env"]})
    assert iam.ensure_instance_role(clients, make_params()).changed_fields == ["tags"]
    assert mutating(clients) == ["TagRole", "UntagRole"]


def test_foreign_tags_alone_are_no_change(clients, stub) -> None:
    observe(stub, S3_READ, tags=[*TAGS, {"Key": "CostCenter", "Value": "42"}])
    assert iam.ensure_instance_role(clients, make_params()).action is Action.UNCHANGED
    assert mutating(clients) == []


def test_a_foreign_role_of_the_name_is_refused(clients, stub) -> None:
    observe(stub, S3_READ, tags=FOREIGN)
    with pytest.raises(NotOwned) as err:
        iam.plan_instance_role(clients, make_params())
    assert ROLE_ARN in str(err.value) and "owned by environment 'other-app'" in str(err.value)
    observe(stub, S3_READ, tags=[])
    with pytest.raises(NotOwned, match="without the runbook:name tag"):
        iam.ensure_instance_role(clients, make_params())
    assert mutating(clients) == []


def test_adopting_a_role_tags_it(clients, stub) -> None:
    params = make_params(adopt=["instance_role"])
    observe(stub, S3_READ, tags=[{"Key": "CostCenter", "Value": "42"}])
    planned = iam.plan_instance_role(clients, params)
    assert (planned.action, planned.changed_fields) == (Action.UPDATE, ["tags"])
    observe(stub, S3_READ, tags=[{"Key": "CostCenter", "Value": "42"}])
    stub.add_response("tag_role", {}, {"RoleName": ROLE, "Tags": TAGS})
    result = iam.ensure_instance_role(clients, params)
    assert (result.action, result.changed_fields) == (Action.UPDATED, ["tags"])
    assert mutating(clients) == ["TagRole"]


def test_delete_keeps_a_foreign_role(clients, stub) -> None:
    observe(stub, S3_READ, tags=FOREIGN)
    result = iam.delete_instance_role(clients, make_params())
    assert (result.action, result.arn, result.detail) == (Action.KEPT, ROLE_ARN, NOT_OWNED)
    assert mutating(clients) == []


def test_plan_reads_only(clients, stub) -> None:
    observe(stub)
    result = iam.plan_instance_role(clients, make_params())
    assert (result.action, result.changed_fields) == (Action.UPDATE, ["policy_arns"])
    stub.add_client_error("get_role", "NoSuchEntity", http_status_code=404)
    assert iam.plan_instance_role(clients, make_params()).action is Action.CREATE
    assert mutating(clients) == []


def test_ensure_access_role_trusts_build_principal(clients, stub) -> None:
    params = make_params()
    spec = iam.access_role_spec(params, "demo-app-ecr")
    stub.add_client_error(
        "get_role", "NoSuchEntity", http_status_code=404, expected_params={"RoleName": "demo-app-ecr"}
    )
    stub.add_response("create_role", role(), iam.build_create_role_request(params, spec))
    stub.add_response(
        "attach_role_policy", {}, {"RoleName": "demo-app-ecr", "PolicyArn": iam.ECR_ACCESS_POLICY}
    )
    result = iam.ensure_access_role(clients, params, "demo-app-ecr")
    assert (result.resource, result.name, result.action) == ("access_role", "demo-app-ecr", Action.CREATED)


def test_delete_detaches_then_deletes(clients, stub) -> None:
    observe(stub, S3_READ)
    stub.add_response("detach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": S3_READ})
    stub.add_response(
        "list_role_policies", {"PolicyNames": ["inline"], "IsTruncated": False}, {"RoleName": ROLE}
    )
    stub.add_response("delete_role_policy", {}, {"RoleName": ROLE, "PolicyName": "inline"})
    stub.add_response("delete_role", {}, {"RoleName": ROLE})
    result = iam.delete_instance_role(clients, make_params())
    assert (result.action, result.arn) == (Action.DELETED, ROLE_ARN)
    assert mutating(clients) == ["DetachRolePolicy", "DeleteRolePolicy", "DeleteRole"]


def test_delete_absent_role(clients, stub) -> None:
    stub.add_client_error("get_role", "NoSuchEntity", http_status_code=404)
    assert iam.delete_instance_role(clients, make_params()).action is Action.ABSENT


def test_list_follows_iam_markers(clients, stub) -> None:
    stub.add_response("get_role", role(), {"RoleName": ROLE})
    stub.add_response(
        "list_attached_role_policies",
        {**attached(S3_READ), "IsTruncated": True, "Marker": "m1"},
        {"RoleName": ROLE},
    )
    stub.add_response("list_attached_role_policies", attached(SQS_READ), {"RoleName": ROLE, "Marker": "m1"})
    assert iam.find_instance_role(clients, make_params())["policy_arns"] == [S3_READ, SQS_READ]


# ---------------------------------------------------------------- against moto


def test_lifecycle_under_moto(aws_env, no_network) -> None:
    with mock_aws():
        clients = make_clients(region="us-east-1")
        document = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        )
        first, second = (
            clients.iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
            for name in ("first", "second")
        )
        params = make_params(**{"instance.policy_arns": [first]})
        assert iam.ensure_instance_role(clients, params).action is Action.CREATED
        clients.calls.clear()
        again = iam.ensure_instance_role(clients, params)
        assert again.action is Action.UNCHANGED, again.changes
        assert [c for c in clients.calls if c.mutating] == []
        role_doc = clients.iam.get_role(RoleName=ROLE)["Role"]
        assert iam.normalize_policy(role_doc["AssumeRolePolicyDocument"]) == iam.normalize_policy(
            iam.build_trust_policy()
        )
        changed = make_params(**{"instance.policy_arns": [second]})
        assert iam.ensure_instance_role(clients, changed).action is Action.UPDATED
        assert iam.find_instance_role(clients, params)["policy_arns"] == [second]
        assert iam.delete_instance_role(clients, params).action is Action.DELETED
        assert iam.delete_instance_role(clients, params).action is Action.ABSENT
