"""Experiment tracking for training runs, injectable: training code logs to an `ExperimentTracker` and never
imports a tracking library itself.

- `NoTracking`: does nothing (tests, or tracking switched off).
- `CometTracker`: Comet ML, imported lazily. With an API key it logs online; without one it is a
  `comet_ml.OfflineExperiment` that writes a zip archive under a local folder and opens no connection
  (upload it later with `comet upload <archive>.zip`).
- `TrackingCallback(tracker)`: a `transformers.TrainerCallback` forwarding the trainer's logs (loss,
  learning rate, grad norm, tokens/s, DPO rewards...) with the global step.

`create_tracker` picks one of them from plain values; the composition root passes the settings in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from loguru import logger

if TYPE_CHECKING:
    from transformers import TrainerCallback

# Comet's automatic logging is off: the training code logs what it means to log, and nothing reads the
# code, git state or host details behind the user's back.
_COMET_OPTIONS = {
    "log_code": False,
    "log_graph": False,
    "auto_param_logging": False,
    "auto_metric_logging": False,
    "auto_output_logging": False,
    "log_env_details": False,
    "log_git_metadata": False,
    "log_git_patch": False,
    "log_env_gpu": False,
    "log_env_host": False,
    "log_env_cpu": False,
    "log_env_network": False,
    "log_env_disk": False,
    "parse_args": False,
    "auto_log_co2": False,
    "display_summary_level": 0,
}


@runtime_checkable
class ExperimentTracker(Protocol):
    """Where a training run's parameters, metrics, texts and files go."""

    def log_parameters(self, parameters: Mapping[str, Any]) -> None:
        """Record the run's configuration (nested mappings allowed)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record numeric metrics at training step `step`."""

    def log_text(self, name: str, text: str) -> None:
        """Attach a text (a model card, a sample generation) under `name`."""

    def log_asset(self, path: Path, name: str | None = None) -> None:
        """Attach a file, or every file of a folder."""

    def end(self) -> str | None:
        """Finish the run; returns where it can be found (URL or archive path), if anywhere."""


class NoTracking:
    """An `ExperimentTracker` that records nothing."""

    def log_parameters(self, parameters: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def log_text(self, name: str, text: str) -> None:
        pass

    def log_asset(self, path: Path, name: str | None = None) -> None:
        pass

    def end(self) -> str | None:
        return None


class CometTracker:
    """A Comet ML experiment: online when `api_key` is given, else offline into `offline_dir` (no network).

    Raises ImportError when `comet_ml` is not installed (use `create_tracker` for the fallback).
    """

    def __init__(
        self,
        project: str,
        api_key: str | None = None,
        workspace: str | None = None,
        offline_dir: Path | None = None,
        experiment_name: str | None = None,
        tags: tuple[str, ...] = (),
    ):
        quiet_vendor_error_reporting()
        import comet_ml

        self.online = bool(api_key)
        if self.online:
            self.offline_dir = None
            self._experiment = comet_ml.Experiment(
                api_key=api_key, project_name=project, workspace=workspace, **_COMET_OPTIONS
            )
        else:
            self.offline_dir = Path(offline_dir or Path.cwd() / "comet")
            self.offline_dir.mkdir(parents=True, exist_ok=True)
            self._experiment = comet_ml.OfflineExperiment(
                project_name=project, workspace=workspace, offline_directory=str(self.offline_dir), **_COMET_OPTIONS
            )
        if experiment_name:
            self._experiment.set_name(experiment_name)
        if tags:
            self._experiment.add_tags(list(tags))

    @property
    def key(self) -> str:
        """The experiment's key (also the offline archive's file name)."""
        return self._experiment.get_key()

    @property
    def archive_path(self) -> Path | None:
        """Offline only: the zip archive `end()` writes."""
        return None if self.offline_dir is None else self.offline_dir / f"{self.key}.zip"

    def log_parameters(self, parameters: Mapping[str, Any]) -> None:
        self._experiment.log_parameters(dict(parameters))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._experiment.log_metrics(dict(metrics), step=step)

    def log_text(self, name: str, text: str) -> None:
        self._experiment.log_asset_data(text, name=name)

    def log_asset(self, path: Path, name: str | None = None) -> None:
        if Path(path).is_dir():
            self._experiment.log_asset_folder(str(path), log_file_name=True)
        else:
            self._experiment.log_asset(str(path), file_name=name)

    def end(self) -> str | None:
        self._experiment.end()
        if self.archive_path is not None:
            return str(self.archive_path)
        return getattr(self._experiment, "url", None)


def quiet_vendor_error_reporting() -> None:
    """comet_ml sends its own errors to Sentry when it is imported (half the time, at random), and it is
    imported not only here but by transformers' trainer integrations whenever it is installed. A local-first
    run must not phone home: call this before training code imports trl/transformers trainers.

    Entry points switch every vendor's telemetry off (`llm_engineering.telemetry`); this guard covers training
    code started without one (the SageMaker job's finetune.py, whose archive holds only the inner layers).
    A user opts in with COMET_ERROR_TRACKING_ENABLE=true or LLM_TWIN_ALLOW_VENDOR_TELEMETRY=true."""
    if os.environ.get("LLM_TWIN_ALLOW_VENDOR_TELEMETRY", "").strip().lower() not in {"1", "true", "yes", "on"}:
        os.environ.setdefault("COMET_ERROR_TRACKING_ENABLE", "false")


def create_tracker(
    project: str,
    api_key: str | None = None,
    workspace: str | None = None,
    offline_dir: Path | None = None,
    experiment_name: str | None = None,
    enabled: bool = True,
) -> ExperimentTracker:
    """The tracker for a training run: Comet online with an API key, Comet offline into `offline_dir`
    without one, and `NoTracking` (with one log line, never an error) when disabled or comet_ml is missing."""
    if not enabled:
        return NoTracking()
    try:
        tracker = CometTracker(project, api_key, workspace, offline_dir, experiment_name)
    except ImportError:
        logger.info("comet_ml is not installed: experiment tracking is off")
        return NoTracking()
    if tracker.online:
        logger.info("Tracking this run in Comet ML project {!r}", project)
    else:
        logger.info("No COMET_API_KEY: tracking offline into {} (upload later with `comet upload`)", offline_dir)
    return tracker


def training_metrics(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The numeric, finite entries of a trainer log record (loss, learning_rate, grad_norm, epoch,
    train_tokens_per_second, num_tokens, rewards/*, logps/*, eval_*); strings, flags and NaN are dropped."""
    selected: dict[str, float] = {}
    for key, value in (logs or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            selected[key] = value
    return selected


class TrainerLogForwarder:
    """The callback's behaviour without transformers: `on_log` forwards the numeric entries of a trainer log
    record to `tracker` with the global step, on the main process only."""

    def __init__(self, tracker: ExperimentTracker):
        self.tracker = tracker

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        metrics = training_metrics(logs)
        if metrics:
            self.tracker.log_metrics(metrics, step=state.global_step)


def TrackingCallback(tracker: ExperimentTracker) -> TrainerCallback:
    """A `transformers.TrainerCallback` forwarding every trainer log to `tracker` (see `TrainerLogForwarder`).
    A factory named like the class it returns, so that transformers is imported only when training."""
    from transformers import TrainerCallback

    class _TrackingCallback(TrainerLogForwarder, TrainerCallback):
        pass

    return _TrackingCallback(tracker)
