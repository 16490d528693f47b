from dataclasses import dataclass, field

from llm_engineering.domain.serving import ServedShape
from llm_engineering.model.serving_profile import (
    ServingProfile,
    ServingProfiles,
    shape_for,
    trained_context_chars,
)


@dataclass
class _Version:
    card_data: dict

    def card(self) -> dict:
        return self.card_data


@dataclass
class _Registry:
    """The registry's reading side over cards in memory; `reads` counts card reads."""

    cards: dict[tuple[str, int], dict] = field(default_factory=dict)
    reads: int = 0

    def models(self) -> list[str]:
        return sorted({name for name, _ in self.cards})

    def versions(self, name: str) -> list[int]:
        return sorted(version for model, version in self.cards if model == name)

    def get(self, name: str, version: int) -> _Version:
        self.reads += 1
        return _Version(self.cards[(name, version)])


def test_a_card_gives_the_context_the_twin_was_trained_for():
    card = {"serving": {"max_context_chars": 1980, "min_new_tokens": 30}}
    assert ServingProfile.from_card(card) == ServingProfile(max_context_chars=1980, min_new_tokens=30)
    assert ServingProfile.from_card({"serving": {"min_new_tokens": True}}).min_new_tokens is None
    assert ServingProfile.from_card({"serving": {"served_model_id": "t-v1"}}).max_context_chars is None
    assert ServingProfile.from_card({"serving": {"max_context_chars": "lots"}}).max_context_chars is None
    assert ServingProfile.from_card({}).max_context_chars is None
    assert trained_context_chars(3, 600) == 1980


def test_profiles_are_found_by_served_id_and_reread_when_a_version_is_added():
    registry = _Registry({("llm_twin", 1): {"serving": {"served_model_id": "llm_twin-v1"}}})
    profiles = ServingProfiles(registry)
    assert profiles("llm_twin-v1") == ServingProfile()
    assert profiles("gemma-3-270m-twin") == ServingProfile()
    reads = registry.reads
    profiles("llm_twin-v1")
    assert registry.reads == reads, "cards are read again only when the registry changes"
    registry.cards[("llm_twin", 2)] = {"serving": {"served_model_id": "llm_twin-v2", "max_context_chars": 2000}}
    assert profiles("llm_twin-v2").max_context_chars == 2000


def test_the_settings_win_over_the_card_and_the_defaults_fill_in():
    profiles = {"llm_twin-v2": ServingProfile(max_context_chars=2000, min_new_tokens=30)}

    def lookup(model_id: str) -> ServingProfile:
        return profiles.get(model_id, ServingProfile())

    assert shape_for(lookup, None, 6000)("llm_twin-v2") == ServedShape(2000, 30)
    assert shape_for(lookup, None, 6000)("base") == ServedShape(6000, 0)
    assert shape_for(lookup, 3000, 6000, 12)("llm_twin-v2") == ServedShape(3000, 12)
    assert shape_for(lookup, None, 6000, 0)("llm_twin-v2").min_new_tokens == 30
