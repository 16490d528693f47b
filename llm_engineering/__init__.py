"""LLM Twin: crawl a person's writing, build RAG features and datasets, fine-tune and serve their twin."""

__version__ = "0.1.0"
