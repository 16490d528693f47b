"""Experiment tracking: the no-op tracker, Comet online/offline selection, the offline archive, and the
trainer callback that forwards logs."""

from __future__ import annotations

import json
import socket
import sys
import types
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from llm_engineering.model.tracking import (
    CometTracker,
    ExperimentTracker,
    NoTracking,
    TrackingCallback,
    TrainerLogForwarder,
    create_tracker,
    training_metrics,
)


class RecordingTracker:
    def __init__(self):
        self.metrics: list[tuple[dict, int | None]] = []

    def log_parameters(self, parameters):
        pass

    def log_metrics(self, metrics, step=None):
        self.metrics.append((dict(metrics), step))

    def log_text(self, name, text):
        pass

    def log_asset(self, path, name=None):
        pass

    def end(self):
        return None


class FakeExperiment:
    """Records how comet_ml was called."""

    def __init__(self, kind, **kwargs):
        self.kind, self.kwargs, self.calls = kind, kwargs, []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))

    def get_key(self):
        return "abc123"


@pytest.fixture
def fake_comet(monkeypatch):
    module = types.ModuleType("comet_ml")
    module.created = []

    def factory(kind):
        def create(**kwargs):
            experiment = FakeExperiment(kind, **kwargs)
            module.created.append(experiment)
            return experiment

        return create

    module.Experiment = factory("online")
    module.OfflineExperiment = factory("offline")
    monkeypatch.setitem(sys.modules, "comet_ml", module)
    return module


def test_no_tracking_accepts_everything_and_is_a_tracker(tmp_path):
    tracker = NoTracking()
    tracker.log_parameters({"a": 1})
    tracker.log_metrics({"loss": 1.0}, step=3)
    tracker.log_text("card.md", "text")
    tracker.log_asset(tmp_path)
    assert tracker.end() is None
    assert isinstance(tracker, ExperimentTracker)
    assert isinstance(RecordingTracker(), ExperimentTracker)


def test_comet_goes_online_with_a_key_and_offline_without(fake_comet, tmp_path):
    online = CometTracker("twin", api_key="secret", workspace="me")
    offline = CometTracker("twin", offline_dir=tmp_path / "comet", experiment_name="sft-1")

    assert online.online and not offline.online
    first, second = fake_comet.created
    assert first.kind == "online" and first.kwargs["api_key"] == "secret" and first.kwargs["workspace"] == "me"
    assert second.kind == "offline" and second.kwargs["offline_directory"] == str(tmp_path / "comet")
    for experiment in (first, second):  # nothing logged behind the user's back
        assert experiment.kwargs["auto_metric_logging"] is False and experiment.kwargs["parse_args"] is False
    assert ("set_name", ("sft-1",), {}) in second.calls
    assert offline.archive_path == tmp_path / "comet" / "abc123.zip"
    assert offline.end() == str(tmp_path / "comet" / "abc123.zip")

    offline.log_metrics({"loss": 1.5}, step=2)
    offline.log_text("card.md", "# card")
    assert ("log_metrics", ({"loss": 1.5},), {"step": 2}) in second.calls
    assert ("log_asset_data", ("# card",), {"name": "card.md"}) in second.calls


def test_create_tracker_falls_back_to_no_tracking(monkeypatch, fake_comet, tmp_path):
    assert isinstance(create_tracker("twin", enabled=False), NoTracking)
    assert isinstance(create_tracker("twin", offline_dir=tmp_path), CometTracker)
    monkeypatch.setitem(sys.modules, "comet_ml", None)  # not installed: import raises ImportError
    assert isinstance(create_tracker("twin", offline_dir=tmp_path), NoTracking)


def test_training_metrics_keeps_finite_numbers_only():
    logs = {
        "loss": 2.5,
        "learning_rate": 1e-4,
        "grad_norm": 0.8,
        "epoch": 0.5,
        "train_tokens_per_second": 20.1,
        "rewards/margins": 0.2,
        "rewards/accuracies": 0.75,
        "total_flos": float("nan"),
        "note": "text",
        "is_last": True,
    }
    assert training_metrics(logs) == {
        "loss": 2.5,
        "learning_rate": 1e-4,
        "grad_norm": 0.8,
        "epoch": 0.5,
        "train_tokens_per_second": 20.1,
        "rewards/margins": 0.2,
        "rewards/accuracies": 0.75,
    }
    assert training_metrics(None) == {}


