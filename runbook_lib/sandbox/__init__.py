"""The local AWS sandbox: moto (IAM, EC2, STS, S3) plus an App Runner emulator on one endpoint.

This is a test double of AWS, not AWS. Start it with ``runbook sandbox start`` (background) or, in tests,
``runbook_lib.sandbox.server.start_in_thread()``; drive its control API with
``runbook_lib.sandbox.control.SandboxControl``.
"""

from __future__ import annotations

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_REGION"]
