"""The continuous-training chain on fakes: stage order and parameters, the data source, the local LLM's
lifetime, the candidate, the gate deciding promotion, failures recorded and later stages skipped, the hooks
after promotion and the report."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from llm_engineering.application.operations.continuous_training import (
    ContinuousTrainingConfig,
    evaluation_parameters,
)
from llm_engineering.application.operations.continuous_training_chain import ContinuousTrainingChain
from tests.unit.application.serving.fakes import FakeCatalog, FakeEngine, MemoryStore, serving

CONFIG: dict[str, Any] = {
    "model_name": "llm_twin",
    "data": "handbook",
    "etl_configs": ["etl_a.yaml", "etl_b.yaml"],
    "deploy_target": "local",
    "gate": [{"metric": "heldout_loss", "tolerance": 0.05}, {"metric": "reference_similarity", "tolerance": 0.05}],
    "budgets": {
        "small": {
            "features": {},
            "instruct_datasets": {"max_llm_calls": 8},
            "preference_datasets": {"max_llm_calls": 8},
            "training": {"profile": "cpu_smoke", "run_dpo": False},
            "evaluation": {"max_samples": 4},
        },
        "full": {},
    },
}


@dataclass(frozen=True)
class FakeVersion:
    spec: str
    card_data: dict[str, Any]

    def card(self) -> dict[str, Any]:
        return self.card_data


class FakeRegistry:
    """The registry over the serving fakes' catalog: its versions 1..n and its production version."""

    def __init__(self, catalog: FakeCatalog):
        self.catalog = catalog

    def promoted(self, model_name: str) -> FakeVersion | None:
        production = self.catalog.production()
        return self.get(model_name, production.version or 0) if production else None

    def versions(self, model_name: str) -> list[int]:
        return list(range(1, self.catalog.versions + 1))

    def get(self, model_name: str, version: int) -> FakeVersion:
        return FakeVersion(f"{model_name}:v{version}", {"config": {"zenml_model": f"{model_name}:{version}"}})


class FakePipelines:
    """Records each stage's overrides and run name; training registers a version (unless `register` is
    off); evaluation may be rejected by the gate or crash."""

    def __init__(
        self,
        catalog: FakeCatalog,
        reject: bool = False,
        fail_stage: str | None = None,
        register: bool = True,
        events: list[str] | None = None,
    ):
        self.catalog = catalog
        self.reject = reject
        self.fail_stage = fail_stage
        self.register = register
        self.events = events if events is not None else []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.run_names: list[str] = []
        self.verdicts_asked: list[str] = []

    def run(self, stage: str, overrides: dict[str, Any], run_name: str) -> str:
        self.calls.append((stage, overrides))
        self.run_names.append(run_name)
        self.events.append(stage)
        if stage == self.fail_stage:
            raise RuntimeError(f"{stage} broke")
        if stage == "training" and self.register:
            self.catalog.versions += 1
        if stage == "evaluation" and self.reject:
            raise RuntimeError("Failed to run step evaluation_gate")
        return run_name

    def verdict(self, run_name: str) -> str | None:
        self.verdicts_asked.append(run_name)
        assert run_name == self.run_names[-1]  # the gate of this evaluation run, not of another one
        return "heldout_loss 3.40 > allowed 3.31" if self.reject else None


class FakeData:
    def __init__(self):
        self.calls: list[str] = []

    def import_handbook(self) -> str:
        self.calls.append("handbook")
        return "handbook corpus: 3 new documents, 0 already stored"

    def run_etl(self, config_name: str) -> str:
        self.calls.append(config_name)
        return f"etl-{config_name}"


@dataclass
class World:
    """Everything around one chain: the serving fakes, the registry over them, what the hooks saw."""

    catalog: FakeCatalog = field(default_factory=lambda: FakeCatalog(versions=0))
    store: MemoryStore = field(default_factory=MemoryStore)
    engine: FakeEngine = field(default_factory=FakeEngine)
    data: FakeData = field(default_factory=FakeData)
    tagged: list[Mapping[str, Any]] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)

    def chain(self, pipelines: FakePipelines, config: dict[str, Any] | None = None, **options: Any):
        options.setdefault("data", "skip")
        options.setdefault("local_llm", contextlib.nullcontext)
        return ContinuousTrainingChain(
            ContinuousTrainingConfig.model_validate(config or CONFIG),
            "small",
            pipelines=pipelines,
            gate_verdict=pipelines.verdict,
            data_sources=self.data,
            registry=FakeRegistry(self.catalog),
            serving=serving(self.store, self.catalog, self.engine),
            tag_production=self.tagged.append,
            remote_deploy=self._remote_deploy,
            progress=self.progress.append,
            **options,
        )

    def _remote_deploy(self) -> str:
        self.remote.append("deploy")
        return "endpoint llm-twin redeployed"


