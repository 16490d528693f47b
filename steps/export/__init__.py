"""ZenML steps of the export pipeline: latest artifact versions -> JSON files."""

from steps.export.serialize_artifact import serialize_artifacts
from steps.export.to_json import to_json

__all__ = ["serialize_artifacts", "to_json"]
