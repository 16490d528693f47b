"""The served-model use cases on fakes: which model is served and why, switching it, promoting a version,
the same checks everywhere, and nothing changed when a step fails."""

from __future__ import annotations

import pytest

from llm_engineering.application.errors import ServedModelError, ServingEngineError
from llm_engineering.domain.serving import ServedModelChoice
from tests.unit.application.serving.fakes import BASE_ID, FakeCatalog, FakeEngine, MemoryStore, serving

CHOICE = ServedModelChoice(spec="llm_twin:v2", model_id="llm_twin-v2", chosen_at="2026-01-01T00:00:00+00:00", by="cli")


# --- Which model is served -----------------------------------------------------------------------------------
def test_nothing_chosen_nothing_promoted_serves_the_base_model():
    current = serving().current()
    assert (current.model_id, current.source, current.spec) == (BASE_ID, "base", "base")
    assert "the packaged base model" in current.describe()


def test_the_production_version_is_served_when_nothing_is_chosen():
    current = serving(catalog=FakeCatalog(production=1)).current()
    assert (current.model_id, current.source, current.spec) == ("llm_twin-v1", "production", "llm_twin:v1")


def test_a_recorded_choice_wins_over_production():
    current = serving(store=MemoryStore(CHOICE), catalog=FakeCatalog(production=1)).current()
    assert (current.model_id, current.source, current.choice) == ("llm_twin-v2", "recorded", CHOICE)
    assert current.describe() == "llm_twin-v2 (llm_twin:v2, chosen by cli at 2026-01-01T00:00:00+00:00)"


def test_an_explicit_llm_model_id_is_honoured_and_the_local_choice_kept_apart():
    use_cases = serving(store=MemoryStore(CHOICE), configured="gpt-4o-mini")
    assert (use_cases.current().model_id, use_cases.current().source) == ("gpt-4o-mini", "LLM_MODEL_ID")
    assert use_cases.chosen().model_id == "llm_twin-v2"


def test_prepared_publishes_the_served_version_again_and_names_it_when_it_is_gone():
    catalog = FakeCatalog(versions=3)
    assert serving(store=MemoryStore(CHOICE), catalog=catalog).prepared().model_id == "llm_twin-v2"
    assert ("publish", "llm_twin:v2") in catalog.calls
    assert serving().prepared().model_id == BASE_ID  # the base model needs no publishing

    gone = ServedModelChoice(spec="llm_twin:v9", model_id="llm_twin-v9", chosen_at="2026-01-01T00:00:00+00:00")
    with pytest.raises(ServedModelError, match=r"llm_twin-v9 \(llm_twin:v9.*cannot be served.*serve-model"):
        serving(store=MemoryStore(gone), catalog=catalog).prepared()


# --- Switching -----------------------------------------------------------------------------------------------
def test_serve_checks_publishes_loads_then_records():
    store, catalog, engine = MemoryStore(), FakeCatalog(production=1), FakeEngine(running=True)
    switch = serving(store, catalog, engine).serve("llm_twin:latest", by="web UI", reason="try the newest")

    assert catalog.calls == [("find", "llm_twin:latest", True), ("publish", "llm_twin:v3")]
    assert engine.loaded == ["llm_twin-v3"]
    assert store.choice == ServedModelChoice(
        spec="llm_twin:v3",
        model_id="llm_twin-v3",
        chosen_at="2026-01-02T03:04:05+00:00",
        by="web UI",
        reason="try the newest",
        requested="llm_twin:latest",
    )
    assert switch.served.model_id == "llm_twin-v3" and not switch.overridden
    assert switch.lines() == [
        "Served model: llm_twin:v3, as llm_twin-v3.",
        "local LLM: model 'llm_twin-v3' ready",
        "The API asks llm_twin-v3 from its next request on (no restart).",
    ]


