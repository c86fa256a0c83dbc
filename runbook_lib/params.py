"""The parameter file: pydantic models for every field (params/example-go.yaml), and ``load_params``.

Bounds, patterns and enums come from the App Runner API model shipped in botocore where it has them,
and from docs/apprunner-behavior.md where it doesn't (CPU/memory pairs, auto scaling bounds). Every problem
in a file is reported at once, each naming its field path, the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from runbook_lib.errors import ParameterError, Problem
from runbook_lib.param_sections import (  # the sections, also importable from here (__all__)
    ADOPTABLE,
    ASC_NAME_MAX,
    CPU_MEMORY_PAIRS,
    CPU_UNITS,
    MANAGED_TAG,
    MAX_SIZE_LIMIT,
    MEMORY_UNITS,
    OWNER_TAG,
    PROVIDER_HOSTS,
    REGION,
    SECRET_ARN,
    AutoscalingParams,
    ConnectionParams,
    CustomDomainParams,
    HealthCheckParams,
    IngressParams,
    InstanceParams,
    NetworkParams,
    ObservabilityParams,
    TimeoutParams,
    _Model,
    api_shape,
    autoscaling_name,
    check_api,
)
from runbook_lib.param_source import CODE_ONLY, ImageParams, SourceParams, image_type

__all__ = [
    "ADOPTABLE", "ASC_NAME_MAX", "AutoscalingParams", "CODE_ONLY", "CPU_MEMORY_PAIRS", "CPU_UNITS",
    "ConnectionParams", "CustomDomainParams", "HealthCheckParams", "ImageParams", "IngressParams",
    "InstanceParams", "MANAGED_TAG", "MAX_SIZE_LIMIT", "MEMORY_UNITS", "NetworkParams", "OWNER_TAG",
    "ObservabilityParams", "PROVIDER_HOSTS", "Params", "REGION", "SECRET_ARN", "SourceParams",
    "TimeoutParams", "api_shape", "autoscaling_name", "check_api", "image_type", "load_params",
    "parse_params",
    "read_document", "redacted_params",
]  # fmt: skip


class Params(_Model):
    """One environment: everything the runbook provisions, named after ``name``."""

    name: str
    account_id: str
    region: str
    tags: dict[str, str] = Field(default_factory=dict)
    connection: ConnectionParams | None = None  # not needed for an image source
    source: SourceParams
    instance: InstanceParams
    network: NetworkParams | None = None
    public: bool = True
    ingress: IngressParams | None = None  # required when public is false
    custom_domains: list[CustomDomainParams] = Field(default_factory=list)
    autoscaling: AutoscalingParams
    health_check: HealthCheckParams = Field(default_factory=HealthCheckParams)
    observability: ObservabilityParams | None = None
    timeouts: TimeoutParams = Field(default_factory=TimeoutParams)
    audit_dir: str = "runs"
    adopt: list[Literal[ADOPTABLE]] = Field(default_factory=list)  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """Names of owned resources default to the service name."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data
        data = dict(data)
        name = data["name"]
        for section, key, default in (
            ("instance", "role_name", f"{name}-instance"),
            ("network", "connector_name", name),
            ("autoscaling", "name", autoscaling_name(name)),
            ("observability", "name", autoscaling_name(name)),
            ("ingress", "name", name),
        ):
            optional = ("network", "observability", "ingress")
            value = data.get(section, {} if section not in optional else None)
            if isinstance(value, dict) and key not in value:
                data[section] = {**value, key: default}
            elif value is None and section not in optional:
                data[section] = {key: default}
        image = (data.get("source") or {}).get("image") if isinstance(data.get("source"), dict) else None
        ident = image.get("identifier") if isinstance(image, dict) else None
        if isinstance(ident, str) and "access_role_name" not in image:
            if image.get("type", image_type(ident.strip())) == "ECR":
                data["source"] = {**data["source"], "image": {**image, "access_role_name": f"{name}-access"}}
        return data

    _name = field_validator("name")(lambda v: check_api(v, "ServiceName"))

    @field_validator("account_id", mode="before")
    @classmethod
    def _account(cls, v: Any) -> str:
        if not isinstance(v, str) or not re.fullmatch(r"\d{12}", v):
            raise ValueError('must be the 12-digit AWS account id as a quoted string, e.g. "123456789012"')
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not REGION.fullmatch(v):
            raise ValueError("must be an AWS region code like us-east-1")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            check_api(key, "TagKey")
            check_api(value, "TagValue")
        problems = []
        reserved = sorted(k for k in v if k.startswith("runbook:"))
        if reserved:
            problems.append(f"{', '.join(reserved)}: runbook:* tags are set by the runbook itself")
        joined = sorted(k for k in v if "+" in k)
        if joined:
            problems.append(f"{', '.join(joined)}: tag keys may not contain '+' ({MANAGED_TAG} uses it)")
        if len("+".join(sorted(v))) > 256:
            problems.append(f"the tag keys joined by '+' must fit in 256 characters ({MANAGED_TAG})")
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _provider_host(self) -> Params:
        if self.source.image is not None or self.source.repository_url is None:
            return self
        if self.connection is None:
            raise ValueError("connection: is required for a code repository source")
        host = PROVIDER_HOSTS[self.connection.provider]
        if f"//{host}/" not in self.source.repository_url + "/":
            raise ValueError(
                f"source.repository_url: must be on {host} for connection.provider {self.connection.provider}"
            )
        return self

    @model_validator(mode="after")
    def _private(self) -> Params:
        if not self.public and self.ingress is None:
            raise ValueError("ingress: is required when public is false (vpc_id and vpc_endpoint_id)")
        if self.public and self.ingress is not None:
            raise ValueError("ingress: is only for a private service; set public: false or remove it")
        seen = [d.domain for d in self.custom_domains]
        twice = sorted({d for d in seen if seen.count(d) > 1})
        if twice:
            raise ValueError(f"custom_domains: listed more than once: {', '.join(twice)}")
        return self

    @property
    def owned_tags(self) -> dict[str, str]:
        """The tags every owned resource carries: the params', runbook:name, and (when the params have
        tags) runbook:tags listing their keys, so that a key later removed from the params is removed."""
        managed = {MANAGED_TAG: "+".join(sorted(self.tags))} if self.tags else {}
        return {**self.tags, OWNER_TAG: self.name, **managed}

    @property
    def access_role_name(self) -> str | None:
        """The private ECR access role the runbook owns, or None (code source or ECR Public)."""
        return self.source.image.access_role_name if self.source.image else None



