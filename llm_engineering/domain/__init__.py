"""Pure business entities: documents, chunks, queries. No I/O, no drivers, no settings at import."""