def test_log_forwarder_sends_trainer_logs_with_the_global_step():
    tracker = RecordingTracker()
    forwarder = TrainerLogForwarder(tracker)

    main = SimpleNamespace(is_world_process_zero=True, global_step=7)
    forwarder.on_log(None, main, None, logs={"loss": 2.04, "learning_rate": 2e-4, "rewards/chosen": -0.1})
    forwarder.on_log(None, main, None, logs={"train_runtime_note": "x"})  # nothing numeric: nothing logged
    forwarder.on_log(None, SimpleNamespace(is_world_process_zero=False, global_step=7), None, logs={"loss": 9.0})

    assert tracker.metrics == [({"loss": 2.04, "learning_rate": 2e-4, "rewards/chosen": -0.1}, 7)]


@pytest.mark.slow
def test_tracking_callback_is_a_trainer_callback_that_forwards_logs():
    """Importing transformers' trainer takes about 15 s on two cores, hence `slow`."""
    from transformers import TrainerCallback, TrainerControl, TrainerState

    tracker = RecordingTracker()
    callback = TrackingCallback(tracker)
    assert isinstance(callback, TrainerCallback)
    state = TrainerState()
    state.global_step = 3
    callback.on_train_begin(None, state, TrainerControl())  # every other event is inherited: a no-op
    callback.on_log(None, state, TrainerControl(), logs={"loss": 1.25, "grad_norm": 0.5})
    assert tracker.metrics == [({"loss": 1.25, "grad_norm": 0.5}, 3)]


@pytest.mark.integration
def test_comet_offline_writes_an_archive_without_network(tmp_path, monkeypatch):
    """The real comet_ml, no API key: a zip archive under the folder, and no connection opened."""
    pytest.importorskip("comet_ml")
    monkeypatch.delenv("COMET_API_KEY", raising=False)
    opened = []
    real_connect = socket.socket.connect

    def spy(self, address):
        opened.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    tracker = create_tracker("twin", offline_dir=tmp_path / "comet", experiment_name="sft-test")
    assert isinstance(tracker, CometTracker) and not tracker.online
    tracker.log_parameters({"learning_rate": 3e-4, "lora": {"r": 32}})
    for step in (1, 2):
        tracker.log_metrics({"loss": 3.0 - step}, step=step)
    tracker.log_text("model_card.md", "# twin v1")
    card = tmp_path / "model_card.json"
    card.write_text("{}")
    tracker.log_asset(card)

    archive = Path(tracker.end())

    assert archive == tmp_path / "comet" / f"{tracker.key}.zip" and archive.is_file()
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
        experiment = json.loads(bundle.read("experiment.json"))
        messages = [json.loads(line) for line in bundle.read("messages.json").decode().splitlines()]
    assert experiment["project_name"] == "twin"
    metrics = [m["payload"]["metric"] for m in messages if m["type"] == "metric_msg"]
    assert [(m["metricName"], m["metricValue"], m["step"]) for m in metrics] == [("loss", 2.0, 1), ("loss", 1.0, 2)]
    parameters = {m["payload"]["param"]["paramName"] for m in messages if m["type"] == "parameter_msg"}
    assert {"learning_rate", "lora|r"} <= parameters
    assert len(names) >= 4  # experiment.json, messages.json and the two assets
    assert opened == []


def test_vendor_error_reporting_is_off_unless_the_user_opts_in(monkeypatch):
    import os

    from llm_engineering.model.tracking import quiet_vendor_error_reporting

    monkeypatch.delenv("COMET_ERROR_TRACKING_ENABLE", raising=False)
    quiet_vendor_error_reporting()
    assert os.environ["COMET_ERROR_TRACKING_ENABLE"] == "false"
    monkeypatch.setenv("COMET_ERROR_TRACKING_ENABLE", "true")
    quiet_vendor_error_reporting()
    assert os.environ["COMET_ERROR_TRACKING_ENABLE"] == "true"
