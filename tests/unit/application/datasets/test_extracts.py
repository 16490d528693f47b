"""Extract selection: exact spans, no dropped text, size bounds, short pieces merged, determinism."""

from __future__ import annotations

import itertools
import json
import random
import uuid

import pytest

from llm_engineering.application.datasets.extracts import Extract, SourceDocument, extract_passages
from llm_engineering.application.preprocessing.operations.chunking import uncovered_text
from llm_engineering.domain.cleaned_documents import (
    CleanedArticleDocument,
    CleanedPostDocument,
    CleanedRepositoryDocument,
)
from llm_engineering.domain.datasets import GenerationMethod, InstructionSource, Provenance
from llm_engineering.domain.types import DataCategory
from tests.conftest import HANDBOOK_DIR

HANDBOOK_CLEANED = HANDBOOK_DIR / "artifacts" / "cleaned_documents.json"


def document(content: str, doc_id: str = "doc-1", title: str | None = None) -> SourceDocument:
    return SourceDocument(
        id=doc_id,
        category=DataCategory.ARTICLES,
        content=content,
        link=f"https://example.com/{doc_id}",
        author_full_name="Ada Writer",
        title=title,
    )


def paragraph(length: int, fill: str = "x") -> str:
    """A paragraph of exactly `length` characters: words of four letters, no sentence punctuation."""
    text = " ".join([fill * 4] * (length // 5 + 1))[:length]
    return text.rstrip() + fill * (length - len(text.rstrip()))


def spans(extracts: list[Extract]) -> list[tuple[int, int]]:
    return [(extract.start, extract.end) for extract in extracts]


def check_invariants(documents: list[SourceDocument], extracts: list[Extract], min_chars: int, max_chars: int):
    for extract in extracts:
        content = extract.document.content
        assert extract.text == content[extract.start : extract.end]
        assert extract.text == extract.text.strip() and extract.text
        assert len(extract.text) <= max_chars + min_chars
    for doc in documents:
        own = [extract for extract in extracts if extract.document is doc]
        assert uncovered_text(doc.content, own) == ""
        # In order and disjoint: extracts never overlap nor cross documents.
        assert all(a.end <= b.start for a, b in itertools.pairwise(own))


# --- Packing and merging (hand-checked offsets: paragraphs are joined by "\n\n") -----------------------
def test_paragraphs_are_packed_greedily_and_never_split_when_they_fit():
    content = "\n\n".join(paragraph(n) for n in (60, 80, 150, 30))
    extracts, _ = extract_passages([document(content)], min_chars=100, max_chars=200, min_document_chars=20)
    assert spans(extracts) == [(0, 142), (144, 326)]


def test_a_short_tail_is_merged_into_the_previous_extract():
    content = "\n\n".join(paragraph(n) for n in (150, 190, 40))
    extracts, _ = extract_passages([document(content)], min_chars=100, max_chars=200, min_document_chars=20)
    assert spans(extracts) == [(0, 150), (152, 384)]
    assert len(extracts[1].text) == 232 <= 200 + 100


def test_a_short_head_is_merged_into_the_next_extract():
    content = "\n\n".join(paragraph(n) for n in (50, 190))
    extracts, _ = extract_passages([document(content)], min_chars=100, max_chars=200, min_document_chars=20)
    assert spans(extracts) == [(0, 242)]


def test_a_short_piece_goes_to_the_next_extract_when_the_previous_is_full():
    content = "\n\n".join(paragraph(n) for n in (190, 140, 140, 190))
    extracts, _ = extract_passages([document(content)], min_chars=150, max_chars=200, min_document_chars=20)
    # 140 joins the first 190 (332 <= 350); the second 140 would make 474 there, so it joins the last 190.
    assert spans(extracts) == [(0, 332), (334, 666)]


def test_a_short_piece_that_fits_no_neighbour_is_kept_not_dropped():
    content = "\n\n".join(paragraph(n) for n in (190, 140, 140))
    extracts, _ = extract_passages([document(content)], min_chars=150, max_chars=200, min_document_chars=20)
    assert spans(extracts) == [(0, 332), (334, 474)]


def test_a_document_under_min_chars_becomes_one_extract():
    content = "\n\n  " + "\n\n".join(paragraph(n) for n in (120, 200, 90)) + "\n"
    doc = document(content)
    extracts, report = extract_passages([doc], min_chars=1000, max_chars=2000, min_document_chars=200)
    assert len(extracts) == 1
    assert extracts[0].text == content.strip()
    assert report.documents_too_short == 0


def test_documents_under_min_document_chars_are_counted_not_extracted():
    docs = [document("Too short to teach anything.", "a"), document("   ", "b"), document(paragraph(300), "c")]
    extracts, report = extract_passages(docs, min_chars=1000, max_chars=2000, min_document_chars=200)
    assert [extract.document.id for extract in extracts] == ["c"]
    assert report.documents == 3
    assert report.documents_too_short == 2
    assert report.extracts == 1
    assert report.chars_in == len("Too short to teach anything.") + 3 + 300
    assert report.chars_in_extracts == 300


# --- Sentences and oversized sentences -------------------------------------------------------------
def test_a_huge_sentence_without_punctuation_is_cut_at_word_boundaries():
    content = " ".join(["abcd"] * 1000)  # 4,999 characters, one paragraph, one sentence
    extracts, report = extract_passages([document(content)], min_chars=1000, max_chars=2000)
    # Pieces of 400 words (1,999 chars): 1999, 1999, 999; the 999 tail joins the previous piece.
    assert spans(extracts) == [(0, 1999), (2000, 4999)]
    assert report.oversized_sentences_split == 1
    assert all(not extract.text.startswith(" ") and extract.text.endswith("abcd") for extract in extracts)


def test_a_word_longer_than_max_chars_is_cut_inside():
    content = "start " + "z" * 450 + " end"
    extracts, report = extract_passages([document(content)], min_chars=50, max_chars=200, min_document_chars=10)
    check_invariants([extracts[0].document], extracts, 50, 200)
    assert report.oversized_sentences_split == 1
    assert max(len(extract.text) for extract in extracts) <= 200 + 50


def test_long_paragraphs_split_into_sentences_not_after_abbreviations():
    content = "Mr. Smith trains models. He uses e.g. LoRA adapters daily. Dr. Jones prefers full fine-tuning."
    extracts, report = extract_passages([document(content)], min_chars=10, max_chars=40, min_document_chars=10)
    assert [extract.text for extract in extracts] == [
        "Mr. Smith trains models.",
        "He uses e.g. LoRA adapters daily.",
        "Dr. Jones prefers full fine-tuning.",
    ]
    assert report.oversized_sentences_split == 0


# --- Invariants on varied documents ----------------------------------------------------------------
def varied_documents() -> list[SourceDocument]:
    rng = random.Random(11)
    vocabulary = ["model", "data", "training", "adapter", "memory", "quantization", "retrieval", "vector", "index"]

    def sentence() -> str:
        opener = rng.choice(["Mr. Smith notes that", "In practice, e.g. with LoRA,", "We see", "Then"])
        return f"{opener} {' '.join(rng.choices(vocabulary, k=rng.randint(3, 40)))}{rng.choice('.?!')}"

    docs = [
        document("A short note about LoRA adapters and memory. " * 6, "short"),
        document(" ".join(rng.choices(vocabulary, k=1500)), "one-huge-sentence"),
        document("Tiny.", "tiny"),
    ]
    for index in range(8):
        paragraphs = []
        for _ in range(rng.randint(1, 12)):
            size = rng.choice([1, 2, 5, 20, 40])
            paragraphs.append(" ".join(sentence() for _ in range(size)))
        separator = rng.choice(["\n\n", "\n \n", "\n\n\n"])
        docs.append(document(f"  {separator.join(paragraphs)}\n", f"mixed-{index}", title=f"Doc {index}"))
    return docs


@pytest.mark.parametrize(("min_chars", "max_chars"), [(1000, 2000), (300, 500), (100, 120)])
def test_extracts_cover_every_document_with_exact_spans(min_chars, max_chars):
    docs = varied_documents()
    extracts, report = extract_passages(docs, min_chars=min_chars, max_chars=max_chars, min_document_chars=200)
    extracted = [doc for doc in docs if len(doc.content.strip()) >= 200]
    check_invariants(extracted, extracts, min_chars, max_chars)
    assert {extract.document.id for extract in extracts} == {doc.id for doc in extracted}
    assert report.documents_too_short == 1  # "Tiny."
    assert report.oversized_sentences_split >= 1  # the sentence of 1,500 words
    assert report.extracts == len(extracts)
    assert report.chars_in_extracts == sum(len(extract.text) for extract in extracts)


def test_extraction_is_deterministic():
    first, first_report = extract_passages(varied_documents(), min_chars=300, max_chars=500)
    second, second_report = extract_passages(varied_documents(), min_chars=300, max_chars=500)
    assert [(e.document.id, e.start, e.end) for e in first] == [(e.document.id, e.start, e.end) for e in second]
    assert first_report == second_report


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError, match="min_chars"):
        extract_passages([], min_chars=300, max_chars=200)
    with pytest.raises(ValueError, match="min_chars"):
        extract_passages([], min_chars=0, max_chars=200)


def test_report_metadata():
    _, report = extract_passages([document(paragraph(300)), document("short", "b")])
    assert report.as_metadata() == {
        "documents": 2,
        "extracts": 1,
        "documents_too_short": 1,
        "oversized_sentences_split": 0,
        "chars_in": 305,
        "chars_in_extracts": 300,
        "mean_extract_chars": 300.0,
    }


# --- Extract and SourceDocument ------------------------------------------------------------------------
def test_extract_refuses_spans_on_whitespace_or_outside_the_content():
    doc = document("Hello world, again.")
    assert Extract(doc, 6, 11).text == "world"
    for start, end in [(5, 11), (6, 13), (0, 0), (3, 100), (-1, 4)]:
        with pytest.raises(ValueError, match="Extract span"):
            Extract(doc, start, end)


def test_provenance_points_at_the_span():
    extract = Extract(document("Hello world, again.", "doc-9"), 6, 11)
    provenance = extract.provenance(GenerationMethod.BACK_TRANSLATION, InstructionSource.TEMPLATE)
    assert provenance == Provenance(
        document_id="doc-9",
        document_link="https://example.com/doc-9",
        author_full_name="Ada Writer",
        extract_start=6,
        extract_end=11,
        method=GenerationMethod.BACK_TRANSLATION,
        instruction_source=InstructionSource.TEMPLATE,
        model_id=None,
    )
    assert extract.provenance(GenerationMethod.TEACHER, InstructionSource.TEACHER, "gpt-4o-mini").model_id == (
        "gpt-4o-mini"
    )


def test_source_document_from_each_cleaned_document():
    common = {"content": "Body text.", "platform": "medium", "author_id": uuid.uuid4(), "author_full_name": "Ada"}
    article = CleanedArticleDocument(link="https://a", title="LoRA in practice", **common)
    repository = CleanedRepositoryDocument(name="llm-twin", link="https://github.com/x/llm-twin", **common)
    post = CleanedPostDocument(**common)

    assert SourceDocument.from_cleaned(article) == SourceDocument(
        id=str(article.id),
        category=DataCategory.ARTICLES,
        content="Body text.",
        link="https://a",
        author_full_name="Ada",
        title="LoRA in practice",
    )
    assert SourceDocument.from_cleaned(repository).title == "llm-twin"
    assert SourceDocument.from_cleaned(repository).category == DataCategory.REPOSITORIES
    post_source = SourceDocument.from_cleaned(post)
    assert (post_source.title, post_source.link, post_source.category) == (None, None, DataCategory.POSTS)


def test_cleaned_documents_are_accepted_directly():
    common = {"platform": "medium", "author_id": uuid.uuid4(), "author_full_name": "Ada"}
    article = CleanedArticleDocument(content=paragraph(400), link="https://a", title="T", **common)
    extracts, _ = extract_passages([article])
    assert [(extract.document.id, extract.document.title, extract.text) for extract in extracts] == [
        (str(article.id), "T", paragraph(400))
    ]


# --- The book's corpus -------------------------------------------------------------------------------
@pytest.mark.skipif(
    not HANDBOOK_CLEANED.exists(), reason=f"the book's cleaned corpus is not at {HANDBOOK_CLEANED} (shared data)"
)
def test_handbook_corpus_is_fully_covered_by_sized_extracts():
    rows = json.loads(HANDBOOK_CLEANED.read_text())["artifact_data"]
    docs = [
        SourceDocument(
            id=row["id"],
            category=DataCategory.ARTICLES,
            content=row["content"],
            link=row.get("link"),
            author_full_name=row.get("author_full_name"),
        )
        for row in rows
    ]
    extracts, report = extract_passages(docs, min_chars=1000, max_chars=2000)
    extracted = [doc for doc in docs if len(doc.content.strip()) >= 200]
    check_invariants(extracted, extracts, 1000, 2000)
    assert report.documents == len(rows)
    within = [extract for extract in extracts if 1000 <= len(extract.text) <= 3000]
    assert len(within) >= 0.9 * len(extracts)


def test_headings_and_lead_ins_open_the_next_extract_instead_of_closing_one():
    from llm_engineering.application.datasets.extracts import SourceDocument, extract_passages
    from llm_engineering.domain.types import DataCategory

    body = "Retrieval quality decides answer quality in every system we built. " * 5
    content = f"{body.strip()}\n\nChoosing a reranker\n\n{body.strip()}\n\nThe steps are as follows:\n\n{body.strip()}"
    document = SourceDocument(id="d", category=DataCategory.ARTICLES, content=content)

    extracts, _ = extract_passages([document], min_chars=300, max_chars=600)

    texts = [extract.text for extract in extracts]
    assert not any(text.endswith(("Choosing a reranker", "as follows:")) for text in texts)
    assert any(text.startswith("Choosing a reranker\n\n") for text in texts)


def test_a_fenced_code_block_with_blank_lines_stays_in_one_extract_when_it_fits():
    from llm_engineering.application.datasets.extracts import SourceDocument, extract_passages
    from llm_engineering.domain.types import DataCategory

    prose = "We load the model and the tokenizer before training starts. " * 6
    code = "```\nmodel = load()\n\n\ntokenizer = load_tokenizer()\n\ntrain(model)\n```"
    document = SourceDocument(
        id="d", category=DataCategory.ARTICLES, content=f"{prose.strip()}\n\n{code}\n\n{prose.strip()}"
    )

    extracts, _ = extract_passages([document], min_chars=200, max_chars=500)

    assert sum(code in extract.text for extract in extracts) == 1
    assert all(extract.text.count("```") % 2 == 0 for extract in extracts)
