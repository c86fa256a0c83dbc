"""AWS managed policies App Runner roles attach, present in the sandbox's IAM (moto).

moto ships AWS's managed policies (``moto/iam/aws_managed_policies.py``) but loads them only when asked
(``MOTO_IAM_LOAD_MANAGED_POLICIES``, all ~1,600 of them, slow at every reset). The sandbox adds just the
ones the runbook attaches: ``service-role/AWSAppRunnerServicePolicyForECRAccess``, the policy of the
ECR access role (App Runner developer guide, "IAM roles for App Runner"; Terraform's
``aws_apprunner_service`` examples attach the same ARN).
"""

from __future__ import annotations

import json

from runbook_lib.sandbox.defaults import DEFAULT_ACCOUNT_ID

__all__ = ["APP_RUNNER_POLICIES", "seed_managed_policies"]

APP_RUNNER_POLICIES = ("AWSAppRunnerServicePolicyForECRAccess",)


def seed_managed_policies(account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Add the App Runner managed policies to moto's IAM of ``account_id`` (idempotent, cheap)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account_id]["global"]
    data = None
    for name in APP_RUNNER_POLICIES:
        if any(arn.endswith(f"/{name}") for arn in backend.managed_policies):
            continue
        data = data or json.loads(aws_managed_policies_data)
        policy = AWSManagedPolicy.from_data(name, account_id, "us-east-1", data[name])
        backend.managed_policies[policy.arn] = policy
