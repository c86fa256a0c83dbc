"""The sandbox's account and region (what its STS answers and what an unsigned request is taken for)."""

from __future__ import annotations

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_REGION"]

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
