"""Advanced RAG retrieval (self-query, query expansion, filtered search, reranking) and answer generation."""
