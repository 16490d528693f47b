"""How a document writes a word: whole-word, case-sensitive mentions, and a capitalised word in lower case.

Titles, headings and key phrases are written the way the document's running text writes them
("greedy search", not the heading's "Greedy Search"); these tell how it writes them.
"""

from __future__ import annotations

import re

_AFTER_LOWERCASE_WORD = re.compile(r"(?<![\w-])[a-z][\w-]*[,;]? $")


def lower_if_plain(word: str) -> str:
    """A capitalised ordinary word in lower case ("Search" -> "search", "Fine-Tune" -> "fine-tune");
    "LoRA", "GPT-4" stay."""
    head, *rest = word.split("-")
    plain = head[:1].isupper() and head.isalpha() and (len(head) == 1 or head[1:].islower())
    plain = plain and all(part.isalpha() and (part.islower() or part[1:].islower()) for part in rest)
    return word.lower() if plain else word


def occurs(phrase: str, content: str) -> bool:
    """Whether content holds phrase exactly (case-sensitive), as whole words."""
    pattern = r"(?<![\w-])" + r"\s+".join(re.escape(part) for part in phrase.split()) + r"(?![\w-])"
    return re.search(pattern, content) is not None


def count_mentions(word: str, content: str, mid_sentence: bool = False) -> int:
    """Whole-word, case-sensitive occurrences of word in content; mid_sentence: only after a lowercase word."""
    core = word.strip(".,:;!?\"'()")
    if not core:
        return 0
    pattern = r"\s+".join(re.escape(part) for part in core.split())
    found = re.finditer(r"(?<![\w.-])" + pattern + r"(?![\w-]|\.\w)", content)  # not in "llama.cpp"
    if not mid_sentence:
        return sum(1 for _ in found)
    return sum(1 for match in found if _AFTER_LOWERCASE_WORD.search(content, max(0, match.start() - 40), match.start()))
