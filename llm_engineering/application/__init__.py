"""Use cases, one package per capability: `crawlers/` (data collection), `preprocessing/` (features),
`warehouse/` (backup and import), `rag/` (retrieval and answers), `llm/` (the LLM port), `datasets/`,
`evaluation/` (retrieval metrics).

Talks to the outside only through ports (`ports.py`, `llm/client.py`, `crawlers/ports.py`, the domain's
store ports); infrastructure implements them and `llm_engineering.bootstrap` wires them. No driver imports.
"""
