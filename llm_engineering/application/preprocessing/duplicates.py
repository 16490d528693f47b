"""One copy per article: cleaned documents that are copies of one text are folded into one.

An author who cross-posts (the book's corpus holds Substack and Medium copies of five articles) would
otherwise get both copies chunked, retrieved into one prompt and quoted twice in one answer. Copies are
found per author and category (`operations.near_duplicates`); the copy with the most text is kept (an
abridged cross-post loses to the full article; ties go to the smaller link, then id), and it records
every link of the group (`links`, its own first) and the ids of the folded copies (`duplicate_ids`),
which the feature store uses to delete what earlier runs stored for them. The choice depends only on
the documents, so a re-run keeps the same copy and changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_engineering.application.preprocessing.cleaning_data_handlers import content_hash
from llm_engineering.application.preprocessing.operations.near_duplicates import (
    Overlap,
    copy_groups,
    copy_pairs,
    overlap,
    shingles,
)
from llm_engineering.domain.cleaned_documents import CleanedDocument


@dataclass(frozen=True)
class DuplicateGroup:
    """Copies of one text: the kept document, the folded ones and how much each shares with the kept one."""

    kept: CleanedDocument
    folded: tuple[CleanedDocument, ...]
    overlaps: tuple[Overlap, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (run metadata, the bench)."""
        return {
            "kept": {"id": str(self.kept.id), "link": _link(self.kept), "title": _title(self.kept)},
            "folded": [
                {
                    "id": str(document.id),
                    "link": _link(document),
                    "title": _title(document),
                    "containment": round(measured.containment, 3),
                    "jaccard": round(measured.jaccard, 3),
                }
                for document, measured in zip(self.folded, self.overlaps, strict=True)
            ],
        }


@dataclass
class FoldResult:
    """The documents to store (one per group of copies) and the groups found."""

    documents: list[CleanedDocument] = field(default_factory=list)
    groups: list[DuplicateGroup] = field(default_factory=list)

    @property
    def num_folded(self) -> int:
        return sum(len(group.folded) for group in self.groups)


def _link(document: CleanedDocument) -> str | None:
    return getattr(document, "link", None)


def _title(document: CleanedDocument) -> str | None:
    return getattr(document, "title", None) or getattr(document, "name", None)


def _keep_order(document: CleanedDocument, size: int) -> tuple[int, str, str]:
    """Sort key of a group's members: the one with the most text first, then the smaller link, then id."""
    return (-size, _link(document) or "", str(document.id))


def fold_copies(documents: Sequence[CleanedDocument]) -> FoldResult:
    """The documents with each group of copies (same author and category) folded into one kept document.

    Every returned document has `links` (its own link first, then its copies' in order) and
    `duplicate_ids` set, and its `content_hash` recomputed when they changed. Input order is kept.
    """
    result = FoldResult()
    by_owner: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, document in enumerate(documents):
        by_owner[(str(document.get_category()), str(document.author_id))].append(index)
    folded_into: dict[int, int] = {}
    groups_by_kept: dict[int, list[int]] = {}
    sets: dict[int, frozenset[int]] = {}
    for members in by_owner.values():
        member_sets = [shingles(documents[index].content) for index in members]
        sets.update(zip(members, member_sets, strict=True))
        for group in copy_groups(list(copy_pairs(member_sets)), len(members)):
            indices = sorted(
                (members[position] for position in group),
                key=lambda index: _keep_order(documents[index], len(sets[index])),
            )
            groups_by_kept[indices[0]] = indices[1:]
            folded_into.update((index, indices[0]) for index in indices[1:])
    for index, document in enumerate(documents):
        if index in folded_into:
            continue
        copies = [documents[other] for other in groups_by_kept.get(index, [])]
        kept = _with_copies(document, copies)
        result.documents.append(kept)
        if copies:
            overlaps = tuple(overlap(sets[index], sets[other]) for other in groups_by_kept[index])
            result.groups.append(DuplicateGroup(kept, tuple(copies), overlaps))
    return result


def _with_copies(document: CleanedDocument, copies: Sequence[CleanedDocument]) -> CleanedDocument:
    """`document` with the links and ids of its copies recorded (a copy, so the input is not changed)."""
    links = list(dict.fromkeys(link for link in (_link(document), *map(_link, copies)) if link))
    duplicate_ids = [str(copy.id) for copy in copies]
    if links == document.links and duplicate_ids == document.duplicate_ids:
        return document
    updated = document.model_copy(update={"links": links, "duplicate_ids": duplicate_ids})
    updated.content_hash = content_hash(updated)
    return updated
