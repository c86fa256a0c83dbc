"""Scrubbing of credentials and secret-named parameters from notebooks, manifests and tables.

Two rules, applied together by a ``Redactor``:

- **by value**: the AWS credentials of the environment (access key id, secret key, session token) and
  the values of secret-named parameters are replaced wherever they occur, including their JSON- and
  repr-escaped spellings; anything shaped like an AWS access key id (``AKIA…``/``ASIA…``) too.
- **by name**: a mapping key or parameter whose name marks it secret (``*token*``, ``*secret*``,
  ``*password*``, …) has its value replaced, unless the value is a Secrets Manager / SSM ARN (a
  reference to a secret, which is what the params are meant to hold).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACCESS_KEY_ID", "CREDENTIAL_ENV", "INJECTED_TAG", "MIN_VALUE_LENGTH", "REDACTED", "Redactor",
    "SECRET_NAME", "SECRET_REFERENCE", "credential_values", "is_secret_name", "secret_parameter_values",
]  # fmt: skip


REDACTED = "[REDACTED]"
SECRET_NAME = re.compile(r"(token|secret|password|passwd|credential|private[_-]?key|api[_-]?key)", re.I)
CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}(?![A-Z0-9])")
SECRET_REFERENCE = re.compile(r"^arn:aws[\w-]*:(secretsmanager|ssm):")
# values shorter than this are not scrubbed as free text (they would mangle ordinary words)
MIN_VALUE_LENGTH = 6
INJECTED_TAG = "injected-parameters"


def is_secret_name(name: str) -> bool:
    """True if a parameter or key name marks its value as secret."""
    return bool(SECRET_NAME.search(str(name)))


def credential_values(environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> list[str]:
    """The AWS credential values found in the environment (and any given explicitly)."""
    env = os.environ if environ is None else environ
    return [v for v in (*(env.get(k, "") for k in CREDENTIAL_ENV), *extra) if v]


def secret_parameter_values(parameters: Mapping[str, Any]) -> list[str]:
    """The values of parameters whose names mark them secret."""
    return [str(v) for k, v in parameters.items() if is_secret_name(k) and v not in (None, "")]


def _spellings(value: str) -> set[str]:
    """A value as it may appear in text: raw, JSON-escaped (also with ``\\/``), repr-escaped."""
    escaped = json.dumps(value)[1:-1]
    return {value, escaped, escaped.replace("/", "\\/"), repr(value)[1:-1]}


@dataclass
class Redactor:
    """Replaces known secret values and secret-named fields; ``scrub`` works on any plain data."""

    values: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    @classmethod
    def from_environment(
        cls, parameters: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Redactor:
        """Credentials from the environment plus the secret-named entries of ``parameters``."""
        params = dict(parameters or {})
        redactor = cls()
        redactor.add_values(credential_values(environ))
        redactor.add_values(secret_parameter_values(params))
        redactor.names.update(k for k in params if is_secret_name(k))
        return redactor

    def add_values(self, values: Iterable[str]) -> None:
        for value in values:
            if value and len(value) >= MIN_VALUE_LENGTH:
                self.values.update(_spellings(value))

    def text(self, text: str) -> str:
        """Scrub free text: known values (longest first) and access-key-shaped strings."""
        for value in sorted(self.values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return ACCESS_KEY_ID.sub(REDACTED, text)

    def scrub(self, data: Any, *, key: str | None = None) -> Any:
        """Scrub nested dicts/lists/strings; a secret-named key's scalar value is replaced outright."""
        if isinstance(data, Mapping):
            return {k: self.scrub(v, key=str(k)) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.scrub(v, key=key) for v in data]
        if key is not None and is_secret_name(key) and data not in (None, "", {}, []):
            if isinstance(data, str) and SECRET_REFERENCE.match(data):
                return data
            if isinstance(data, (str, int, float)):
                return REDACTED
        if isinstance(data, str):
            return self.text(data)
        return data

    def notebook(self, nb: Any) -> Any:
        """Scrub a notebook (nbformat NotebookNode or dict) in place and return it.

        The injected-parameters cell has secret-named assignments rewritten, ``metadata.papermill
        .parameters`` is scrubbed by name, and every source, output and metadata string by value.
        """
        import nbformat

        meta = nb.get("metadata", {})
        if "papermill" in meta and "parameters" in meta["papermill"]:
            meta["papermill"]["parameters"] = self.scrub(dict(meta["papermill"]["parameters"]))
        for cell in nb.get("cells", []):
            source = "".join(cell.get("source", ""))
            if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
                source = self._assignments(source)
            cell["source"] = self.text(source)
            if "outputs" in cell:
                cell["outputs"] = [self.scrub(dict(out)) for out in cell["outputs"]]
            cell["metadata"] = self.scrub(dict(cell.get("metadata", {})))
        nb["metadata"] = self.scrub(dict(meta))
        return nbformat.from_dict(nb)

    def _assignments(self, source: str) -> str:
        """``name = value`` lines of secret-named parameters become ``name = "[REDACTED]"``."""
        lines = []
        for line in source.splitlines(keepends=True):
            match = re.match(r"^(\s*)([A-Za-z_]\w*)(\s*=\s*)(.+?)(\s*)$", line, re.S)
            if match and is_secret_name(match.group(2)):
                end = "\n" if line.endswith("\n") else ""
                line = f'{match.group(1)}{match.group(2)}{match.group(3)}"{REDACTED}"{end}'
            lines.append(line)
        return "".join(lines)
