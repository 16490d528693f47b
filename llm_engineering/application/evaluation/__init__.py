"""Evaluation use cases: retrieval metrics over labelled queries (RAG evaluation)."""
