"""The local AWS sandbox: moto (IAM, EC2, STS, S3) plus an App Runner emulator on one endpoint.

This is a test double of AWS, not AWS. Start it with ``runbook sandbox start`` or ``start()`` (in the
background; returns its URL) or, in tests, ``runbook_lib.sandbox.server.start_in_thread()``; drive its
control API with ``runbook_lib.sandbox.control.SandboxControl``.
"""

from __future__ import annotations

from typing import Any

from runbook_lib.sandbox.defaults import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_REGION", "start"]


def start(**kwargs: Any) -> str:
    """Start the sandbox in the background (or reuse the one running); its URL. See ``cli.start``."""
    from runbook_lib.sandbox.cli import start as start_in_background

    return start_in_background(**kwargs)
