"""Crawler unit-test fixtures: an in-memory warehouse (no database) and its documents."""

from tests.fixtures.memory_warehouse import memory_documents, memory_warehouse  # noqa: F401  (fixtures are found by name)
