#!/usr/bin/env bash
# Register the remote ZenML stack on AWS (docs/aws_stack.md): one AWS service connector, an S3 artifact store,
# the ECR container registry, the SageMaker orchestrator, a SageMaker step operator for the training steps,
# optionally an AWS CodeBuild image builder and a Slack or Discord alerter; then the stack that ties them,
# with the ZenML secret `settings` (the project's settings) attached.
#
#   poetry run poe register-aws-stack [--dry-run] [--activate]
#
# Every zenml command is printed before it runs; --dry-run only prints them. Components that already exist
# are kept (change them with `zenml <component> update`). Settings come from the environment:
#   AWS_S3_BUCKET             artifact store bucket (name or s3://name)                        required
#   AWS_SAGEMAKER_ROLE_ARN    SageMaker execution role (falls back to AWS_ARN_ROLE)            required
#   AWS_ECR_REGISTRY          <account>.dkr.ecr.<region>.amazonaws.com (or set AWS_ACCOUNT_ID)  required
#   AWS_ECR_REPOSITORY        repository of the pipelines image pushed by CD  [llm-twin-pipelines]
#   AWS_REGION                [eu-central-1]
#   ZENML_AWS_STACK           stack name, the one `poe set-aws-stack` selects  [aws-stack]
#   ZENML_AWS_CONNECTOR       service connector name  [aws-connector]
#   SAGEMAKER_ORCHESTRATOR_INSTANCE_TYPE   instance of the processing steps  [ml.t3.medium]
#   SAGEMAKER_TRAINING_INSTANCE_TYPE       instance of the training steps    [ml.g5.2xlarge]
#   SAGEMAKER_SYNCHRONOUS     true: a pipeline call waits until its run ends (CT needs it)  [true]
#   AWS_CODEBUILD_PROJECT     CodeBuild project that builds the images; unset: the local Docker engine does
#   ZENML_ALERTER_FLAVOR      slack or discord  [slack]
#   ZENML_ALERTER_TOKEN       bot token; without it no alerter is registered
#   ZENML_ALERTER_CHANNEL_ID  default channel id of the alerts
set -euo pipefail

dry_run=false
activate=false
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true ;;
    --activate) activate=true ;;
    -h | --help)
      sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "register_aws_stack: unknown argument '$arg' (use --dry-run, --activate or --help)" >&2
      exit 2
      ;;
  esac
done

