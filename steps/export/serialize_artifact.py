"""Step: load the latest version of named artifacts and turn each into JSON-able data."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from pydantic_core import to_jsonable_python
from zenml import log_metadata, step
from zenml.client import Client


# Never cached: the latest version of an artifact changes while the names asked for do not.
@step(enable_cache=False)
def serialize_artifacts(
    artifact_names: list[str],
) -> tuple[Annotated[dict[str, Any], "serialized_artifacts"], Annotated[list[str], "missing_artifacts"]]:
    """Name -> JSON-able data of the latest version of each artifact, and the names with no version.

    A missing name is recorded and the others still export. Pydantic models become their JSON dump; a list
    (of models or of plain values) becomes `{"artifact_data": [...]}` as in the book's export. Metadata on
    `serialized_artifacts`: `num_serialized`, `missing_artifacts` and the exported `versions` (name ->
    version and id).
    """
    client = Client()
    serialized: dict[str, Any] = {}
    versions: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    for name in dict.fromkeys(artifact_names):
        try:
            artifact = client.get_artifact_version(name)
        except KeyError:
            logger.warning("No artifact named {!r}; skipped.", name)
            missing.append(name)
            continue
        serialized[name] = serialize(artifact.load())
        versions[name] = {"version": str(artifact.version), "id": str(artifact.id)}
        logger.info("Serialized {} version {}.", name, artifact.version)
    log_metadata(
        metadata={"num_serialized": len(serialized), "missing_artifacts": missing, "versions": versions},
        artifact_name="serialized_artifacts",
        infer_artifact=True,
    )
    return serialized, missing


def serialize(data: Any) -> Any:
    """JSON-able `data`: models dumped in JSON mode, UUIDs and datetimes as strings, lists wrapped."""
    jsonable = to_jsonable_python(data, fallback=str)
    if isinstance(data, list | tuple | set):
        return {"artifact_data": jsonable}
    return jsonable
