"""App Runner emulator: JSON 1.0 parsing and serialization (the ``responses`` half).

Each handler takes the parsed request and the per-(account, region) backend and returns the response
dict (reads of connections, VPC connectors and auto scaling configurations go through ``consistency``,
which applies the configured consistency delay); :func:`handle` validates the request against the
botocore model first, and :func:`error_response` is the one place an
:class:`~runbook_lib.sandbox.apprunner.models.AppRunnerError` becomes AWS JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from runbook_lib.sandbox.apprunner import consistency, domains, shapes
from runbook_lib.sandbox.apprunner.models import (
    AppRunnerBackend,
    AppRunnerError,
    InternalServiceErrorException,
    InvalidRequestException,
)

__all__ = [
    "CONTENT_TYPE", "HANDLERS", "Handler", "error_response", "handle", "parse_body",
]  # fmt: skip


CONTENT_TYPE = "application/x-amz-json-1.0"
Handler = Callable[[AppRunnerBackend, dict[str, Any]], dict[str, Any]]


def _page(
    backend: AppRunnerBackend, req: dict[str, Any], items: list[Any], key: str, render: Callable[[Any], Any]
) -> dict[str, Any]:
    page, token = backend.paginate(items, req.get("MaxResults"), req.get("NextToken"))
    out: dict[str, Any] = {key: [render(i) for i in page]}
    if token:
        out["NextToken"] = token
    return out


def _create_connection(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "Connection": b.create_connection(r["ConnectionName"], r["ProviderType"], r.get("Tags")).to_dict()
    }


def _list_connections(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    items = consistency.list_connections(b, r.get("ConnectionName"))
    return _page(b, r, items, "ConnectionSummaryList", lambda c: c.to_dict())


def _delete_connection(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {"Connection": b.delete_connection(r["ConnectionArn"]).to_dict()}


def _create_asc(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    asc = b.create_asc(
        r["AutoScalingConfigurationName"],
        r.get("MaxConcurrency"),
        r.get("MinSize"),
        r.get("MaxSize"),
        r.get("Tags"),
    )
    return {"AutoScalingConfiguration": b.asc_to_dict(asc)}


def _describe_asc(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    asc = consistency.describe_asc(b, r["AutoScalingConfigurationArn"])
    return {"AutoScalingConfiguration": b.asc_to_dict(asc)}


def _delete_asc(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    asc = b.delete_asc(r["AutoScalingConfigurationArn"], bool(r.get("DeleteAllRevisions")))
    return {"AutoScalingConfiguration": b.asc_to_dict(asc)}


def _list_ascs(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    latest_only = r.get("LatestOnly")
    name = r.get("AutoScalingConfigurationName")
    items = consistency.list_ascs(b, name, True if latest_only is None else latest_only)
    return _page(b, r, items, "AutoScalingConfigurationSummaryList", lambda a: b.asc_to_dict(a, summary=True))


def _update_default_asc(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {"AutoScalingConfiguration": b.asc_to_dict(b.update_default_asc(r["AutoScalingConfigurationArn"]))}


def _list_services_for_asc(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    items = b.services_for_asc(r["AutoScalingConfigurationArn"])
    return _page(b, r, items, "ServiceArnList", lambda arn: arn)


def _create_obs(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    vendor = (r.get("TraceConfiguration") or {}).get("Vendor")
    obs = b.create_observability(r["ObservabilityConfigurationName"], vendor, r.get("Tags"))
    return {"ObservabilityConfiguration": b.obs_to_dict(obs)}


def _describe_obs(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "ObservabilityConfiguration": b.obs_to_dict(
            b.resolve_observability(r["ObservabilityConfigurationArn"])
        )
    }


def _delete_obs(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "ObservabilityConfiguration": b.obs_to_dict(
            b.delete_observability(r["ObservabilityConfigurationArn"])
        )
    }


def _list_obs(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    latest_only = r.get("LatestOnly")
    items = b.list_observability(
        r.get("ObservabilityConfigurationName"), True if latest_only is None else latest_only
    )
    return _page(
        b, r, items, "ObservabilityConfigurationSummaryList", lambda o: b.obs_to_dict(o, summary=True)
    )


def _create_connector(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    conn = b.create_vpc_connector(r["VpcConnectorName"], r["Subnets"], r.get("SecurityGroups"), r.get("Tags"))
    return {"VpcConnector": conn.to_dict()}


def _describe_connector(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {"VpcConnector": consistency.describe_vpc_connector(b, r["VpcConnectorArn"]).to_dict()}


def _delete_connector(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {"VpcConnector": b.delete_vpc_connector(r["VpcConnectorArn"]).to_dict()}


def _list_connectors(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return _page(b, r, consistency.list_vpc_connectors(b), "VpcConnectors", lambda c: c.to_dict())


def _create_service(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    svc, op = b.create_service(r)
    return {"Service": b.service_to_dict(svc), "OperationId": op.id}


def _update_service(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    svc, op = b.update_service(r)
    return {"Service": b.service_to_dict(svc), "OperationId": op.id}


def _service_op(method: str) -> Handler:
    def handler(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
        svc, op = getattr(b, method)(r["ServiceArn"])
        out: dict[str, Any] = {"Service": b.service_to_dict(svc)}
        if op is not None:  # pausing a PAUSED / resuming a RUNNING service starts no operation
            out["OperationId"] = op.id
        return out

    return handler


def _describe_service(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {"Service": b.service_to_dict(b.get_service(r["ServiceArn"]))}


def _list_services(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return _page(b, r, b.list_services(), "ServiceSummaryList", b.service_summary)


def _start_deployment(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {"OperationId": b.start_deployment(r["ServiceArn"]).id}


def _list_operations(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return _page(b, r, b.list_operations(r["ServiceArn"]), "OperationSummaryList", lambda o: o.to_dict())


def _tag(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    b.tag_resource(r["ResourceArn"], r["Tags"])
    return {}


def _untag(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    b.untag_resource(r["ResourceArn"], r["TagKeys"])
    return {}


def _list_tags(b: AppRunnerBackend, r: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": b.list_tags(r["ResourceArn"])}


HANDLERS: dict[str, Handler] = {
    "CreateConnection": _create_connection,
    "ListConnections": _list_connections,
    "DeleteConnection": _delete_connection,
    "CreateAutoScalingConfiguration": _create_asc,
    "DescribeAutoScalingConfiguration": _describe_asc,
    "DeleteAutoScalingConfiguration": _delete_asc,
    "ListAutoScalingConfigurations": _list_ascs,
    "UpdateDefaultAutoScalingConfiguration": _update_default_asc,
    "ListServicesForAutoScalingConfiguration": _list_services_for_asc,
    "CreateObservabilityConfiguration": _create_obs,
    "DescribeObservabilityConfiguration": _describe_obs,
    "DeleteObservabilityConfiguration": _delete_obs,
    "ListObservabilityConfigurations": _list_obs,
    "CreateVpcConnector": _create_connector,
    "DescribeVpcConnector": _describe_connector,
    "DeleteVpcConnector": _delete_connector,
    "ListVpcConnectors": _list_connectors,
    "CreateService": _create_service,
    "UpdateService": _update_service,
    "DeleteService": _service_op("delete_service"),
    "PauseService": _service_op("pause_service"),
    "ResumeService": _service_op("resume_service"),
    "DescribeService": _describe_service,
    "ListServices": _list_services,
    "StartDeployment": _start_deployment,
    "ListOperations": _list_operations,
    "TagResource": _tag,
    "UntagResource": _untag,
    "ListTagsForResource": _list_tags,
    **domains.handlers(_page),  # custom domains and VPC ingress connections
}


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON request body (empty body = empty object)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise InvalidRequestException("The request body isn't valid JSON") from err
    if not isinstance(body, dict):
        raise InvalidRequestException("The request body must be a JSON object")
    return body


def handle(backend: AppRunnerBackend, operation: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Run one App Runner operation; returns (HTTP status, headers, body). Errors become AWS JSON here."""
    try:
        op_model = shapes.operation_model(operation)
        if op_model is None:
            raise InvalidRequestException(f"Unknown operation AppRunner.{operation}")
        handler = HANDLERS.get(operation)
        if handler is None:
            raise InvalidRequestException(f"The local sandbox does not implement AppRunner.{operation}")
        request = parse_body(raw)
        problems = shapes.validate_input(op_model, request)
        if problems:
            raise InvalidRequestException(shapes.format_problems(problems))
        result = handler(backend, request)
    except AppRunnerError as err:
        return error_response(err)
    except Exception as err:  # a bug in the emulator must still look like AWS to the client
        return error_response(
            InternalServiceErrorException(f"Sandbox internal error: {type(err).__name__}: {err}")
        )
    return 200, _headers(), json.dumps(result).encode()


def error_response(err: AppRunnerError) -> tuple[int, dict[str, str], bytes]:
    """The one serializer of App Runner errors: ``{"__type": code, "Message": msg}`` with its status."""
    body = {"__type": err.code, "Message": err.message[:600]}
    headers = _headers()
    headers["x-amzn-ErrorType"] = err.code
    return err.status, headers, json.dumps(body).encode()


def _headers() -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}
