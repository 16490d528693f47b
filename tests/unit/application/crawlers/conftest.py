"""Crawler unit-test fixtures: an in-memory warehouse (no database)."""

from tests.fixtures.memory_warehouse import memory_warehouse  # noqa: F401  (fixtures are found by name)
