"""Server-side validation and pagination.

Covers docs/apprunner-behavior.md "Emulator must": E2 (what botocore leaves to the server: patterns, enums,
max bounds, CPU/memory pairs, health-check bounds, exactly one source, ImageIdentifier pattern,
VpcConnectorArn only with VPC egress — see test_apprunner_resources — and DeleteAllRevisions only with a
name ARN) and E4 (NextToken/MaxResults, the 20-item maximum of ListServices/ListOperations, short and empty
pages with a NextToken in fault mode, repeatable with a seed).
"""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import client


@pytest.mark.parametrize(
    ("cpu", "memory", "ok"),
    [
        ("0.25 vCPU", "0.5 GB", True),
        ("256", "1024", True),
        ("1 vCPU", "4 GB", True),
        ("4096", "12288", True),
        ("0.5 vCPU", "2 GB", False),
        ("1 vCPU", "8 GB", False),
        ("4 vCPU", "6 GB", False),
    ],
)
def test_cpu_memory_pairs(ar: Any, make_service: Any, cpu: str, memory: str, ok: bool) -> None:
    if ok:
        svc = make_service(InstanceConfiguration={"Cpu": cpu, "Memory": memory})["Service"]
        assert svc["InstanceConfiguration"]["Cpu"].isdigit()  # normalized to units / MB
    else:
        with pytest.raises(ar.exceptions.InvalidRequestException, match="combination of CPU"):
            make_service(InstanceConfiguration={"Cpu": cpu, "Memory": memory})


def test_patterns_enums_and_max_bounds_reach_the_server(ar: Any, make_service: Any) -> None:
    with pytest.raises(ar.exceptions.InvalidRequestException, match="regular expression"):
        ar.create_connection(ConnectionName="-bad-name", ProviderType="GITHUB")
    with pytest.raises(ar.exceptions.InvalidRequestException, match="enum"):
        ar.create_connection(ConnectionName="gitlab-conn", ProviderType="GITLAB")
    with pytest.raises(ar.exceptions.InvalidRequestException, match="less than or equal to 200"):
        ar.create_auto_scaling_configuration(AutoScalingConfigurationName="asc-x", MaxConcurrency=500)
    with pytest.raises(ar.exceptions.InvalidRequestException, match="regular expression"):
        make_service(InstanceConfiguration={"Cpu": "3 vCPU", "Memory": "2 GB"})
    with pytest.raises(ar.exceptions.InvalidRequestException, match="less than or equal to 20"):
        make_service(HealthCheckConfiguration={"Interval": 21})
    with pytest.raises(ar.exceptions.InvalidRequestException, match="enum"):
        make_service(HealthCheckConfiguration={"Protocol": "UDP"})
    with pytest.raises(ar.exceptions.InvalidRequestException, match="less than or equal to 100"):
        ar.list_connections(MaxResults=101)


def test_source_rules(ar: Any, make_service: Any, connection_arn: str) -> None:
    code = {
        "RepositoryUrl": "https://github.com/example/app",
        "SourceCodeVersion": {"Type": "BRANCH", "Value": "main"},
    }
    image = {"ImageIdentifier": "public.ecr.aws/nginx/nginx:latest", "ImageRepositoryType": "ECR_PUBLIC"}
    with pytest.raises(ar.exceptions.InvalidRequestException, match="exactly one"):
        ar.create_service(
            ServiceName="two-src", SourceConfiguration={"CodeRepository": code, "ImageRepository": image}
        )
    with pytest.raises(ar.exceptions.InvalidRequestException, match="exactly one"):
        ar.create_service(ServiceName="no-source", SourceConfiguration={})
    with pytest.raises(ar.exceptions.InvalidRequestException, match="CodeConfiguration is required"):
        ar.create_service(
            ServiceName="no-codecfg",
            SourceConfiguration={
                "CodeRepository": code,
                "AuthenticationConfiguration": {"ConnectionArn": connection_arn},
            },
        )
    bad_image = {"ImageIdentifier": "docker.io/library/nginx", "ImageRepositoryType": "ECR_PUBLIC"}
    with pytest.raises(ar.exceptions.InvalidRequestException, match="regular expression"):
        ar.create_service(ServiceName="bad-image", SourceConfiguration={"ImageRepository": bad_image})
    out = ar.create_service(ServiceName="nginx-app", SourceConfiguration={"ImageRepository": image})[
        "Service"
    ]
    assert out["SourceConfiguration"]["AutoDeploymentsEnabled"] is False  # ECR_PUBLIC default
    env = {"AWSAPPRUNNER_X": "1"}
    with pytest.raises(ar.exceptions.InvalidRequestException, match="AWSAPPRUNNER"):
        ar.create_service(
            ServiceName="env-app",
            SourceConfiguration={
                "ImageRepository": {**image, "ImageConfiguration": {"RuntimeEnvironmentVariables": env}}
            },
        )