def test_first_run_gates_against_base_and_promotes_the_candidate():
    world = World()
    pipelines = FakePipelines(world.catalog)
    report = world.chain(pipelines).run()

    assert [stage for stage, _ in pipelines.calls] == [
        "features",
        "instruct_datasets",
        "preference_datasets",
        "training",
        "evaluation",
    ]
    training = dict(pipelines.calls)["training"]
    assert training["serve"] is False and training["profile"] == "cpu_smoke" and training["run_dpo"] is False
    assert training["model_name"] == "llm_twin"
    evaluation = dict(pipelines.calls)["evaluation"]
    assert evaluation["models"] == [
        {"name": "current", "source": "base"},
        {"name": "candidate", "source": "llm_twin:v1"},
    ]
    assert evaluation["gate"]["candidate"] == "candidate" and evaluation["gate"]["current"] == "current"
    assert {rule["metric"] for rule in evaluation["gate"]["rules"]} == {"heldout_loss", "reference_similarity"}
    assert evaluation["max_samples"] == 4

    assert report.outcome == "deployed"
    assert report.deployed == "llm_twin:v1"
    assert report.current == "base" and report.candidate == "llm_twin:v1"
    assert world.catalog.production_version == 1
    assert ("publish", "llm_twin:v1") in world.catalog.calls
    # The promoted twin is now the served model: recorded, so local-llm-up and the API follow it.
    assert world.store.choice is not None
    assert (world.store.choice.spec, world.store.choice.model_id) == ("llm_twin:v1", "llm_twin-v1")
    assert world.store.choice.by == "continuous training"
    # The hooks: the promoted version's card goes to the tracker's tag; a local target deploys nothing remote.
    assert world.tagged == [{"config": {"zenml_model": "llm_twin:1"}}]
    assert world.remote == []
    deploy = report.stages[-1]
    assert deploy.name == "deploy" and deploy.status == "succeeded"
    assert deploy.detail == "llm_twin:v1 -> production, served as llm_twin-v1; the API asks llm_twin-v1"


def test_second_run_compares_with_production_and_a_rejection_keeps_it():
    world = World()
    world.chain(FakePipelines(world.catalog)).run()
    rejecting = FakePipelines(world.catalog, reject=True)
    report = world.chain(rejecting).run()

    evaluation = dict(rejecting.calls)["evaluation"]
    assert evaluation["models"][0] == {"name": "current", "source": "llm_twin:v1"}
    assert evaluation["models"][1] == {"name": "candidate", "source": "llm_twin:v2"}
    assert report.outcome == "rejected"
    assert "heldout_loss 3.40" in (report.gate_message or "")
    statuses = {record.name: record.status for record in report.stages}
    assert statuses["evaluation"] == "rejected" and statuses["deploy"] == "skipped"
    assert [record.name for record in report.stages] == [
        "data",
        "features",
        "instruct_datasets",
        "preference_datasets",
        "training",
        "evaluation",
        "deploy",
    ]
    assert world.catalog.production_version == 1
    assert world.store.choice is not None and world.store.choice.spec == "llm_twin:v1"  # unchanged
    assert len(world.tagged) == 1  # only the first run's promotion


def test_the_verdict_is_read_from_the_evaluation_run_the_chain_named():
    world = World()
    rejecting = FakePipelines(world.catalog, reject=True)
    report = world.chain(rejecting, run_names=lambda stage: f"run-{stage}").run()

    assert rejecting.run_names == [
        "run-features",
        "run-instruct_datasets",
        "run-preference_datasets",
        "run-training",
        "run-evaluation",
    ]
    assert rejecting.verdicts_asked == ["run-evaluation"]
    evaluation = next(record for record in report.stages if record.name == "evaluation")
    assert evaluation.run == "run-evaluation" and evaluation.detail == "heldout_loss 3.40 > allowed 3.31"
    assert report.gate_message == "rejected: heldout_loss 3.40 > allowed 3.31"


def test_a_failed_stage_stops_the_chain_and_skips_the_rest():
    world = World()
    pipelines = FakePipelines(world.catalog, fail_stage="instruct_datasets")
    report = world.chain(pipelines).run()

    assert [stage for stage, _ in pipelines.calls] == ["features", "instruct_datasets"]
    statuses = [(record.name, record.status) for record in report.stages]
    assert statuses == [
        ("data", "succeeded"),
        ("features", "succeeded"),
        ("instruct_datasets", "failed"),
        ("preference_datasets", "skipped"),
        ("training", "skipped"),
        ("evaluation", "skipped"),
        ("deploy", "skipped"),
    ]
    assert report.outcome == "failed"
    assert "RuntimeError: instruct_datasets broke" in report.stages[2].detail
    assert report.stages[3].detail == "after instruct_datasets"


def test_an_evaluation_crash_is_a_failure_not_a_rejection():
    world = World()
    pipelines = FakePipelines(world.catalog, fail_stage="evaluation")
    report = world.chain(pipelines).run()
    assert report.outcome == "failed"
    assert pipelines.verdicts_asked == [pipelines.run_names[-1]]  # asked, and no verdict: a crash
    assert report.gate_message is None
    assert world.catalog.production_version is None
    assert world.store.writes == [] and world.tagged == []


def test_training_that_registers_no_version_fails_the_chain():
    world = World()
    pipelines = FakePipelines(world.catalog, register=False)
    report = world.chain(pipelines).run()

    assert [stage for stage, _ in pipelines.calls][-1] == "training"
    training = next(record for record in report.stages if record.name == "training")
    assert training.status == "failed" and "registered no new llm_twin version" in training.detail
    assert report.outcome == "failed" and report.candidate is None