ZENML=${ZENML:-zenml}
region=${AWS_REGION:-eu-central-1}
stack=${ZENML_AWS_STACK:-aws-stack}
connector=${ZENML_AWS_CONNECTOR:-aws-connector}
bucket=${AWS_S3_BUCKET:-}
bucket=${bucket#s3://}
role=${AWS_SAGEMAKER_ROLE_ARN:-${AWS_ARN_ROLE:-}}
registry=${AWS_ECR_REGISTRY:-}
if [ -z "$registry" ] && [ -n "${AWS_ACCOUNT_ID:-}" ]; then
  registry="${AWS_ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com"
fi
repository=${AWS_ECR_REPOSITORY:-llm-twin-pipelines}
orchestrator_instance=${SAGEMAKER_ORCHESTRATOR_INSTANCE_TYPE:-ml.t3.medium}
training_instance=${SAGEMAKER_TRAINING_INSTANCE_TYPE:-ml.g5.2xlarge}
# The book turned this off to avoid client timeouts; continuous training chains runs and reads each one's
# result, so it has to wait for them.
synchronous=${SAGEMAKER_SYNCHRONOUS:-true}
codebuild_project=${AWS_CODEBUILD_PROJECT:-}
alerter_flavor=${ZENML_ALERTER_FLAVOR:-slack}
alerter_token=${ZENML_ALERTER_TOKEN:-}
alerter_channel=${ZENML_ALERTER_CHANNEL_ID:-}

missing=()
[ -n "$bucket" ] || missing+=(AWS_S3_BUCKET)
[ -n "$role" ] || missing+=("AWS_SAGEMAKER_ROLE_ARN (or AWS_ARN_ROLE)")
[ -n "$registry" ] || missing+=("AWS_ECR_REGISTRY (or AWS_ACCOUNT_ID)")
if ((${#missing[@]})); then
  if ! $dry_run; then
    printf 'register_aws_stack: set %s (see docs/aws_stack.md)\n' "$(IFS=,; echo "${missing[*]}" | sed 's/,/, /g')" >&2
    exit 1
  fi
  echo "# dry run with placeholders for: ${missing[*]}"
  bucket=${bucket:-<AWS_S3_BUCKET>}
  role=${role:-<AWS_SAGEMAKER_ROLE_ARN>}
  registry=${registry:-<AWS_ECR_REGISTRY>}
fi
case "$registry" in
  */*)
    echo "register_aws_stack: AWS_ECR_REGISTRY is the registry host (<account>.dkr.ecr.<region>.amazonaws.com), without '/<repository>'" >&2
    exit 1
    ;;
esac
case "$alerter_flavor" in
  slack | discord) ;;
  *)
    echo "register_aws_stack: ZENML_ALERTER_FLAVOR must be slack or discord, not '$alerter_flavor'" >&2
    exit 1
    ;;
esac

# Print a command (with `display` in place of the real arguments when given, to hide secrets), then run it.
run() {
  local display=${DISPLAY_ARGS:-"$*"}
  echo "+ ${display}"
  if ! $dry_run; then "$@"; fi
}

# True when `zenml <kind> describe <name>` succeeds (already registered); never true in a dry run.
exists() {
  local kind=$1 name=$2
  $dry_run && return 1
  "$ZENML" "$kind" describe "$name" >/dev/null 2>&1
}

# register <kind> <name> <args...>: `zenml <kind> register <name> <args...>`, skipped when the name is taken.
register() {
  local kind=$1 name=$2
  shift 2
  if exists "$kind" "$name"; then
    echo "= $kind $name already registered: kept"
    return 0
  fi
  run "$ZENML" "$kind" register "$name" "$@"
}

register service-connector "$connector" --type aws --auto-configure
register artifact-store aws-artifact-store --flavor=s3 --path="s3://${bucket}" --connector "$connector"
register container-registry aws-container-registry --flavor=aws --uri="$registry" --connector "$connector"
register orchestrator aws-orchestrator --flavor=sagemaker --execution_role="$role" --region="$region" \
  --instance_type="$orchestrator_instance" --synchronous="$synchronous" --connector "$connector"
register step-operator aws-training --flavor=sagemaker --role="$role" --instance_type="$training_instance" \
  --connector "$connector"

stack_args=(-o aws-orchestrator -a aws-artifact-store -c aws-container-registry -s aws-training)
if [ -n "$codebuild_project" ]; then
  register image-builder aws-image-builder --flavor=aws --code_build_project="$codebuild_project" \
    --connector "$connector"
  stack_args+=(-i aws-image-builder)
fi
if [ -n "$alerter_token" ]; then
  secret="${stack}-alerter"
  if $dry_run || ! "$ZENML" secret get "$secret" >/dev/null 2>&1; then
    DISPLAY_ARGS="$ZENML secret create $secret --token=***" run "$ZENML" secret create "$secret" --token="$alerter_token"
  else
    echo "= secret $secret already exists: kept"
  fi
  channel_args=()
  [ -n "$alerter_channel" ] && channel_args=(--default_"${alerter_flavor}"_channel_id="$alerter_channel")
  register alerter "${stack}-alerter" --flavor="$alerter_flavor" \
    --"${alerter_flavor}"_token="{{${secret}.token}}" ${channel_args[@]+"${channel_args[@]}"}
  stack_args+=(-al "${stack}-alerter")
else
  echo "# no alerter: set ZENML_ALERTER_TOKEN (and ZENML_ALERTER_CHANNEL_ID) to register a $alerter_flavor alerter"
fi
$activate && stack_args+=(--set)
register stack "$stack" "${stack_args[@]}"

# Secrets attached to a stack become environment variables of its steps: the project's settings, stored by
# `poe export-settings-to-zenml`, reach the steps that run on SageMaker this way.
if $dry_run || "$ZENML" secret get settings >/dev/null 2>&1; then
  run "$ZENML" stack update "$stack" --secret settings
else
  echo "# no ZenML secret 'settings' yet: run 'poetry run poe export-settings-to-zenml', then 'zenml stack update $stack --secret settings'"
fi

echo "# pipelines image for configs' settings.docker.parent_image: ${registry}/${repository}:latest"
$activate || echo "# activate it with: poetry run poe set-aws-stack   (or zenml stack set $stack)"
