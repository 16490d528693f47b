"""Give a tokenizer the project's instruction chat template, in the variant that reproduces its training
tokens: with BOS written by the template when the tokenizer adds BOS to encoded text, without otherwise."""

from __future__ import annotations

from typing import Any

from llm_engineering.domain.prompts import instruction_chat_template


def adds_bos(tokenizer: Any) -> bool:
    """Whether `tokenizer(text)` starts with the BOS token (what training prompts are encoded with)."""
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if bos_id is None:
        return False
    ids = tokenizer("x")["input_ids"]
    return bool(ids) and ids[0] == bos_id


def apply_instruction_chat_template(tokenizer: Any) -> str:
    """Set `tokenizer.chat_template` to the matching variant and return it."""
    template = instruction_chat_template(bos=adds_bos(tokenizer))
    tokenizer.chat_template = template
    return template
