import pytest

from llm_engineering.application.datasets.dedup import (
    ContaminationReason,
    find_contaminated,
    find_exact_duplicates,
    find_near_duplicates,
    fingerprint,
    normalise_text,
    word_ngrams,
    words,
)

PARAGRAPH = (
    "Retrieval augmented generation keeps a language model honest by grounding each answer in passages "
    "fetched from a vector database at query time. The pipeline cleans the raw documents, splits them into "
    "chunks along headings, embeds every chunk with a sentence transformer and stores the vectors next to "
    "their metadata. At query time the question is expanded into several phrasings, each phrasing is embedded "
    "and searched, and the union of the hits is reranked by a cross encoder that reads the question and the "
    "passage together. Only the best few passages go into the prompt, which keeps the context short, cheap "
    "and focused, and lets the model cite where each claim comes from. Measuring recall on a small labelled "
    "set of questions tells you whether a change to chunking or to the reranker actually helped or only moved "
    "the numbers around."
)
OTHER_PARAGRAPH = (
    "Supervised fine tuning teaches a base model to follow instructions by showing it thousands of pairs of a "
    "request and a good reply. Low rank adapters train a small number of extra weights instead of the whole "
    "network, so a single graphics card is enough for an eight billion parameter model. Preference alignment "
    "comes afterwards: direct preference optimisation compares a chosen and a rejected answer for the same "
    "prompt and nudges the model towards the style the author actually writes in."
)


def test_normalisation_folds_case_whitespace_and_edge_punctuation():
    assert normalise_text("  Hello,\n\tWORLD!!  ") == "hello, world"
    assert fingerprint("Hello, world") == fingerprint("  hello,   WORLD. ")
    assert fingerprint("Hello, world") != fingerprint("Hello world")
    assert words("RAG, then: rerank!") == ["rag", "then", "rerank"]


def test_word_ngrams_of_short_texts_are_the_whole_token_list():
    assert word_ngrams(["a", "b", "c"], 2) == {("a", "b"), ("b", "c")}
    assert word_ngrams(["a", "b"], 3) == {("a", "b")}
    assert word_ngrams([], 3) == set()
    with pytest.raises(ValueError):
        word_ngrams(["a"], 0)


def test_exact_duplicates_keep_the_first_occurrence():
    assert find_exact_duplicates(["A b", "c", "a  B.", "C", "d"]) == {2, 3}


def test_near_duplicates_catch_a_one_word_change_and_keep_a_different_text():
    changed = PARAGRAPH.replace("cross encoder", "cross attention", 1)
    assert changed != PARAGRAPH
    assert find_near_duplicates([PARAGRAPH, OTHER_PARAGRAPH, changed]) == {2}
    assert find_near_duplicates([PARAGRAPH, OTHER_PARAGRAPH, changed]) == find_near_duplicates(
        [PARAGRAPH, OTHER_PARAGRAPH, changed]
    )


def test_near_duplicates_compare_against_kept_texts_only():
    assert find_near_duplicates([PARAGRAPH, PARAGRAPH, PARAGRAPH]) == {1, 2}
    with pytest.raises(ValueError):
        find_near_duplicates([PARAGRAPH], threshold=0)


def test_contamination_reasons():
    test = ["What is RAG?\n" + PARAGRAPH]
    train = [
        "what is rag?  " + PARAGRAPH,  # same text after normalisation
        "Explain retrieval.\n" + PARAGRAPH[:400],  # a copied stretch of the test text
        OTHER_PARAGRAPH,
    ]
    assert find_contaminated(train, test) == {0: ContaminationReason.TEST_EXACT, 1: ContaminationReason.TEST_OVERLAP}
    assert test == ["What is RAG?\n" + PARAGRAPH]
    with pytest.raises(ValueError):
        find_contaminated(train, test, max_overlap=0)


def test_a_threshold_too_high_for_lsh_bands_still_finds_copies():
    changed = PARAGRAPH.replace("cross encoder", "cross attention", 1)
    assert find_near_duplicates([PARAGRAPH, changed, PARAGRAPH.upper()], threshold=1.0) == {2}
