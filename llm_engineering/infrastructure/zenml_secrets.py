"""ZenML secrets holding the settings, so remote stacks (e.g. SageMaker) get the same configuration. The
composition root turns settings into the values and back (`bootstrap.builders.operations`)."""

from __future__ import annotations

from collections.abc import Mapping

SECRET_NAME = "settings"


def put_secret(values: Mapping[str, str], name: str = SECRET_NAME) -> str:
    """Create or replace the ZenML secret `name` with `values`; returns `created` or `updated`."""
    from zenml.client import Client

    client = Client()
    try:
        client.get_secret(name)
        client.update_secret(name, add_or_update_values=dict(values))
        return "updated"
    except KeyError:
        client.create_secret(name, values=dict(values))
        return "created"


def read_secret(name: str = SECRET_NAME) -> dict[str, str] | None:
    """The values of the ZenML secret `name`, or None when there is no ZenML server or no such secret."""
    try:
        from zenml.client import Client

        secret = Client().get_secret(name)
    except Exception:  # noqa: BLE001 - no ZenML server, no secret: the local environment is the source of truth
        return None
    return {key: value.get_secret_value() for key, value in secret.secret_values.items()}
