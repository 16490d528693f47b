"""What continuous training's gate verdict changes, on fakes: a passed candidate becomes production and the
served model (the default `local-llm-up` and the API follow); a rejected one changes nothing."""

from __future__ import annotations

import pytest

from llm_engineering.application.errors import ServedModelError
from llm_engineering.application.operations.continuous_training import (
    ContinuousTrainingReport,
    StageRecord,
    promote_candidate,
)
from llm_engineering.domain.serving import ServedModelChoice
from tests.unit.application.serving.fakes import FakeCatalog, FakeEngine, MemoryStore, serving


def _report(evaluation: str, candidate: str | None = "llm_twin:v2") -> ContinuousTrainingReport:
    report = ContinuousTrainingReport(budget="small", model_name="llm_twin", candidate=candidate, current="base")
    report.stages = [StageRecord("training", "succeeded"), StageRecord("evaluation", evaluation)]
    report.gate_message = "passed (llm_twin:v2 vs base)" if evaluation == "succeeded" else "rejected: worse"
    return report


def test_a_passed_gate_makes_the_candidate_production_and_the_served_model():
    store, catalog, engine = MemoryStore(), FakeCatalog(versions=2, production=1), FakeEngine(running=True)
    use_cases = serving(store, catalog, engine)

    promotion = promote_candidate(use_cases, _report("succeeded"), deploy_target="local")

    assert promotion is not None and promotion.model.spec == "llm_twin:v2"
    assert catalog.production_version == 2 and engine.loaded == ["llm_twin-v2"]
    assert store.choice is not None and store.choice.spec == "llm_twin:v2"
    assert store.choice.by == "continuous training" and "passed" in store.choice.reason
    current = use_cases.current()
    assert (current.model_id, current.source) == ("llm_twin-v2", "recorded")


def test_a_passed_gate_replaces_an_earlier_choice():
    earlier = ServedModelChoice(spec="base", model_id="gemma-3-270m-twin", chosen_at="2026-01-01T00:00:00+00:00")
    store = MemoryStore(earlier)
    promote_candidate(serving(store, FakeCatalog(versions=2)), _report("succeeded"), deploy_target="local")
    assert store.choice.spec == "llm_twin:v2"


@pytest.mark.parametrize(
    ("evaluation", "candidate"), [("rejected", "llm_twin:v2"), ("failed", "llm_twin:v2"), ("succeeded", None)]
)
def test_a_rejected_or_missing_candidate_changes_nothing(evaluation, candidate):
    earlier = ServedModelChoice(spec="llm_twin:v1", model_id="llm_twin-v1", chosen_at="2026-01-01T00:00:00+00:00")
    store, catalog, engine = MemoryStore(earlier), FakeCatalog(versions=2, production=1), FakeEngine(running=True)

    assert promote_candidate(serving(store, catalog, engine), _report(evaluation, candidate), "local") is None

    assert catalog.calls == [] and engine.loaded == [] and store.writes == []
    assert catalog.production_version == 1 and store.choice == earlier


def test_for_sagemaker_the_local_choice_is_left_alone():
    earlier = ServedModelChoice(spec="llm_twin:v1", model_id="llm_twin-v1", chosen_at="2026-01-01T00:00:00+00:00")
    store, catalog = MemoryStore(earlier), FakeCatalog(versions=2, production=1)
    promotion = promote_candidate(serving(store, catalog), _report("succeeded"), deploy_target="sagemaker")
    assert promotion is not None and not promotion.switched
    assert catalog.production_version == 2 and store.writes == []


def test_a_candidate_the_local_engine_cannot_serve_is_not_promoted():
    catalog = FakeCatalog(versions=2, production=1, unservable={2})
    with pytest.raises(ServedModelError, match=r"llama\.cpp"):
        promote_candidate(serving(MemoryStore(), catalog), _report("succeeded"), deploy_target="local")
    assert catalog.production_version == 1
