"""Evaluation: answers generated for a test split by each model under test, scored by an LLM judge
(accuracy and style) and by offline metrics that need no judge (held-out loss, similarity to the
reference answer, style closeness), plus RAG retrieval metrics. Reports and the evaluation gate that
CT uses live here; the judge is reached through the `application.llm.LLMClient` port.
"""
