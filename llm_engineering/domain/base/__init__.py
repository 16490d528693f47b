from llm_engineering.domain.base.nosql import DocumentRepository, NoSQLBaseDocument
from llm_engineering.domain.base.vector import VectorBaseDocument, VectorIndex

__all__ = ["DocumentRepository", "NoSQLBaseDocument", "VectorBaseDocument", "VectorIndex"]
