"""The LLM microservice on SageMaker: a TGI (or LMI) endpoint, model- or inference-component-based, with
optional autoscaling, deployed, updated and deleted over plain boto3 (`tools/sagemaker.py` drives it).

- `spec.py`: `EndpointSpec`, what the endpoint should be (from settings), and the container's environment;
- `plan.py`: the deployment as ordered boto3 calls and waits (what `--dry-run` prints);
- `endpoint.py`: `SageMakerEndpointDeployer`, which checks what exists, then creates or updates;
- `cleanup.py`: deletion of everything deployments created.
"""

from llm_engineering.infrastructure.aws.deploy.endpoint import SageMakerEndpointDeployer
from llm_engineering.infrastructure.aws.deploy.plan import DeploymentPlan
from llm_engineering.infrastructure.aws.deploy.spec import (
    AutoscalingSpec,
    EndpointSpec,
    EndpointType,
)

__all__ = [
    "AutoscalingSpec",
    "DeploymentPlan",
    "EndpointSpec",
    "EndpointType",
    "SageMakerEndpointDeployer",
]
