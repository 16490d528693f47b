"""Tidying a generated answer before a reader sees it: loops, runaway template text, phantom citations,
and a sentence cut off by the token limit.

Small and base models drift into repeating a sentence, start a new "### Instruction" block, echo the
prompt's passage markers, or cite passages that were never in the prompt. Each rule here removes one of
those and never rewrites the author's words; `clean_answer` reports what it did so the trace can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Where a reply has run on into text that is not the answer (a new template block, a Q/A pair).
_RUNAWAY = re.compile(
    r"\n\s*(?:#{1,4}\s*(?:Instruction|Input|Response|Answer|Question)\b|(?:Question|Answer|Instruction)\s*:)",
    re.IGNORECASE,
)
_CITATION = re.compile(r"\s?\[(\d{1,3})\]")
_PASSAGE_LINE_PREFIX = re.compile(r"^\s*\[\d{1,3}\]\s*", re.MULTILINE)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"')\]]*|\n|$)")
_GLUED_SENTENCE = re.compile(r"([a-z][.!?])([A-Z][a-z])")
_TERMINAL = re.compile(r"[.!?][\"')\]]*\s*$")
# Keep a trailing fragment rather than cut everything when the answer is only one unfinished sentence.
MIN_KEPT_CHARS = 40


@dataclass
class CleanedAnswer:
    text: str
    actions: list[str] = field(default_factory=list)


def clean_answer(text: str, passages_in_prompt: int, truncated: bool) -> CleanedAnswer:
    """The answer with runaway text, repeated sentences, phantom citations and (when the generation hit
    its token limit) a trailing cut-off sentence removed; `actions` lists what was done."""
    actions: list[str] = []
    # "word.Next" (a sentence glued to the next by the model) is two sentences.
    cleaned = _GLUED_SENTENCE.sub(r"\1 \2", text.strip())

    runaway = _RUNAWAY.search(cleaned)
    if runaway and runaway.start() > 0:
        cleaned = cleaned[: runaway.start()].rstrip()
        actions.append("cut runaway template text")

    without_markers = _PASSAGE_LINE_PREFIX.sub("", cleaned)
    if without_markers != cleaned:
        cleaned = without_markers
        actions.append("removed passage markers at line starts")

    deduplicated, removed = _drop_repeated_sentences(cleaned)
    if removed:
        cleaned = deduplicated
        actions.append(f"removed {removed} repeated sentence(s)")

    phantom = sorted({int(n) for n in _CITATION.findall(cleaned) if not 1 <= int(n) <= passages_in_prompt}, key=int)
    if phantom:
        cleaned = _CITATION.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= passages_in_prompt else "", cleaned)
        actions.append(f"removed citations of passages not in the prompt: {phantom}")

    if truncated and not _TERMINAL.search(cleaned):
        last_end = max(cleaned.rfind(mark) for mark in (". ", "! ", "? ", ".\n", "!\n", "?\n"))
        if last_end >= MIN_KEPT_CHARS:
            cleaned = cleaned[: last_end + 1]
            actions.append("dropped a sentence cut off by the token limit")

    return CleanedAnswer(text=cleaned.strip(), actions=actions)


def _drop_repeated_sentences(text: str) -> tuple[str, int]:
    """Text without sentences that repeat an earlier one (ignoring case and spacing), and how many went."""
    seen: set[str] = set()
    kept: list[str] = []
    removed = 0
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        key = " ".join(re.sub(r"[^\w\s]", " ", sentence.lower()).split())
        if len(key.split()) >= 3 and key in seen:
            removed += 1
            continue
        if key:
            seen.add(key)
        kept.append(sentence)
    if not removed:
        return text, 0
    rebuilt = "".join(kept)
    rebuilt = re.sub(r"[ \t]+\n", "\n", rebuilt)
    return re.sub(r"\n{3,}", "\n\n", rebuilt).strip(), removed
