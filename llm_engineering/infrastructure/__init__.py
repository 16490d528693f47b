"""Adapters of real systems: MongoDB, Qdrant, sentence-transformers models, OpenAI-compatible and
SageMaker LLMs, headless Chromium, httpx, Opik, ZenML secrets, AWS, and the local processes (`local/`).

Library errors are translated here into the domain's and application's exceptions.
"""
