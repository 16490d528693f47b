"""One copy per article: near-duplicate detection by word shingles and folding copies into one document."""

from __future__ import annotations

import random
import uuid

from llm_engineering.application.preprocessing.cleaning_data_handlers import content_hash
from llm_engineering.application.preprocessing.duplicates import fold_copies
from llm_engineering.application.preprocessing.operations.near_duplicates import (
    copy_groups,
    copy_pairs,
    is_copy,
    overlap,
    shingles,
)
from llm_engineering.domain.cleaned_documents import CleanedArticleDocument, CleanedPostDocument

AUTHOR = uuid.uuid4()
TOPICS = [
    "Rerankers read the question and each passage together, so they order candidates better than cosine.",
    "Chunks must fit the embedding model, or their tail is silently cut off at encode time.",
    "Hybrid search fuses keyword and dense candidates by reciprocal rank before reranking them.",
    "A feature store keeps the cleaned documents for training and the embedded chunks for retrieval.",
    "Incremental runs compare a hash of each document with what the store holds and skip the unchanged.",
    "Query expansion asks the model for rewordings so that a single phrasing does not miss the passage.",
    "Self-query extracts the author from the request and filters the search by it.",
    "The answer guard replaces an ungrounded reply with the author's own sentences, cited.",
]


def article(paragraphs: list[str], link: str, author: uuid.UUID = AUTHOR, extra: str = "") -> CleanedArticleDocument:
    document = CleanedArticleDocument(
        content="\n\n".join([*paragraphs, extra]).strip(),
        platform="medium" if "medium" in link else "substack",
        author_id=author,
        author_full_name="Paul Iusztin",
        link=link,
        title="Advanced RAG",
    )
    document.content_hash = content_hash(document)
    return document


FULL = [f"{topic} Paragraph {index} explains it in the author's words." for index, topic in enumerate(TOPICS)]
MEDIUM = "https://medium.com/decodingml/advanced-rag-5d0c7f1199d2"
SUBSTACK = "https://decodingml.substack.com/p/advanced-rag"


def test_shingles_are_stable_case_blind_word_5_grams():
    assert shingles("One two three four five six") == shingles("one, TWO three four five six!")
    assert len(shingles("one two three four five six")) == 2
    assert len(shingles("too short")) == 1 and shingles("") == frozenset()


def test_an_abridged_copy_is_a_copy_and_a_short_teaser_is_not():
    full, abridged = shingles(" ".join(FULL)), shingles(" ".join(FULL[:5]))
    measured = overlap(full, abridged)
    assert measured.containment == 1.0 and 0.5 < measured.jaccard < 0.7 and is_copy(measured)
    teaser = shingles(" ".join([FULL[0], "Subscribe to read the rest of the course, lesson by lesson, every week."]))
    assert overlap(full, teaser).containment > 0.6 and not is_copy(overlap(full, teaser))
    other = shingles("An unrelated text about kernels and schedulers, written in a few weeks by someone else.")
    assert overlap(full, other).shared == 0 and not is_copy(overlap(full, other))


def test_copy_groups_are_transitive_and_ordered():
    assert copy_groups([(0, 2), (2, 4)], 5) == [[0, 2, 4]]
    assert copy_groups([(3, 1)], 4) == [[1, 3]]
    assert copy_groups([], 3) == []


def test_copy_pairs_come_from_shared_shingles_only():
    sets = [shingles(" ".join(FULL)), shingles(" ".join(FULL[:6])), shingles(TOPICS[0] * 3), frozenset()]
    assert list(copy_pairs(sets)) == [(0, 1)]


def test_the_fuller_copy_is_kept_with_every_link_and_the_folded_ids():
    medium = article(FULL, MEDIUM, extra="A closing paragraph only the full version on Medium has, about costs.")
    substack = article(FULL[:6], SUBSTACK)
    other = article(["Kernel notes. " * 30], "https://blog.example/kernel")
    result = fold_copies([substack, other, medium])
    assert [str(document.id) for document in result.documents] == [str(other.id), str(medium.id)]
    kept = result.documents[1]
    assert kept.links == [MEDIUM, SUBSTACK] and kept.duplicate_ids == [str(substack.id)]
    assert kept.content == medium.content and kept.content_hash == content_hash(kept) != medium.content_hash
    assert result.documents[0].links == ["https://blog.example/kernel"] and result.documents[0].duplicate_ids == []
    assert len(result.groups) == 1 and result.num_folded == 1
    summary = result.groups[0].as_dict()
    assert summary["kept"]["link"] == MEDIUM and summary["folded"][0]["link"] == SUBSTACK
    assert summary["folded"][0]["containment"] == 1.0


def test_the_choice_does_not_depend_on_the_input_order_and_a_rerun_changes_nothing():
    copies = [article(FULL, MEDIUM), article(FULL[:6], SUBSTACK), article(FULL, "https://mirror.example/rag")]
    first = fold_copies(copies)
    shuffled = copies[:]
    random.Random(7).shuffle(shuffled)
    second = fold_copies(shuffled)
    # Equal length: the smaller link wins the tie.
    assert [document.links for document in first.documents] == [[MEDIUM, "https://mirror.example/rag", SUBSTACK]]
    assert first.documents[0].model_dump() == second.documents[0].model_dump()
    # The pipeline folds freshly cleaned documents each run: the same input gives the same documents and
    # hashes (nothing re-embedded), and the inputs themselves are left as they were.
    again = fold_copies(copies)
    assert [d.model_dump() for d in again.documents] == [d.model_dump() for d in first.documents]
    assert all(copy.links == [] and copy.duplicate_ids == [] for copy in copies)


def test_copies_of_different_authors_or_categories_are_not_folded():
    mine, theirs = article(FULL, MEDIUM), article(FULL, SUBSTACK, author=uuid.uuid4())
    post = CleanedPostDocument(
        content=mine.content, platform="linkedin", author_id=AUTHOR, author_full_name="Paul Iusztin", link=None
    )
    result = fold_copies([mine, theirs, post])
    assert len(result.documents) == 3 and result.groups == []
    assert result.documents[2].links == []  # a post without a link has none
