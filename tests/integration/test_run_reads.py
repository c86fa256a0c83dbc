"""The reads of one run and of a batch's lookups, on the sandbox, judged by its request log: the service
step reads neither the tags nor the settings of what the earlier steps of the same run created, and
environments sharing listings each find their own connection and revision in unfiltered passes."""

from __future__ import annotations

from pathlib import Path

from runbook_lib import Action, apply, autoscaling, load_params, make_clients
from runbook_lib.aws import call
from runbook_lib.sandbox.control import SimulatedTime as SimTime
from runbook_lib.shared_reads import SharedReads

PARAMS = Path(__file__).resolve().parents[2] / "params" / "sandbox.yaml"


def up(clients, params, control) -> list:
    """A fresh environment's apply: connection, handshake, then every step (one Clients, as the notebooks
    of one run share theirs in a runner's kernel)."""
    t = SimTime(control)
    apply(clients, params, only="connection", wait_handshake=False)
    control.handshake(params.connection.name, "AVAILABLE")
    return apply(clients, params, sleep=t.sleep, clock=t.clock)


def apprunner(control) -> list[dict]:
    return [r for r in control.requests() if r.get("service") == "apprunner"]


def test_the_service_step_rereads_nothing_the_run_created(sandbox_env) -> None:
    params = load_params(PARAMS)
    clients = make_clients(params)
    results = up(clients, params, sandbox_env.control)
    assert {r.resource: r.action for r in results}["service"] is Action.CREATED
    ops = [r["operation"] for r in apprunner(sandbox_env.control)]
    assert "ListTagsForResource" not in ops  # connector and revision: tagged by their creates
    assert ops.count("DescribeAutoScalingConfiguration") == 1  # the wait after the create, only
    assert ops.count("DescribeVpcConnector") == 1  # likewise

    # a tag change of the revision by this process: the next lookup reads its tags again
    revision = next(r.arn for r in results if r.resource == "autoscaling")
    tags = [{"Key": "x", "Value": "y"}]
    call(clients, "apprunner", "TagResource", resource="r", ResourceArn=revision, Tags=tags)
    sandbox_env.control.clear_requests()
    assert autoscaling.plan_autoscaling(clients, params).action is Action.UNCHANGED
    reads = [(r["operation"], r["body"].get("ResourceArn")) for r in apprunner(sandbox_env.control)]
    assert ("ListTagsForResource", revision) in reads


def test_environments_sharing_listings_each_find_their_own(sandbox_env, tmp_path: Path) -> None:
    control = sandbox_env.control
    made = {}
    for name in ("app-a", "app-b"):
        params = load_params(PARAMS, overrides={"name": name, "connection.name": f"github-{name}"})
        clients = make_clients(params)
        clients.shared = SharedReads("apprunner-123456789012-us-east-1", tmp_path)
        control.clear_requests()
        results = up(clients, params, control)
        made[name] = next(r.arn for r in results if r.resource == "service")
        log = apprunner(control)
        connections = [r["body"] for r in log if r["operation"] == "ListConnections"]
        assert connections and all(body == {} for body in connections)  # unfiltered passes, shared
        created = next(i for i, r in enumerate(log) if r["operation"] == "CreateService")
        revisions = [r["body"] for r in log[:created] if r["operation"] == "ListAutoScalingConfigurations"]
        assert revisions and all(body == {"LatestOnly": False} for body in revisions)
        # (after its service, it prunes the name's revisions with a request of its own: after a change)
    for name, arn in made.items():
        service = make_clients(region="us-east-1").apprunner.describe_service(ServiceArn=arn)["Service"]
        auth = service["SourceConfiguration"]["AuthenticationConfiguration"]["ConnectionArn"]
        assert f":connection/github-{name}/" in auth
        asc = service["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"]
        assert f":autoscalingconfiguration/{name}/" in asc