def test_defaults_filled_in(make_service: Any) -> None:
    svc = make_service()["Service"]
    health = {"Protocol": "TCP", "Path": "/", "Interval": 5, "Timeout": 2}
    assert svc["HealthCheckConfiguration"] == {**health, "HealthyThreshold": 1, "UnhealthyThreshold": 5}
    assert svc["NetworkConfiguration"] == {
        "EgressConfiguration": {"EgressType": "DEFAULT"},
        "IngressConfiguration": {"IsPubliclyAccessible": True},
        "IpAddressType": "IPV4",
    }
    assert svc["SourceConfiguration"]["CodeRepository"]["SourceDirectory"] == "/"


def test_health_check_update_replaces_the_whole_block(ar: Any, make_service: Any) -> None:
    """Omitted members take the defaults again, not their previous values: clients send all six and
    compare with what DescribeService returns (defaults differ between the API reference and the API)."""
    six = {"Protocol": "HTTP", "Path": "/healthz", "Interval": 10, "Timeout": 5}
    six |= {"HealthyThreshold": 3, "UnhealthyThreshold": 4}
    arn = make_service(HealthCheckConfiguration=six)["Service"]["ServiceArn"]
    assert ar.describe_service(ServiceArn=arn)["Service"]["HealthCheckConfiguration"] == six
    ar.update_service(ServiceArn=arn, HealthCheckConfiguration={"Protocol": "HTTP", "Interval": 7})
    described = ar.describe_service(ServiceArn=arn)["Service"]["HealthCheckConfiguration"]
    assert described == {"Protocol": "HTTP", "Path": "/", "Interval": 7, "Timeout": 2} | {
        "HealthyThreshold": 1,
        "UnhealthyThreshold": 5,
    }


# ----------------------------------------------------------------------------------- pagination


def _all_pages(call: Any, key: str, **kw: Any) -> tuple[list[Any], list[int]]:
    items: list[Any] = []
    sizes: list[int] = []
    token = None
    for _ in range(200):
        page = call(**kw, **({"NextToken": token} if token else {}))
        items.extend(page[key])
        sizes.append(len(page[key]))
        token = page.get("NextToken")
        if not token:
            return items, sizes
    raise AssertionError("pagination did not end")


def test_paging_with_max_results(ar: Any, make_service: Any) -> None:
    names = [f"app-{i:02d}" for i in range(7)]
    for name in names:
        make_service(name)
    items, sizes = _all_pages(ar.list_services, "ServiceSummaryList", MaxResults=3)
    assert [s["ServiceName"] for s in items] == names and sizes == [3, 3, 1]
    everything = ar.list_services()["ServiceSummaryList"]  # no MaxResults: all in one response
    assert len(everything) == 7
    with pytest.raises(ar.exceptions.InvalidRequestException, match="token"):
        ar.list_services(NextToken="not-a-token")


def test_list_operations_paging_newest_first(ar: Any, make_service: Any) -> None:
    arn = make_service()["Service"]["ServiceArn"]
    for _ in range(4):
        ar.start_deployment(ServiceArn=arn)
        ar.describe_service(ServiceArn=arn)
    items, sizes = _all_pages(ar.list_operations, "OperationSummaryList", ServiceArn=arn, MaxResults=2)
    assert sizes == [2, 2, 1] and items[-1]["Type"] == "CREATE_SERVICE"
    assert [o["StartedAt"] for o in items] == sorted((o["StartedAt"] for o in items), reverse=True)


def test_short_and_empty_pages_with_next_token(ar: Any, sb: Any, make_service: Any) -> None:
    for i in range(6):
        make_service(f"app-{i:02d}")
    sb.control.faults(seed=7, short_pages=True)
    items, sizes = _all_pages(ar.list_services, "ServiceSummaryList", MaxResults=20)
    assert len(items) == 6 and len({s["ServiceArn"] for s in items}) == 6
    assert 0 in sizes and max(sizes) < 6  # at least one empty page carrying a NextToken
    first = ar.list_services(MaxResults=20)
    naive = first["ServiceSummaryList"]  # a client that stops at the first page misses services
    assert len(naive) < 6 and "NextToken" in first
    # the same seed gives the same page sizes
    sb.control.faults(seed=7)
    _, again = _all_pages(ar.list_services, "ServiceSummaryList", MaxResults=20)
    assert again == sizes


def test_short_pages_apply_to_every_list(ar: Any, sb: Any) -> None:
    for i in range(3):
        ar.create_connection(ConnectionName=f"conn-{i}", ProviderType="GITHUB")
    sb.control.faults(seed=1, short_pages=True)
    items, sizes = _all_pages(ar.list_connections, "ConnectionSummaryList")
    assert len(items) == 3 and len(sizes) > 1


def test_regions_are_separate_for_pagination(sb: Any, make_service: Any) -> None:
    make_service()
    assert client(sb, "apprunner", region="eu-west-1").list_services(MaxResults=1)["ServiceSummaryList"] == []
