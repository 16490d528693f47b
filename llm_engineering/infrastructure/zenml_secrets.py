"""Keep the settings in a ZenML secret so remote stacks (e.g. SageMaker) get the same configuration."""

from __future__ import annotations

from llm_engineering.settings import Settings, get_settings, load_settings

SECRET_NAME = "settings"


def export_settings_to_zenml(settings: Settings | None = None) -> str:
    """Create or replace the ZenML secret `settings` with every non-empty setting as a string."""
    from zenml.client import Client

    settings = settings or get_settings()
    values = {
        name: (value.get_secret_value() if hasattr(value, "get_secret_value") else str(value))
        for name, value in settings.model_dump().items()
        if value is not None
    }
    client = Client()
    try:
        client.get_secret(SECRET_NAME)
        client.update_secret(SECRET_NAME, add_or_update_values=values)
        action = "updated"
    except KeyError:
        client.create_secret(SECRET_NAME, values=values)
        action = "created"
    return f"ZenML secret {SECRET_NAME!r} {action} with {len(values)} settings."


def load_settings_from_zenml() -> Settings:
    """Settings from the ZenML secret `settings`, falling back to the environment / .env."""
    try:
        from zenml.client import Client

        secret = Client().get_secret(SECRET_NAME)
    except Exception:  # noqa: BLE001 - no ZenML server, no secret: the local environment is the source of truth
        return get_settings()
    return load_settings(**{key: value.get_secret_value() for key, value in secret.secret_values.items()})
