"""The local model registry: versions, specs, atomic registration, model cards and publishing for serving."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llm_engineering.model import registry as registry_module
from llm_engineering.model.errors import ModelRegistryError
from llm_engineering.model.registry import (
    PUBLISHED_MARKER,
    ModelRegistry,
    RegisteredModel,
    has_chat_template,
    publish_for_serving,
)


@dataclass
class FakeStage:
    """The shape of `model.finetuning`'s StageResult, as the registry reads it."""

    stage: str
    base_model: str
    adapter_dir: Path | None
    merged_dir: Path
    metrics: dict = field(default_factory=dict)
    log_history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)


def model_folder(path: Path, template: str = "jinja") -> Path:
    """A stand-in merged model: config, weights, tokenizer files; the chat template as a .jinja file, inside
    tokenizer_config.json, or absent."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (path / "model.safetensors").write_bytes(b"\0" * 64)
    tokenizer_config = {"model_max_length": 4096}
    if template == "jinja":
        (path / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")
    elif template == "config":
        tokenizer_config["chat_template"] = "{{ messages[0]['content'] }}"
    (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return path


def adapter_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"r": 32}))
    (path / "adapter_model.safetensors").write_bytes(b"\1" * 16)
    return path


def two_stages(tmp_path: Path) -> list[FakeStage]:
    work = tmp_path / "work"
    sft = FakeStage(
        stage="sft",
        base_model="gemma-3-270m-twin",
        adapter_dir=adapter_folder(work / "sft-adapter"),
        merged_dir=model_folder(work / "sft-merged"),
        metrics={"train_loss_first": 2.66, "train_loss_last": 2.04, "eval_loss": 2.1, "steps": 8, "tokens": 4096},
        log_history=[{"loss": 2.66, "step": 1}, {"loss": 2.04, "step": 8}],
        config={"learning_rate": 3e-4, "lora_r": 32},
    )
    dpo = FakeStage(
        stage="dpo",
        base_model=str(work / "sft-merged"),
        adapter_dir=adapter_folder(work / "dpo-adapter"),
        merged_dir=model_folder(work / "dpo-merged", template="config"),
        metrics={"train_loss_first": 0.69, "train_loss_last": 0.52, "rewards/margins": 0.31, "steps": 4},
        log_history=[{"loss": 0.69, "rewards/margins": 0.0, "step": 1}],
        config={"beta": 0.5},
    )
    return [sft, dpo]


def register(registry: ModelRegistry, tmp_path: Path, name: str = "twin", **options) -> RegisteredModel:
    return registry.register(
        name,
        two_stages(tmp_path / f"run-{len(list(tmp_path.glob('run-*'))) + 1}"),
        datasets={"instruct_datasets": {"artifact_version": "17", "uri": "zenml://instruct/17", "train": 2250}},
        config={"seed": 42},
        metrics={"heldout_loss": {"base": 2.7, "sft": 2.1, "dpo": 2.05}},
        hardware={"device": "cpu", "cores": 2},
        **options,
    )


def test_register_stores_every_stage_and_numbers_versions(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    assert registry.models() == [] and registry.versions("twin") == []

    first = register(registry, tmp_path)
    second = register(registry, tmp_path)

    assert (first.version, second.version) == (1, 2)
    assert first.path == tmp_path / "registry" / "twin" / "v1"
    assert first.merged_dir == first.path / "dpo" / "merged"
    for stage in ("sft", "dpo"):
        assert (first.path / stage / "merged" / "config.json").is_file()
        assert (first.path / stage / "adapter" / "adapter_config.json").is_file()
        assert json.loads((first.path / stage / "log_history.json").read_text())
    assert (tmp_path / "run-1" / "work" / "sft-merged").is_dir()  # copied, not moved
    assert registry.models() == ["twin"]
    assert registry.versions("twin") == [1, 2]
    assert registry.latest("twin") == second
    assert registry.get("twin", 1) == first
    assert [p.name for p in (tmp_path / "registry" / "twin").iterdir() if p.name.startswith(".")] == []


def test_move_option_moves_the_folders(tmp_path):
    registered = register(ModelRegistry(tmp_path / "registry"), tmp_path, move=True)
    assert not (tmp_path / "run-1" / "work" / "sft-merged").exists()
    assert (registered.path / "sft" / "merged" / "model.safetensors").is_file()


def test_card_describes_the_version_for_people_and_code(tmp_path):
    registered = register(ModelRegistry(tmp_path / "registry"), tmp_path)
    card = registered.card()
    assert card["name"] == "twin" and card["version"] == 1 and card["spec"] == "twin:v1"
    assert card["base_model"] == "gemma-3-270m-twin"
    assert [stage["stage"] for stage in card["stages"]] == ["sft", "dpo"]
    assert card["stages"][0]["metrics"]["train_loss_last"] == 2.04
    assert card["stages"][1]["merged_dir"] == "dpo/merged" and card["merged_dir"] == "dpo/merged"
    assert card["datasets"]["instruct_datasets"]["artifact_version"] == "17"
    assert card["metrics"]["heldout_loss"]["dpo"] == 2.05
    assert card["hardware"] == {"device": "cpu", "cores": 2}
    assert card["serving"]["env"] == {"LLM_MODEL_ID": "twin-v1"}
    assert card["created_at"].endswith("+00:00")

    text = registered.card_path.read_text()
    assert registered.card_path.name == "model_card.md"
    for expected in (
        "# twin v1",
        "`gemma-3-270m-twin`",
        "| sft |",
        "2.66",
        "rewards/margins 0.31",
        "instruct_datasets",
        "artifact_version: 17",
        "heldout_loss",
        "dpo: 2.05",
        "device: cpu",
        "tools.local_llm up --model twin:v1",
        "LLM_MODEL_ID=twin-v1",
        '"seed": 42',
    ):
        assert expected in text, expected


def test_a_failing_copy_leaves_no_half_version(tmp_path, monkeypatch):
    registry = ModelRegistry(tmp_path / "registry")
    real_copytree = shutil.copytree
    calls = []

    def copy_then_fail(source, target, **kwargs):
        calls.append(source)
        if len(calls) == 3:  # the second stage's merged model
            raise OSError("disk full")
        return real_copytree(source, target, **kwargs)

    monkeypatch.setattr(registry_module.shutil, "copytree", copy_then_fail)
    with pytest.raises(ModelRegistryError, match="disk full"):
        register(registry, tmp_path)
    assert registry.versions("twin") == []
    assert list((tmp_path / "registry" / "twin").iterdir()) == []

    monkeypatch.setattr(registry_module.shutil, "copytree", real_copytree)
    assert register(registry, tmp_path).version == 1


def test_a_failing_move_puts_the_folders_back(tmp_path, monkeypatch):
    registry = ModelRegistry(tmp_path / "registry")
    stages = two_stages(tmp_path)
    real_move = shutil.move
    calls = []

    def move_then_fail(source, target):
        calls.append(source)
        if len(calls) == 3:
            raise OSError("device busy")
        return real_move(source, target)

    monkeypatch.setattr(registry_module.shutil, "move", move_then_fail)
    with pytest.raises(ModelRegistryError):
        registry.register("twin", stages, move=True)
    assert (stages[0].merged_dir / "config.json").is_file() and (
        stages[0].adapter_dir / "adapter_config.json"
    ).is_file()
    assert registry.versions("twin") == []


def test_register_refuses_bad_input_before_copying(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    stages = two_stages(tmp_path)
    with pytest.raises(ModelRegistryError, match="plain name"):
        registry.register("org/twin", stages)
    with pytest.raises(ModelRegistryError, match="no training stages"):
        registry.register("twin", [])
    with pytest.raises(ModelRegistryError, match="unique"):
        registry.register("twin", [stages[0], stages[0]])
    no_template = FakeStage("sft", "base", None, model_folder(tmp_path / "bare", template="none"))
    with pytest.raises(ModelRegistryError, match="no chat template"):
        registry.register("twin", [no_template])
    missing_adapter = FakeStage("sft", "base", tmp_path / "nowhere", stages[0].merged_dir)
    with pytest.raises(ModelRegistryError, match="adapter folder"):
        registry.register("twin", [missing_adapter])
    assert registry.versions("twin") == []


def test_a_stray_version_folder_is_never_overwritten(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    stray = tmp_path / "registry" / "twin" / "v1"
    stray.mkdir(parents=True)
    (stray / "notes.txt").write_text("mine")
    assert registry.versions("twin") == []  # no card: not a version
    assert register(registry, tmp_path).version == 2
    assert (stray / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("spec", ["twin", "twin:latest", "twin:v2", "twin:2", " twin:v2 "])
def test_specs_resolve_to_the_merged_folder(tmp_path, spec):
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, tmp_path)
    latest = register(registry, tmp_path)
    assert registry.resolve(spec) == latest.merged_dir
    assert registry.lookup(spec) == latest


def test_paths_resolve_to_model_folders_and_registered_versions(tmp_path, monkeypatch):
    registry = ModelRegistry(tmp_path / "registry")
    registered = register(registry, tmp_path)
    outside = model_folder(tmp_path / "elsewhere" / "my-model")
    assert registry.resolve(str(outside)) == outside
    assert registry.lookup(str(outside)) == outside
    assert registry.lookup(str(registered.path)) == registered  # a version folder
    assert registry.lookup(str(registered.merged_dir)) == registered
    earlier_stage = registered.path / "sft" / "merged"
    assert registry.lookup(str(earlier_stage)) == earlier_stage  # served as a plain folder
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert registry.resolve("my-model") == Path("my-model")  # a bare folder name in the working directory


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "Empty model spec"),
        ("tw@in", "Bad model spec"),
        ("twin:v0", "Bad version"),
        ("twin:vx", "Bad version"),
        ("twin:v9", "has no version v9; it has v1"),
        ("ghost", "No model 'ghost'.*registered models: twin"),
        ("ghost:v1", "No model 'ghost'"),
        ("./missing-folder", "No model folder"),
    ],
)
def test_bad_specs_raise_clear_errors(tmp_path, spec, message):
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, tmp_path)
    with pytest.raises(ModelRegistryError, match=message):
        registry.resolve(spec)


def test_a_folder_without_config_is_not_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelRegistryError, match=r"no config\.json"):
        ModelRegistry(tmp_path / "registry").resolve(str(tmp_path / "empty"))
    with pytest.raises(ModelRegistryError, match="the registry is empty"):
        ModelRegistry(tmp_path / "registry").latest("twin")


def test_publish_links_the_merged_model_once(tmp_path):
    registered = register(ModelRegistry(tmp_path / "registry"), tmp_path)
    models_dir = tmp_path / "models"

    served = publish_for_serving(registered, models_dir)

    link = models_dir / "twin-v1"
    assert served == "twin-v1"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()  # relative: survives moving the data dir
    assert link.resolve() == registered.merged_dir.resolve()
    assert (link / "config.json").is_file() and has_chat_template(link)
    assert publish_for_serving(registered, models_dir) == "twin-v1"  # again: a no-op
    assert publish_for_serving(registered, models_dir, served_name="my-twin") == "my-twin"


def test_publish_copies_when_asked_or_when_links_fail(tmp_path, monkeypatch):
    registry = ModelRegistry(tmp_path / "registry")
    registered = register(registry, tmp_path)
    models_dir = tmp_path / "models"

    assert publish_for_serving(registered, models_dir, copy=True) == "twin-v1"
    copied = models_dir / "twin-v1"
    assert copied.is_dir() and not copied.is_symlink()
    assert (copied / "model.safetensors").is_file() and (copied / PUBLISHED_MARKER).is_file()
    assert publish_for_serving(registered, models_dir) == "twin-v1"  # the same model's copy is recognised

    def no_links(self, target, target_is_directory=False):
        raise OSError("links not supported")

    monkeypatch.setattr(Path, "symlink_to", no_links)
    second = register(registry, tmp_path)
    assert publish_for_serving(second, models_dir) == "twin-v2"
    assert not (models_dir / "twin-v2").is_symlink() and (models_dir / "twin-v2" / "config.json").is_file()
    assert [p.name for p in models_dir.iterdir() if p.name.startswith(".")] == []


def test_publish_refuses_a_taken_name_a_bad_name_and_a_missing_template(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    registered = register(registry, tmp_path)
    models_dir = tmp_path / "models"
    model_folder(models_dir / "gemma-3-270m-twin")  # the base model
    with pytest.raises(ModelRegistryError, match="already exists and is not this model"):
        publish_for_serving(registered, models_dir, served_name="gemma-3-270m-twin")
    with pytest.raises(ModelRegistryError, match="plain name"):
        publish_for_serving(registered, models_dir, served_name="org/twin")
    publish_for_serving(register(registry, tmp_path), models_dir, served_name="taken")
    with pytest.raises(ModelRegistryError, match="already links to another model"):
        publish_for_serving(registered, models_dir, served_name="taken")

    (registered.merged_dir / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 8}))
    with pytest.raises(ModelRegistryError, match="no chat template"):
        publish_for_serving(registered, models_dir, served_name="other")
    assert not (models_dir / "other").exists()


def test_publish_replaces_a_dangling_link(tmp_path):
    registered = register(ModelRegistry(tmp_path / "registry"), tmp_path)
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "twin-v1").symlink_to(tmp_path / "deleted", target_is_directory=True)
    assert publish_for_serving(registered, models_dir) == "twin-v1"
    assert (models_dir / "twin-v1").resolve() == registered.merged_dir.resolve()


def test_publish_a_plain_folder_under_its_own_name(tmp_path):
    folder = model_folder(tmp_path / "elsewhere" / "my-model", template="config")
    assert publish_for_serving(folder, tmp_path / "models") == "my-model"
    assert (tmp_path / "models" / "my-model").resolve() == folder.resolve()


def test_promotion_moves_the_production_alias_and_remembers_the_previous_version(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    first = register(registry, tmp_path)
    second = register(registry, tmp_path)
    assert registry.promoted("twin") is None

    assert registry.promote("twin", 1, reason="gate passed") == first
    assert registry.promoted("twin") == first
    assert registry.lookup("twin:production") == first
    assert registry.resolve("twin:production") == first.merged_dir

    registry.promote("twin", 2)
    entry = registry.aliases("twin")["production"]
    assert (entry["version"], entry["previous"]) == (2, 1)
    assert registry.promoted("twin") == second
    assert not list((tmp_path / "registry" / "twin").glob("*.tmp"))


def test_promotion_errors_are_specific(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, tmp_path)
    with pytest.raises(ModelRegistryError, match="no production version yet"):
        registry.lookup("twin:production")
    with pytest.raises(ModelRegistryError, match="has no version v7"):
        registry.promote("twin", 7)
    with pytest.raises(ModelRegistryError, match="Alias"):
        registry.promote("twin", 1, alias="../prod")
