"""The printed operator policy, proven on the sandbox with IAM enforced (``enforce_iam``).

An IAM user holding exactly `runbook policy`'s output runs `up` and `down`; without any one statement or
action of it, a run fails with an AccessDenied naming that action, and a re-run with the full policy
finishes what was left.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from runbook_lib import apply, load_params, make_clients
from runbook_lib.cli import main
from runbook_lib.errors import AccessDenied, WaitFailed
from runbook_lib.operations import deploy_service, pause_service, resume_service
from runbook_lib.orchestrate import teardown
from runbook_lib.policy import OPTIONAL
from runbook_lib.sandbox.control import SimulatedTime

from .conftest import SANDBOX_PARAMS, owned

USER = "runbook-operator"


@pytest.fixture
def enforced(sandbox_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The reset sandbox with IAM enforced, instant handshakes and operations; root keys; cwd a temp dir."""
    sandbox_env.control.config(enforce_iam=True, handshake="auto", handshake_seconds=0, op_seconds=0)
    monkeypatch.chdir(tmp_path)
    yield sandbox_env
    sandbox_env.control.reset()  # forgets the user and puts enforcement back off


def root(sb: Any, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=sb.url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def make_operator(sb: Any, policy: dict[str, Any]) -> dict[str, str]:
    """An IAM user with ``policy`` inline and an access key (made with the root keys)."""
    iam = root(sb, "iam")
    iam.create_user(UserName=USER)
    grant(sb, policy)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def grant(sb: Any, policy: dict[str, Any]) -> None:
    root(sb, "iam").put_user_policy(UserName=USER, PolicyName="operator", PolicyDocument=json.dumps(policy))


@contextmanager
def keys(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def write_params(folder: Path, *, network: bool, env: str = "hello") -> Path:
    doc = yaml.safe_load(SANDBOX_PARAMS.read_text())
    doc["audit_dir"] = str(folder / "runs")
    doc["source"]["env"] = {"ENV1": env}
    if not network:
        doc.pop("network")
    path = folder / f"iam-{'net' if network else 'public'}-{env}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def printed_policy(params_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["policy", str(params_path)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("network", [True, False], ids=["network", "public"])
def test_a_user_holding_exactly_the_printed_policy_runs_up_and_down(
    enforced, tmp_path: Path, capsys, network: bool
) -> None:
    params_path = write_params(tmp_path, network=network)
    policy = printed_policy(params_path, capsys)
    audit = str(tmp_path / "audit")
    with keys(make_operator(enforced, policy)):
        assert main(["up", str(params_path), "--audit-dir", audit]) == 0, capsys.readouterr().err
        assert main(["down", str(params_path), "--delete-connection", "--audit-dir", audit]) == 0
    denied = [
        r for r in enforced.control.requests() if r["error"] in ("AccessDenied", "AccessDeniedException")
    ]
    assert denied == []
    left = owned(load_params(params_path))
    assert not any(v for k, v in left.items() if k != "connectors" or network), left


def test_without_the_policy_the_first_call_is_refused_naming_action_and_resource(enforced, tmp_path) -> None:
    params_path = write_params(tmp_path, network=False)
    unrelated = {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
    with keys(make_operator(enforced, {"Version": "2012-10-17", "Statement": [unrelated]})):
        params = load_params(params_path)
        with pytest.raises(AccessDenied) as refused:
            apply(make_clients(params), params)
    message = str(refused.value)
    assert "apprunner:ListConnections" in message and "on resource: *" in message, message
    assert f"user/{USER}" in message


# ------------------------------------------------------------------ every statement and action is needed


def variants(policy: dict[str, Any]) -> Iterator[tuple[str, set[str], dict[str, Any]]]:
    """(label, the actions taken away, the policy without them): each statement, then each of its actions.

    The OPTIONAL statements (reading the log groups when something failed) are proven elsewhere
    (``test_failure_logs_are_read_with_the_policy_and_reported_without_it``)."""
    for statement in policy["Statement"]:
        sid, actions = statement["Sid"], statement["Action"]
        if sid in OPTIONAL:
            continue
        rest = [s for s in policy["Statement"] if s["Sid"] != sid]
        yield f"{sid}", set(actions), {**policy, "Statement": rest}
        for action in actions if len(actions) > 1 else []:
            fewer = copy.deepcopy(policy)
            next(s for s in fewer["Statement"] if s["Sid"] == sid)["Action"].remove(action)
            yield f"{sid} without {action}", {action}, fewer


def drift(sb: Any, params: Any) -> None:
    """What someone else changed (root keys): every repair `up` and `down` can make becomes necessary."""
    ar, iam, ec2 = root(sb, "apprunner"), root(sb, "iam"), root(sb, "ec2")
    (service,) = [s for s in ar.list_services()["ServiceSummaryList"] if s["ServiceName"] == params.name]
    ar.untag_resource(ResourceArn=service["ServiceArn"], TagKeys=["team"])
    ar.tag_resource(ResourceArn=service["ServiceArn"], Tags=[{"Key": "stray", "Value": "x"}])
    ar.pause_service(ServiceArn=service["ServiceArn"])
    role = params.instance.role_name
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    iam.untag_role(RoleName=role, TagKeys=["team"])
    stray = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
    arn = iam.create_policy(PolicyName="stray", PolicyDocument=json.dumps(stray))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.put_role_policy(RoleName=role, PolicyName="stray", PolicyDocument=json.dumps(stray))
    tag = {"Name": "tag:runbook:name", "Values": [params.name]}
    (group,) = ec2.describe_security_groups(Filters=[tag])["SecurityGroups"]
    ec2.delete_tags(Resources=[group["GroupId"]], Tags=[{"Key": "team"}])
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    ec2.revoke_security_group_egress(
        GroupId=group["GroupId"], IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    sb.control.faults(connector_release_lag_s=5)  # the connector stays "in use" a moment after the service


def changed(sb: Any, params_path: Path) -> Any:
    """The params with another env var (UpdateService), two named subnets (a replacement connector) and
    a tag key fewer (removed from the role and the service: UntagRole, UntagResource)."""
    default = [{"Name": "default-for-az", "Values": ["true"]}]
    subnets = sorted(s["SubnetId"] for s in root(sb, "ec2").describe_subnets(Filters=default)["Subnets"])[:2]
    doc = yaml.safe_load(params_path.read_text())
    doc["network"]["subnet_ids"], doc["source"]["env"] = subnets, {"ENV1": "changed"}
    doc["tags"].pop("env")
    path = params_path.with_name(f"changed-{params_path.name}")
    path.write_text(yaml.safe_dump(doc))
    return load_params(path)


COMMANDS = (pause_service, resume_service, deploy_service)  # `runbook pause`, `resume`, `deploy`


def run_from(steps: list[Any], start: int) -> None:
    """Run ``steps`` from index ``start``; an AccessDenied carries the index of the step it stopped."""
    for index, step in enumerate(steps[start:], start):
        try:
            step()
        except AccessDenied as err:
            err.step = index  # type: ignore[attr-defined]
            raise


def try_variant(
    sb: Any, label: str, missing: list[str], fewer: dict, full: dict, run: Any,
    not_needed: list[str], unnamed: list[str],
) -> None:
    """``run(start)`` holding only ``fewer``: a refusal must name one of ``missing`` (else it is noted in
    ``unnamed``), then the full policy finishes from the refused step; no refusal: ``label`` was not
    needed (noted in ``not_needed``)."""
    with keys(make_operator(sb, fewer)):
        try:
            run(0)
        except AccessDenied as err:
            if not any(f"perform: {a} on" in str(err) for a in missing):
                unnamed.append(f"{label}: {err}")
            grant(sb, full)
            run(err.step)  # the full policy finishes what was left
        else:
            not_needed.append(label)


def run_steps(sb: Any, params_path: Path, start: int = 0) -> None:
    """up (fresh), someone's drift, up of changed params, down — from step ``start`` on."""
    t, first = SimulatedTime(sb.control), load_params(params_path)
    waits = {"sleep": t.sleep, "clock": t.clock}
    steps = [
        lambda: apply(make_clients(first), first, **waits),
        lambda: drift(sb, first),
        lambda: apply(make_clients(first), changed(sb, params_path), **waits),
        lambda: [command(make_clients(first), first, **waits) for command in COMMANDS],
        lambda: teardown(make_clients(first), first, delete_connection=True, **waits),
    ]
    run_from(steps, start)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # every variant runs up and down: minutes on a 2-core machine
def test_without_any_one_statement_or_action_a_run_is_refused_naming_it(enforced, tmp_path, capsys) -> None:
    params_path = write_params(tmp_path, network=True)
    policy = printed_policy(params_path, capsys)
    with keys(make_operator(enforced, policy)):
        run_steps(enforced, params_path)  # the full policy does it all
    not_needed, unnamed = [], []
    for label, missing, fewer in variants(policy):
        enforced.control.reset()
        enforced.control.config(enforce_iam=True, handshake="auto", handshake_seconds=0, op_seconds=0)
        run = lambda start: run_steps(enforced, params_path, start)  # noqa: E731
        try_variant(enforced, label, missing, fewer, policy, run, not_needed, unnamed)
        left = owned(load_params(params_path))
        assert not any(left.values()), (label, left)
    assert not_needed == [] and unnamed == [], (not_needed, unnamed)


# ------------------------------------------------------------------ image services, tracing, failure logs


def write_image_params(folder: Path, *, tracing: bool = True) -> Path:
    """A private ECR image service with tracing (no connection, no network)."""
    doc = yaml.safe_load(SANDBOX_PARAMS.read_text())
    for key in ("connection", "network"):
        doc.pop(key)
    doc["audit_dir"] = str(folder / "runs")
    doc["source"] = {"image": {"identifier": "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo:1"}}
    doc["observability"] = {"tracing": "AWSXRAY"} if tracing else {}
    path = folder / f"iam-image-{'traced' if tracing else 'untraced'}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def push(sb: Any) -> None:
    ecr = root(sb, "ecr")
    ecr.create_repository(repositoryName="demo")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName="demo", imageManifest=json.dumps(manifest), imageTag="1")


def test_an_image_service_with_tracing_runs_on_exactly_its_printed_policy(enforced, tmp_path, capsys) -> None:
    traced, untraced = write_image_params(tmp_path), write_image_params(tmp_path, tracing=False)
    policy = printed_policy(traced, capsys)
    push(enforced)
    t = SimulatedTime(enforced.control)
    with keys(make_operator(enforced, policy)):
        first, second = load_params(traced), load_params(untraced)
        apply(make_clients(first), first, sleep=t.sleep, clock=t.clock)
        for command in COMMANDS:
            command(make_clients(first), first, sleep=t.sleep, clock=t.clock)
        apply(make_clients(second), second, sleep=t.sleep, clock=t.clock)  # tracing off: deletes the config
        teardown(make_clients(first), first, sleep=t.sleep, clock=t.clock)
    denied = [
        r for r in enforced.control.requests() if r["error"] in ("AccessDenied", "AccessDeniedException")
    ]
    assert denied == []
    api = root(enforced, "apprunner")
    assert api.list_observability_configurations()["ObservabilityConfigurationSummaryList"] == []
    roles = [r["RoleName"] for r in root(enforced, "iam").list_roles()["Roles"]]
    assert [r for r in roles if r.startswith("demo-go-app")] == []  # instance and access role gone
    assert api.list_services()["ServiceSummaryList"] == []


def test_failure_logs_are_read_with_the_policy_and_reported_without_it(enforced, tmp_path, capsys) -> None:
    params_path = write_image_params(tmp_path)  # the image is never pushed: the create fails
    policy = printed_policy(params_path, capsys)
    without = {**policy, "Statement": [s for s in policy["Statement"] if s["Sid"] not in OPTIONAL]}
    params, t = load_params(params_path), SimulatedTime(enforced.control)
    for granted, expected in (
        (policy, "Failed to pull your application image"),
        (without, "could not read it"),
    ):
        enforced.control.reset()
        enforced.control.config(enforce_iam=True, handshake="auto", handshake_seconds=0, op_seconds=0)
        with keys(make_operator(enforced, granted)), pytest.raises(WaitFailed) as failed:
            apply(make_clients(params), params, sleep=t.sleep, clock=t.clock)
        assert "CREATE_FAILED" in str(failed.value) or "FAILED" in str(failed.value)
        assert f"Log tail of /aws/apprunner/{params.name}/" in str(failed.value)
        assert expected in str(failed.value), str(failed.value)


# ------------------------------------------------------------------ custom domains and a private service

PRIVATE_SIDS = {
    "AppRunnerCustomDomains", "Route53DomainRecords", "AppRunnerListIngressConnections",
    "AppRunnerCreateIngressConnection", "AppRunnerIngressConnection", "Ec2ReadEndpoints",
    "Ec2CreateOwnedEndpoint", "Ec2CreateEndpointInVpc", "Ec2TagEndpointAtCreation", "Ec2DeleteOwnedEndpoint",
}  # fmt: skip


def private_params(sb: Any, folder: Path) -> Path:
    """A private service (owned endpoint) with a custom domain in a hosted zone made with the root keys."""
    made = root(sb, "route53").create_hosted_zone(Name="example.com", CallerReference=str(folder))
    doc = yaml.safe_load(write_params(folder, network=False).read_text())
    doc["public"], doc["ingress"] = False, {"vpc_endpoint_id": "create"}
    doc["custom_domains"] = [
        {"domain": "app.example.com", "hosted_zone_id": made["HostedZone"]["Id"].split("/")[-1]}
    ]
    path = folder / "iam-private.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def repoint(sb: Any, params: Any) -> None:
    """Someone points the ingress connection at another endpoint (root keys): `up` must update it back."""
    ar, ec2 = root(sb, "apprunner"), root(sb, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    other = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{params.region}.apprunner.requests",
        VpcEndpointType="Interface",
    )["VpcEndpoint"]["VpcEndpointId"]
    (summary,) = ar.list_vpc_ingress_connections()["VpcIngressConnectionSummaryList"]
    ar.update_vpc_ingress_connection(
        VpcIngressConnectionArn=summary["VpcIngressConnectionArn"],
        IngressVpcConfiguration={"VpcId": vpc, "VpcEndpointId": other},
    )
    sb.control.advance()


def _up_down(sb: Any, params_path: Path, start: int = 0) -> None:
    t, params = SimulatedTime(sb.control), load_params(params_path)
    steps = [
        lambda: apply(make_clients(params), params, sleep=t.sleep, clock=t.clock),
        lambda: repoint(sb, params),
        lambda: apply(make_clients(params), params, sleep=t.sleep, clock=t.clock),
        lambda: teardown(make_clients(params), params, delete_connection=True, sleep=t.sleep, clock=t.clock),
    ]
    run_from(steps, start)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # every variant runs up and down: minutes on a 2-core machine
def test_domains_and_a_private_service_need_exactly_their_statements(enforced, tmp_path, capsys) -> None:
    params_path = private_params(enforced, tmp_path)
    policy = printed_policy(params_path, capsys)
    assert PRIVATE_SIDS <= {s["Sid"] for s in policy["Statement"]}
    with keys(make_operator(enforced, policy)):
        assert main(["up", str(params_path)]) == 0, capsys.readouterr().err
        assert main(["down", str(params_path), "--delete-connection"]) == 0
    assert [
        r for r in enforced.control.requests() if r["error"] in ("AccessDenied", "AccessDeniedException")
    ] == []
    not_needed, unnamed = [], []
    for label, missing, _ in [v for v in variants(policy) if v[0].split(" ")[0] in PRIVATE_SIDS]:
        enforced.control.reset()
        enforced.control.config(enforce_iam=True, handshake="auto", handshake_seconds=0, op_seconds=0)
        path = private_params(enforced, tmp_path)  # a new zone id: the policy of these params, less `missing`
        full = printed_policy(path, capsys)
        sid = label.split(" ")[0]
        fewer = copy.deepcopy(full)
        statement = next(s for s in fewer["Statement"] if s["Sid"] == sid)
        statement["Action"] = [a for a in statement["Action"] if a not in missing]
        fewer["Statement"] = [s for s in fewer["Statement"] if s["Action"]]
        run = lambda start, path=path: _up_down(enforced, path, start)  # noqa: E731
        try_variant(enforced, label, missing, fewer, full, run, not_needed, unnamed)
    assert not_needed == [] and unnamed == [], (not_needed, unnamed)