def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(document)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = Params
    for item in loc:
        field = model.model_fields.get(item) if isinstance(item, str) else None
        if field is None:
            return None
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _problem(error: Mapping[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    # drop pydantic's union/literal branch tags from the path
    loc = tuple(
        i for i in loc if not (isinstance(i, str) and (i.startswith("literal[") or i in {"list[str]"}))
    )
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    relative = re.match(r"^([a-z_][\w.]*): (.*)$", message, re.DOTALL)
    if error["type"] == "value_error" and relative and isinstance(value, dict):
        # a cross-field rule names the field it is about, relative to the model it checks
        loc, message = (*loc, *relative.group(1).split(".")), relative.group(2)
        value = value.get(relative.group(1)) if "." not in relative.group(1) else None
    if error["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = list(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean `{guess[0]}`?" if guess else ""
        message = f"unknown key{hint} Allowed keys: {', '.join(known)}"
        value = None
    elif error["type"] == "missing":
        message = "is required"
        value = None
    if isinstance(value, (dict, list)):
        value = None
    return Problem(_loc(loc), message, value)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """One line per field: a union (e.g. `default` | list) reports each branch's failure."""
    seen: dict[str, Problem] = {}
    for p in problems:
        seen.setdefault(p.field, p)
    return list(seen.values())


def _set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    node = doc
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ParameterError("overrides", [Problem(dotted, f"{key} is not a mapping")])
    node[last] = value


def read_document(path: str | Path) -> dict[str, Any]:
    """Read a parameter file as a YAML mapping; file and syntax problems become ParameterError."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ParameterError(source, [Problem("(file)", "is a directory; give the path of a YAML file")])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(source, [Problem("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ParameterError(source, [Problem("(file)", f"cannot be read: {err}")]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ParameterError(source, [Problem("(yaml)", f"syntax error at {where}: {err.problem}")]) from None
    except yaml.YAMLError as err:
        raise ParameterError(source, [Problem("(yaml)", f"not valid YAML: {err}")]) from None
    if doc is None:
        raise ParameterError(
            source, [Problem("(document)", "the file is empty; expected a mapping of fields")]
        )
    if not isinstance(doc, dict):
        raise ParameterError(
            source, [Problem("(document)", f"expected a mapping of fields, got a {type(doc).__name__}")]
        )
    return doc


def parse_params(
    doc: Mapping[str, Any], *, source: str = "params", overrides: Mapping[str, Any] | None = None
):
    """Validate a parameter mapping (plus dotted overrides) into ``Params``; raise ParameterError."""
    data = dict(doc)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return Params.model_validate(data)
    except ValidationError as err:
        raise ParameterError(source, _dedupe([_problem(e) for e in err.errors()])) from None


def load_params(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Params:
    """Read, merge overrides into and validate a parameter file. Makes no AWS call."""
    return parse_params(read_document(path), source=str(path), overrides=overrides)


def redacted_params(params: Params) -> dict[str, Any]:
    """The resolved parameters as plain data (runtime secrets are ARNs, kept; nothing else is secret)."""
    return params.model_dump(mode="json")