def test_no_deploy_evaluates_but_promotes_nothing():
    world = World()
    report = world.chain(FakePipelines(world.catalog), deploy=False).run()
    assert report.outcome == "trained"
    assert report.stages[-1].status == "skipped"
    assert report.stages[-1].detail == "--no-deploy"
    assert world.catalog.production_version is None
    assert world.store.writes == [] and world.tagged == []


def test_a_sagemaker_target_redeploys_the_endpoint_after_promotion():
    world = World()
    report = world.chain(FakePipelines(world.catalog), config={**CONFIG, "deploy_target": "sagemaker"}).run()

    assert report.outcome == "deployed"
    assert world.remote == ["deploy"] and world.catalog.production_version == 1
    assert report.stages[-1].detail.endswith("; endpoint llm-twin redeployed")


def test_a_failed_remote_deploy_fails_the_deploy_stage():
    world = World()
    chain = world.chain(FakePipelines(world.catalog), config={**CONFIG, "deploy_target": "sagemaker"})

    def refuse() -> str:
        raise RuntimeError("no AWS credentials")

    chain.remote_deploy = refuse
    report = chain.run()

    assert report.outcome == "failed"
    deploy = report.stages[-1]
    assert deploy.name == "deploy" and deploy.status == "failed"
    assert deploy.detail == "RuntimeError: no AWS credentials"


@pytest.mark.parametrize(
    ("data", "calls", "run", "detail"),
    [
        ("skip", [], None, "warehouse used as it is"),
        ("handbook", ["handbook"], None, "handbook corpus: 3 new documents, 0 already stored"),
        ("crawl", ["etl_a.yaml", "etl_b.yaml"], "etl-etl_a.yaml, etl-etl_b.yaml", "2 ETL config(s)"),
    ],
)
def test_the_data_stage_follows_the_data_source(data, calls, run, detail):
    world = World()
    report = world.chain(FakePipelines(world.catalog), data=data).run()

    assert world.data.calls == calls
    assert (report.stages[0].name, report.stages[0].run, report.stages[0].detail) == ("data", run, detail)


def test_without_an_override_the_configs_data_source_is_used():
    world = World()
    world.chain(FakePipelines(world.catalog), data=None).run()
    assert world.data.calls == ["handbook"]


def test_the_local_llm_is_up_for_the_dataset_stages_only():
    world = World()
    events: list[str] = []

    @contextlib.contextmanager
    def local_llm() -> Iterator[None]:
        events.append("llm up")
        yield
        events.append("llm down")

    world.chain(FakePipelines(world.catalog, events=events), local_llm=local_llm).run()
    assert events == [
        "features",
        "llm up",
        "instruct_datasets",
        "preference_datasets",
        "llm down",
        "training",
        "evaluation",
    ]


def test_each_finished_stage_is_reported_with_its_time():
    world = World()
    ticks = itertools.count()
    world.chain(FakePipelines(world.catalog), clock=lambda: float(next(ticks))).run()

    assert world.progress[:2] == ["[ct] data: done in 1 s warehouse used as it is", "[ct] features: done in 1 s "]
    assert [line.split(":")[0] for line in world.progress] == [
        "[ct] data",
        "[ct] features",
        "[ct] instruct_datasets",
        "[ct] preference_datasets",
        "[ct] training",
        "[ct] evaluation",
        "[ct] deploy",
    ]
    assert world.progress[4] == "[ct] training: done in 1 s candidate llm_twin:v1"


def test_an_unknown_budget_fails_before_any_work():
    world = World()
    pipelines = FakePipelines(world.catalog)
    with pytest.raises(ValueError, match="Unknown budget 'huge'"):
        ContinuousTrainingChain(
            ContinuousTrainingConfig.model_validate(CONFIG),
            "huge",
            pipelines=pipelines,
            gate_verdict=pipelines.verdict,
            data_sources=world.data,
            local_llm=contextlib.nullcontext,
            registry=FakeRegistry(world.catalog),
            serving=serving(world.store, world.catalog),
            tag_production=world.tagged.append,
            remote_deploy=lambda: "",
        )
    assert pipelines.calls == [] and world.data.calls == []


def test_report_markdown_and_summary():
    world = World()
    report = world.chain(FakePipelines(world.catalog)).run()
    markdown = report.markdown()
    assert markdown.startswith("# Continuous training: deployed")
    assert "| training | succeeded |" in markdown
    summary = report.summary()
    assert summary["outcome"] == "deployed" and summary["candidate"] == "llm_twin:v1"
    assert all(isinstance(value, str | int | float) for value in summary.values())


def test_evaluation_parameters_keep_budget_overrides():
    config = ContinuousTrainingConfig.model_validate(CONFIG)
    parameters = evaluation_parameters({"max_samples": 2}, "m:v2", "m:v1", config.gate)
    assert parameters["max_samples"] == 2
    assert [model["source"] for model in parameters["models"]] == ["m:v1", "m:v2"]
