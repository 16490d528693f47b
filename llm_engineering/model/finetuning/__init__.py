"""Fine-tuning: SFT then DPO with TRL + PEFT (LoRA), Unsloth when a CUDA GPU is present.

Belongs here: typed training configs loaded from `configs/training.yaml`, the trainer backends
(plain TRL/PEFT on CPU, Unsloth on GPU), dataset formatting with the one prompt template in
`domain/prompts.py`, and saving/merging adapters for the model registry. Experiment tracking
(Comet ML) is injected; SageMaker training jobs are launched from `infrastructure/aws/`.
"""
