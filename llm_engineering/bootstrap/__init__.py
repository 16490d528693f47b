"""The composition root: every collaborator the project uses is built here, from settings, in one place.

Entry points (tools, ZenML steps, the API, benches) ask the current `Container` for what they need:

    container = bootstrap.container()          # built from get_settings() on first use
    documents = container.documents()          # the warehouse's documents, passed to the use cases
    retriever = container.retriever()
    context = container.crawler_context()

Tests inject their own adapters (`bootstrap.configure(settings, warehouse=fake)` or
`bootstrap.override(vector_store=...)`). Re-configuring with other settings or adapters replaces the
container; it never silently keeps the old ones. Stores reach use cases only as arguments (no binding). Nothing connects,
loads a model or starts a browser until a collaborator is first used.
"""

# One import surface: `from llm_engineering import bootstrap`, then `bootstrap.container()`, `bootstrap.build_*`.
from llm_engineering.bootstrap.builders.aws import (
    autoscaling_spec,
    aws_session,
    build_endpoint_deployer,
    build_sagemaker_iam,
    build_training_launcher,
    endpoint_spec,
    training_environment,
    training_job_spec,
)
from llm_engineering.bootstrap.builders.crawling import (
    build_crawler_context,
    build_crawler_dispatcher,
    build_egress_policy,
    crawl_limits,
)
from llm_engineering.bootstrap.builders.llm import (
    build_dataset_teacher,
    build_evaluation_judge,
    build_llm_client,
    build_probe_memory,
    generation_parameters,
    teacher_configured,
)
from llm_engineering.bootstrap.builders.local import (
    build_local_infrastructure,
    build_local_llm_server,
    local_engine_options,
    local_services,
    uses_local_llm,
)
from llm_engineering.bootstrap.builders.models import (
    LOCAL_BASE_MODEL_ID,
    TWIN_MODEL_NAME,
    build_dataset_publisher,
    build_experiment_tracker,
    build_gguf_exporter,
    build_model_publisher,
    build_model_registry,
    build_model_serving,
    model_to_serve_locally,
    served_model,
    served_model_file,
    training_base_model_dir,
)
from llm_engineering.bootstrap.builders.operations import (
    build_alerter,
    build_tracer,
    configure_tracing,
    export_settings_to_zenml,
    load_settings_from_zenml,
    log_model_evaluation_to_opik,
    mark_orphaned_runs,
    owned_run,
    run_owner_records,
    use_project_zenml_store,
)
from llm_engineering.bootstrap.builders.stores import (
    _shared_embedder,
    build_embedder,
    build_reranker,
    build_vector_store,
    build_warehouse,
    embedding_threads_for,
    use_embedding_threads,
)
from llm_engineering.bootstrap.composition import INJECTABLE, Container, configure, container, override, reset

__all__ = [
    "INJECTABLE",
    "LOCAL_BASE_MODEL_ID",
    "TWIN_MODEL_NAME",
    "Container",
    "_shared_embedder",
    "autoscaling_spec",
    "aws_session",
    "build_alerter",
    "build_crawler_context",
    "build_crawler_dispatcher",
    "build_dataset_publisher",
    "build_dataset_teacher",
    "build_egress_policy",
    "build_embedder",
    "build_endpoint_deployer",
    "build_evaluation_judge",
    "build_experiment_tracker",
    "build_gguf_exporter",
    "build_llm_client",
    "build_local_infrastructure",
    "build_local_llm_server",
    "build_model_publisher",
    "build_model_registry",
    "build_model_serving",
    "build_probe_memory",
    "build_reranker",
    "build_sagemaker_iam",
    "build_tracer",
    "build_training_launcher",
    "build_vector_store",
    "build_warehouse",
    "configure",
    "configure_tracing",
    "container",
    "crawl_limits",
    "embedding_threads_for",
    "endpoint_spec",
    "export_settings_to_zenml",
    "generation_parameters",
    "load_settings_from_zenml",
    "local_engine_options",
    "local_services",
    "log_model_evaluation_to_opik",
    "mark_orphaned_runs",
    "model_to_serve_locally",
    "override",
    "owned_run",
    "reset",
    "run_owner_records",
    "served_model",
    "served_model_file",
    "teacher_configured",
    "training_base_model_dir",
    "training_environment",
    "training_job_spec",
    "use_embedding_threads",
    "use_project_zenml_store",
    "uses_local_llm",
]
