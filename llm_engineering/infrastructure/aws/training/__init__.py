"""SageMaker training jobs that run the fine-tuning entry point on a GPU instance, over plain boto3.

The book starts `model/finetuning/finetune.py` with the v2 SDK's HuggingFace estimator. SDK v3 removed
the estimators (its `ModelTrainer` mounts the code as a `code` input channel and runs its own driver
scripts), and the `sagemaker` package is an optional extra. These adapters need neither: they speak the
contract the Hugging Face training images (the SageMaker training toolkit inside them) keep honouring.
The source folder goes to S3 as a tar.gz named by the `sagemaker_submit_directory` hyperparameter and
the script by `sagemaker_program`. In the container the toolkit unpacks it into /opt/ml/code, runs
`pip install -r requirements.txt`, then the script with every other hyperparameter as `--name value`.
Hyperparameter values travel JSON-encoded, as the estimator sent them; the toolkit decodes them.

- `spec.py`: `TrainingJobSpec`, what one job should be, its validation, and the `create_training_job` request;
- `source.py`: the source archive the job downloads (the fine-tuning folder and the project modules it imports);
- `launcher.py`: `SageMakerTrainingLauncher`, which uploads the archive, creates the job and polls it to its end;

The spec, the job's environment and the launcher are built from settings by the composition root
(`llm_engineering.bootstrap.builders.aws`). boto3 clients are injected (`build_training_launcher` there builds them), so tests use botocore's
Stubber and never reach AWS. Library errors come out as `SageMakerJobError` or `ImproperlyConfigured`.
"""
