"""AWS adapters (optional `aws` dependency group): SageMaker roles, training jobs, inference endpoints
with autoscaling, and ECR. Built from settings by `llm_engineering.bootstrap`; boto3/sagemaker are
imported inside functions only. The SageMaker TGI LLM client is `infrastructure/llm/sagemaker.py`.
"""
