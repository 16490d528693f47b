from llm_engineering.domain.base.nosql import NoSQLBaseDocument
from llm_engineering.domain.base.vector import VectorBaseDocument

__all__ = ["NoSQLBaseDocument", "VectorBaseDocument"]