def test_serve_without_a_running_server_records_for_the_next_start():
    switch = serving(engine=FakeEngine(running=False)).serve("base", by="cli")
    assert switch.engine is None and "local-llm-up` serves it" in switch.lines()[1]
    assert switch.served.source == "recorded" and switch.served.model_id == BASE_ID


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("llm_twin:v7", "has no version v7"),
        ("ghost:v1", "No model 'ghost'"),
        ("llm_twin:v2", "cannot be served by the llama.cpp engine"),
        ("llm_twin:v3", "no chat template"),
    ],
)
def test_serve_refuses_what_cannot_be_served_and_changes_nothing(spec, message):
    store, engine = MemoryStore(CHOICE), FakeEngine(running=True)
    use_cases = serving(store, FakeCatalog(unservable={2}, broken={3}), engine)
    with pytest.raises(ServedModelError, match=message):
        use_cases.serve(spec, by="cli")
    assert store.writes == [] and engine.loaded == [] and use_cases.current().choice == CHOICE


def test_a_server_that_cannot_load_the_model_leaves_the_choice_as_it_was():
    store = MemoryStore(CHOICE)
    with pytest.raises(ServingEngineError, match="out of memory"):
        serving(store, engine=FakeEngine(running=True, refuse="llm_twin-v3")).serve("llm_twin:v3", by="cli")
    assert store.writes == []


def test_serve_under_an_explicit_llm_model_id_says_the_api_does_not_follow():
    switch = serving(configured="llm_twin-v1").serve("llm_twin:v3", by="cli")
    assert switch.overridden
    assert "LLM_MODEL_ID=llm_twin-v1 is set, so the API keeps asking llm_twin-v1" in switch.lines()[-1]


# --- Promoting -----------------------------------------------------------------------------------------------
def test_promote_without_a_choice_switches_the_served_model_to_production():
    store, catalog, engine = MemoryStore(), FakeCatalog(production=1), FakeEngine(running=True)
    use_cases = serving(store, catalog, engine)
    promotion = use_cases.promote("llm_twin:v2", by="cli")

    assert ("find", "llm_twin:v2", True) in catalog.calls  # it will be served: the engine's checks too
    assert engine.loaded == ["llm_twin-v2"] and store.writes == []  # production is served, nothing recorded
    assert promotion.switched and promotion.previous.spec == "llm_twin:v1"
    assert use_cases.current().source == "production" and use_cases.current().model_id == "llm_twin-v2"
    assert promotion.lines()[0] == "Production: llm_twin:v2 (before: llm_twin:v1)."


def test_promote_with_a_choice_keeps_serving_the_choice():
    store, catalog, engine = MemoryStore(CHOICE), FakeCatalog(production=1, unservable={3}), FakeEngine(running=True)
    promotion = serving(store, catalog, engine).promote("llm_twin:v3", by="web UI")

    assert ("find", "llm_twin:v3", False) in catalog.calls  # not served here: the engine's check is not asked
    assert ("publish", "llm_twin:v3") in catalog.calls
    assert catalog.production_version == 3 and engine.loaded == [] and not promotion.switched
    assert promotion.served.model_id == "llm_twin-v2"
    assert "serve-model --model llm_twin:v3" in promotion.lines()[1]


def test_promote_and_serve_records_the_choice():
    store = MemoryStore(CHOICE)
    promotion = serving(store).promote("llm_twin:v3", by="continuous training", reason="gate passed", serve=True)
    assert promotion.switched and store.choice.spec == "llm_twin:v3" and store.choice.reason == "gate passed"
    assert store.choice.by == "continuous training"


def test_the_base_model_cannot_be_promoted():
    catalog = FakeCatalog()
    with pytest.raises(ServedModelError, match="base model cannot be promoted"):
        serving(catalog=catalog).promote("base", by="cli")
    assert not any(call[0] == "promote" for call in catalog.calls)


def test_nothing_is_promoted_when_the_running_server_cannot_load_it():
    catalog = FakeCatalog(production=1)
    with pytest.raises(ServingEngineError):
        serving(catalog=catalog, engine=FakeEngine(running=True, refuse="llm_twin-v2")).promote("llm_twin:v2", by="cli")
    assert catalog.production_version == 1
