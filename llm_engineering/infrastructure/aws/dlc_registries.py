"""AWS Deep Learning Container registries per region: the account that hosts the Hugging Face training and
serving images in each region (the sagemaker SDK's image_uri_config/huggingface.json). One table, used by
the training job's image (`training/spec.py`) and the endpoint's (`deploy/spec.py`)."""

# fmt: off
_DLC_MAIN_REGIONS = (
    "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
)
# fmt: on
DLC_ACCOUNTS = {
    **dict.fromkeys(_DLC_MAIN_REGIONS, "763104351884"),
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
    "us-gov-west-1": "442386744353",
}
