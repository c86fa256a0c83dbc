"""App Runner services and their operations in the emulator: create, update, pause/resume, deploy, delete."""

from __future__ import annotations

import json
import uuid
from typing import Any

from runbook_lib.sandbox.apprunner import activity
from runbook_lib.sandbox.apprunner.exceptions import (
    InvalidRequestException,
    InvalidStateException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from runbook_lib.sandbox.apprunner.resources import (
    Operation,
    Service,
    _hex32,
    _resource_part,
    _service_url_host,
    _tags_dict,
)
from runbook_lib.sandbox.apprunner.servicecfg import ServiceConfigMixin

__all__ = [
    "ServicesMixin",
]  # fmt: skip



class ServicesMixin(ServiceConfigMixin):
    """The services part of :class:`~runbook_lib.sandbox.apprunner.models.AppRunnerBackend`."""

    # ------------------------------------------------------------------ services
    def _purge_services(self) -> None:
        keep, now = self.config.deleted_retention_s, self.now()
        for sid, svc in list(self.services.items()):
            if svc.status == "DELETED" and svc.deleted_at is not None and now - svc.deleted_at >= keep:
                if self._connector_users_lag_over(svc):
                    del self.services[sid]
                    self.operations.pop(svc.arn, None)
                    self.tags.pop(svc.arn, None)

    def _connector_users_lag_over(self, svc: Service) -> bool:
        lag = self.faults.connector_release_lag_s
        return svc.deleted_at is None or self.now() - svc.deleted_at >= lag

    def get_service(self, arn: str) -> Service:
        self._purge_services()
        for svc in self.services.values():
            if svc.arn == arn:
                return svc
        _resource_part(arn)
        raise ResourceNotFoundException(f"Service not found: {arn}")

    def find_service_by_id(self, service_id: str) -> Service | None:
        self._purge_services()
        return self.services.get(service_id)

    def service_to_dict(self, svc: Service) -> dict[str, Any]:
        asc = self.ascs.get(svc.asc_arn)
        asc_summary = (
            self.asc_to_dict(asc, summary=True) if asc else {"AutoScalingConfigurationArn": svc.asc_arn}
        )
        data = {**self.service_summary(svc), "AutoScalingConfigurationSummary": asc_summary}
        if svc.deleted_at is not None:
            data["DeletedAt"] = svc.deleted_at
        for key in (
            "SourceConfiguration",
            "InstanceConfiguration",
            "EncryptionConfiguration",
            "HealthCheckConfiguration",
            "NetworkConfiguration",
            "ObservabilityConfiguration",
        ):
            if key in svc.config:
                data[key] = json.loads(json.dumps(svc.config[key]))
        return data

    def service_summary(self, svc: Service) -> dict[str, Any]:
        data = {
            "ServiceName": svc.name,
            "ServiceId": svc.id,
            "ServiceArn": svc.arn,
            "CreatedAt": svc.created_at,
            "UpdatedAt": svc.updated_at,
            "Status": svc.status,
        }
        if svc.url:
            data["ServiceUrl"] = svc.url
        return data

    def _new_operation(self, svc: Service, op_type: str) -> Operation:
        now = self.now()
        op = Operation(id=str(uuid.uuid4()), type=op_type, target_arn=svc.arn, started_at=now, updated_at=now)
        self.operations.setdefault(svc.arn, []).append(op)
        svc.busy_op = op.id
        activity.started(self, svc, op)
        return op

    def _finish(self, svc: Service, op: Operation, service_status: str, op_status: str) -> None:
        now = self.now()
        svc.status, svc.updated_at, svc.busy_op = service_status, now, None
        op.status, op.ended_at, op.updated_at = op_status, now, now
        activity.finished(self, svc, op, self.failure_reasons.pop(op.id, None))

    def create_service(self, request: dict[str, Any]) -> tuple[Service, Operation]:
        name = request["ServiceName"]
        self._purge_services()
        live = [s for s in self.services.values() if s.status != "DELETED"]
        if any(s.name == name for s in live):
            raise InvalidRequestException(f"Service with the provided name already exists: {name}")
        if self.config.restricted_account and len(live) >= 2:
            raise InvalidRequestException(
                f"Account {self.account_id} is restricted and can support only two App Runner services "
                "per region at the moment"
            )
        if len(live) >= self.config.service_quota:
            raise ServiceQuotaExceededException(
                f"You have reached the maximum number of services ({self.config.service_quota}) "
                "in this region"
            )
        if request.get("EncryptionConfiguration") is not None and not request["EncryptionConfiguration"].get(
            "KmsKey"
        ):
            raise InvalidRequestException("EncryptionConfiguration.KmsKey is required")
        cfg = self._normalize_config(request, None)
        if request.get("EncryptionConfiguration"):
            cfg["EncryptionConfiguration"] = dict(request["EncryptionConfiguration"])
        asc_arn = request.get("AutoScalingConfigurationArn")
        asc = self.resolve_asc(asc_arn, allow_inactive=False) if asc_arn is not None else self.default_asc()
        public = cfg["NetworkConfiguration"]["IngressConfiguration"]["IsPubliclyAccessible"]
        sid = _hex32()
        now = self.now()
        svc = Service(
            name=name,
            id=sid,
            arn=self._arn(f"service/{name}/{sid}"),
            url=f"{_service_url_host()}.{self.region}.awsapprunner.com" if public else "",
            created_at=now,
            updated_at=now,
            config=cfg,
            asc_arn=asc.arn,
        )
        self.services[sid] = svc
        if request.get("Tags"):
            self.tags[svc.arn] = _tags_dict(request["Tags"])
        op = self._new_operation(svc, "CREATE_SERVICE")
        fail = self.faults.take("fail_next_create")

        def done() -> None:
            reason = _injected("fail_next_create") if fail else activity.image_problem(self, svc.config)
            if reason:
                self.failure_reasons[op.id] = reason
                self._finish(svc, op, "CREATE_FAILED", "FAILED")
            else:
                self._finish(svc, op, "RUNNING", "SUCCEEDED")
                self._create_enis(svc)

        self.schedule(self.config.op_seconds, done)
        return svc, op

    def _require_not_busy(self, svc: Service, verb: str) -> None:
        if svc.status == "OPERATION_IN_PROGRESS":
            raise InvalidStateException(
                f"You can't {verb} the service while it's in the OPERATION_IN_PROGRESS state. "
                f"Wait for the current operation to finish. Service Arn: {svc.arn}"
            )
        if svc.status == "DELETED":
            raise ResourceNotFoundException(f"The service has been deleted: {svc.arn}")

    def update_service(self, request: dict[str, Any]) -> tuple[Service, Operation]:
        svc = self.get_service(request["ServiceArn"])
        self._require_not_busy(svc, "update")
        if svc.status == "PAUSED" and not self.config.update_on_paused:
            raise InvalidStateException(
                f"Service status must be RUNNING to be updated. Service Arn: {svc.arn}"
            )
        if svc.status == "CREATE_FAILED" and not self.config.rebuild_on_create_failed:
            raise InvalidStateException(
                f"Service status must be RUNNING or PAUSED to be updated. Service Arn: {svc.arn}"
            )
        if svc.status == "DELETE_FAILED":
            raise InvalidStateException(
                f"A service in DELETE_FAILED can only be deleted. Service Arn: {svc.arn}"
            )
        previous_cfg, previous_asc, previous_status = svc.config, svc.asc_arn, svc.status
        cfg = self._normalize_config(request, svc.config)
        asc_arn = svc.asc_arn
        if request.get("AutoScalingConfigurationArn") is not None:
            asc_arn = self.resolve_asc(request["AutoScalingConfigurationArn"], allow_inactive=False).arn
        rollback = self.faults.take("rollback_next_update")
        problem = _injected("rollback_next_update") if rollback else activity.image_problem(self, cfg)
        rollback = problem is not None
        svc.config, svc.asc_arn = cfg, asc_arn
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "UPDATE_SERVICE")
        if problem:
            self.failure_reasons[op.id] = problem
        seconds = self.config.op_seconds

        if not rollback:

            def done() -> None:
                self._finish(svc, op, "RUNNING" if previous_status != "PAUSED" else "PAUSED", "SUCCEEDED")
                self._sync_enis(svc)

            self.schedule(seconds, done)
        elif previous_status == "CREATE_FAILED":
            self.schedule(seconds, lambda: self._finish(svc, op, "CREATE_FAILED", "FAILED"))
        else:

            def start_rollback() -> None:
                op.status, op.updated_at = "ROLLBACK_IN_PROGRESS", self.now()

            def rolled_back() -> None:
                svc.config, svc.asc_arn = previous_cfg, previous_asc
                self._finish(svc, op, previous_status, "ROLLBACK_SUCCEEDED")

            self.schedule(seconds / 2, start_rollback)
            self.schedule(seconds, rolled_back)
        return svc, op

    def _sync_enis(self, svc: Service) -> None:
        arn = svc.connector_arn
        if svc.enis and (arn is None or svc.status == "DELETED"):
            self._release_enis(svc)
        elif arn is not None and svc.status in ("RUNNING", "PAUSED"):
            self._create_enis(svc)

    def delete_service(self, arn: str) -> tuple[Service, Operation]:
        svc = self.get_service(arn)
        self._require_not_busy(svc, "delete")
        held = [c.arn for c in self.ingress.values() if c.service_arn == arn and c.status == "AVAILABLE"]
        if held:  # the message AWS gives (hashicorp/terraform-provider-aws#40896)
            raise InvalidStateException(
                "You cannot delete a Service while it has VpcIngressConnections with a status of AVAILABLE. "
                f"Service Arn: {arn} VpcIngressConnection Arn: {held[0]}"
            )
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "DELETE_SERVICE")
        fail = self.faults.take("fail_next_delete")

        def done() -> None:
            if fail:
                self.failure_reasons[op.id] = _injected("fail_next_delete")
                self._finish(svc, op, "DELETE_FAILED", "FAILED")
                return
            self._finish(svc, op, "DELETED", "SUCCEEDED")
            svc.deleted_at = self.now()
            self._release_enis(svc)

        self.schedule(self.config.op_seconds, done)
        return svc, op

    def pause_service(self, arn: str) -> tuple[Service, Operation | None]:
        """Pause a RUNNING service; a PAUSED one is answered as is, with no operation (Copilot)."""
        return self._switch(arn, "pause", "RUNNING", "PAUSED")

    def resume_service(self, arn: str) -> tuple[Service, Operation | None]:
        """Resume a PAUSED service; a RUNNING one is answered as is, with no operation (Copilot)."""
        return self._switch(arn, "resume", "PAUSED", "RUNNING")

    def _switch(self, arn: str, verb: str, source: str, target: str) -> tuple[Service, Operation | None]:
        svc = self.get_service(arn)
        self._require_not_busy(svc, verb)
        if svc.status == target:
            return svc, None
        if svc.status != source:
            raise InvalidStateException(
                f"Only a {source} service can be {verb}d (status {svc.status}). Service Arn: {arn}"
            )
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, f"{verb.upper()}_SERVICE")
        self.schedule(self.config.op_seconds, lambda: self._finish(svc, op, target, "SUCCEEDED"))
        return svc, op

    def start_deployment(self, arn: str) -> Operation:
        svc = self.get_service(arn)
        if svc.status != "RUNNING":
            raise InvalidRequestException(
                f"A deployment can only be started on a RUNNING service (status {svc.status}). "
                f"Service Arn: {arn}"
            )
        svc.status, svc.updated_at = "OPERATION_IN_PROGRESS", self.now()
        op = self._new_operation(svc, "START_DEPLOYMENT")
        problem = activity.image_problem(self, svc.config)  # e.g. the tag was deleted from ECR
        if problem:
            self.failure_reasons[op.id] = problem
        outcome = "ROLLBACK_SUCCEEDED" if problem else "SUCCEEDED"
        self.schedule(self.config.op_seconds, lambda: self._finish(svc, op, "RUNNING", outcome))
        return op

    def list_services(self) -> list[Service]:
        self._purge_services()
        return sorted(
            (s for s in self.services.values() if s.status != "DELETED"), key=lambda s: s.created_at
        )

    def list_operations(self, arn: str) -> list[Operation]:
        svc = self.get_service(arn)
        return sorted(self.operations.get(svc.arn, []), key=lambda o: o.started_at, reverse=True)

    def maintenance(self, service_id: str, seconds: float) -> None:
        """E12: flip a RUNNING service to OPERATION_IN_PROGRESS, with no operation, for ``seconds``."""
        svc = self.services.get(service_id)
        if svc is None or svc.status != "RUNNING":
            raise KeyError(service_id)
        svc.status = "OPERATION_IN_PROGRESS"

        def back() -> None:
            if svc.status == "OPERATION_IN_PROGRESS" and svc.busy_op is None:
                svc.status = "RUNNING"

        self.schedule(seconds, back)


def _injected(fault: str) -> str:
    """The reason the logs give for a failure injected through the control API."""
    return (
        f"Health check failed on the new instances (injected by the sandbox's fault switch {fault}); "
        "check the configured port and the application logs"
    )
