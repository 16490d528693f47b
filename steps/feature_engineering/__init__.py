"""ZenML steps of the feature pipeline: warehouse -> cleaned documents and embedded chunks in Qdrant."""

from steps.feature_engineering.clean import clean_documents
from steps.feature_engineering.load_to_vector_db import load_to_vector_db
from steps.feature_engineering.prune_vector_db import prune_vector_db
from steps.feature_engineering.query_data_warehouse import query_data_warehouse
from steps.feature_engineering.rag import chunk_and_embed

__all__ = ["chunk_and_embed", "clean_documents", "load_to_vector_db", "prune_vector_db", "query_data_warehouse"]
