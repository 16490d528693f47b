"""The composition root: what it builds from settings, what it injects, and how it replaces a container."""

from __future__ import annotations

import pytest

from llm_engineering import bootstrap
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import BagOfWordsEmbedder, ScriptedLLM


class FakeStore:
    def __init__(self, name: str):
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def _clean_root():
    bootstrap.reset()
    yield
    bootstrap.reset()


@pytest.fixture
def settings(tmp_path):
    return load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path / "local")


def test_configure_is_idempotent_for_the_same_settings(settings):
    first = bootstrap.configure(settings)
    assert bootstrap.configure(settings) is first
    assert bootstrap.container() is first


def test_new_settings_give_new_stores_and_close_what_the_old_container_built(settings, tmp_path):
    first = bootstrap.configure(settings)
    old_warehouse = first.warehouse()
    other = load_settings(env_file=tmp_path / "none.env", DATABASE_NAME="other", LOCAL_DATA_DIR=tmp_path / "b")
    second = bootstrap.configure(other)
    assert second is not first
    assert second.documents().warehouse is second.warehouse() is not old_warehouse
    assert second.warehouse().database_name == "other"  # type: ignore[attr-defined]
    assert str(second.vector_index().store.path).startswith(str(tmp_path / "b"))  # type: ignore[attr-defined]


def test_injected_adapters_are_used_and_never_closed(settings):
    warehouse, store = FakeStore("w"), FakeStore("v")
    container = bootstrap.configure(settings, warehouse=warehouse, vector_store=store)
    assert container.documents().warehouse is warehouse and container.vector_index().store is store
    assert container.injected == {"warehouse": warehouse, "vector_store": store}
    bootstrap.reset()
    assert not warehouse.closed and not store.closed


def test_override_keeps_earlier_injections(settings):
    warehouse, store = FakeStore("w"), FakeStore("v")
    bootstrap.configure(settings, warehouse=warehouse)
    container = bootstrap.override(vector_store=store)
    assert container.injected == {"warehouse": warehouse, "vector_store": store}
    assert container.settings == settings  # explicit settings stay pinned


def test_a_container_of_the_process_settings_follows_them_when_they_change(monkeypatch, tmp_path):
    from llm_engineering.settings import get_settings

    monkeypatch.setenv("ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("DATABASE_NAME", "first")
    get_settings.cache_clear()
    store = FakeStore("v")
    try:
        first = bootstrap.override(vector_store=store)
        assert first.settings.DATABASE_NAME == "first"
        monkeypatch.setenv("DATABASE_NAME", "second")
        get_settings.cache_clear()
        second = bootstrap.container()
        assert second is not first and second.settings.DATABASE_NAME == "second"
        assert second.injected == {"vector_store": store}
    finally:
        get_settings.cache_clear()


def test_unknown_adapters_are_refused(settings):
    with pytest.raises(TypeError, match="unknown adapters"):
        bootstrap.Container(settings, warehose=FakeStore("typo"))


def test_one_set_of_generation_parameters_from_settings(tmp_path):
    settings = load_settings(
        env_file=tmp_path / "none.env",
        MAX_NEW_TOKENS_INFERENCE=77,
        TEMPERATURE_INFERENCE=0.3,
        TOP_P_INFERENCE=0.8,
        REPETITION_PENALTY_INFERENCE=1.2,
    )
    container = bootstrap.Container(settings, llm=ScriptedLLM("x"), embedder=BagOfWordsEmbedder())
    expected = bootstrap.generation_parameters(settings)
    assert (expected.max_new_tokens, expected.temperature, expected.top_p, expected.repetition_penalty) == (
        77,
        0.3,
        0.8,
        1.2,
    )
    assert container.answer_generator().defaults == expected
    assert bootstrap.build_llm_client(settings).defaults == expected  # type: ignore[attr-defined]


def test_retriever_without_llm_makes_no_llm_calls(settings):
    llm = ScriptedLLM()
    container = bootstrap.Container(settings, llm=llm, embedder=BagOfWordsEmbedder())
    retriever = container.retriever(use_llm=False)
    assert retriever.self_query.llm is None and retriever.query_expansion.llm is None
    assert container.retriever(use_llm=True).self_query.llm is llm
    assert container.retriever(use_llm=False) is retriever


def test_crawler_dispatcher_tries_a_config_route_before_the_defaults(settings):
    dispatcher = bootstrap.Container(settings).crawler_dispatcher({"blog.example.org": "medium"})
    assert dispatcher.crawler_class_for("https://blog.example.org/post").name == "medium"
    assert dispatcher.crawler_class_for("https://github.com/a/b").name == "github"
    assert dispatcher.crawler_class_for("https://elsewhere.example/x").name == "custom_article"


def test_building_the_container_opens_nothing(settings):
    container = bootstrap.Container(settings)
    container.warehouse(), container.vector_store(), container.llm()
    assert container.vector_store()._client is None  # type: ignore[attr-defined]


def test_the_container_builds_the_operations_adapters_from_its_settings(settings):
    container = bootstrap.Container(settings)
    assert container.model_registry().root == settings.LOCAL_DATA_DIR / "registry"
    assert container.evaluation_judge() is None  # EVALUATION_JUDGE_BASE_URL unset
    spec = container.endpoint_spec(autoscaling=False)
    assert (spec.region, spec.endpoint_name) == (settings.AWS_REGION, settings.SAGEMAKER_ENDPOINT_INFERENCE)


def test_tracing_is_configured_from_the_container_settings(tmp_path):
    from llm_engineering.infrastructure import opik_tracing

    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path, OPIK_PROJECT_NAME="twin-unit")
    try:
        tracer = bootstrap.Container(settings).tracer(tags=["rag"])
        assert tracer.tags == ["rag"]
        assert opik_tracing.project_name() == "twin-unit"
    finally:
        opik_tracing.reset_tracing_state()


def test_settings_go_to_the_zenml_secret_as_strings(settings, monkeypatch):
    from llm_engineering.infrastructure import zenml_secrets

    stored = {}
    monkeypatch.setattr(zenml_secrets, "put_secret", lambda values, name: stored.update(values) or "created")
    message = bootstrap.export_settings_to_zenml(settings)
    assert message == f"ZenML secret 'settings' created with {len(stored)} settings."
    assert stored["LOCAL_DATA_DIR"] == str(settings.LOCAL_DATA_DIR)
    assert all(isinstance(value, str) for value in stored.values())
