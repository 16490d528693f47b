"""Splitting an author's full name into the warehouse's first/last name fields."""

from llm_engineering.domain.exceptions import InvalidDocumentError


def split_user_full_name(full_name: str | None) -> tuple[str, str]:
    """`"Paul Iusztin"` -> `("Paul", "Iusztin")`; the last token is the last name.

    A single token fills both fields (as the book does); an empty name is an error.
    """
    if full_name is None or not full_name.strip():
        raise InvalidDocumentError("A user's full name must not be empty.")
    tokens = full_name.split()
    if len(tokens) == 1:
        return tokens[0], tokens[0]
    return " ".join(tokens[:-1]), tokens[-1]
