"""What a text is about, without a model: noun-phrase key phrases, code and chrome skipped."""

from __future__ import annotations

import pytest

from llm_engineering.application.datasets.prose import code_share, prose
from llm_engineering.application.datasets.topics import key_phrases

CHROME_AND_VERBS = (
    "Nodes represent interactions between users. The original wording brings clarity to graph embeddings.\n\n"
    "FollowPublished inDecoding ML\u00b716 min read\n\nCopy link\n\n"
    "Remove samples with empty answers. We decode complex topics for readers. Greedy search leads to repetitive text."
)


def test_verbs_and_chrome_never_make_a_phrase():
    phrases = key_phrases(CHROME_AND_VERBS, top_k=10)
    assert phrases == ["complex topics", "empty answers", "graph embeddings", "greedy search", "repetitive text"]
    banned = {"represent", "brings", "decode", "remove", "leads", "followpublished", "indecoding", "copy", "link"}
    assert not {word.lower() for phrase in phrases for word in phrase.split()} & banned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A verb after "to", a modal or a pronoun, or opening an imperative, is no part of the phrase.
        ("We need to merge base models.", ["base models"]),
        ("Merge base models first.", ["base models"]),
        ("The merge method matters.", ["merge method"]),
        # Vague modifiers do not open a phrase; adjectives, participles and adverbs do not close one.
        ("The main processing task is useful; answers were manually created.", ["processing task"]),
        # A participle before its noun is an adjective; after one, a verb.
        (
            "We load the quantized weights. PyTorch tensors outperformed NumPy arrays.",
            ["NumPy arrays", "PyTorch tensors", "quantized weights"],
        ),
        # An -ing form or an -s form before another word acts on it: "removing samples", "Qdrant indexes points".
        # ("Qdrant" then stands alone, a word said once that only a sentence start capitalises.)
        ("Removing duplicate samples helps. Qdrant indexes dense vectors.", ["dense vectors", "duplicate samples"]),
        # A lone generic noun or a plain word said once makes no topic; numbers break a phrase.
        ("A considerable amount of figures. Models like Llama 3 8B Instruct.", ["8B Instruct", "Llama"]),
    ],
)
def test_phrases_read_as_noun_phrases(text, expected):
    assert key_phrases(text, top_k=5) == expected


def test_recurrence_in_the_whole_document_outranks_an_equal_phrase():
    extract = "Payload filters and vector database."
    document = extract + " " + " ".join(["A vector database stores points."] * 5)
    assert key_phrases(extract) == ["payload filters", "vector database"]  # equal scores: alphabetical
    assert key_phrases(extract, document=document) == ["vector database", "payload filters"]


def test_title_words_and_technical_terms_are_preferred():
    extract = "Memory savings and token budgets."
    assert key_phrases(extract) == ["memory savings", "token budgets"]
    assert key_phrases(extract, title="Token Budgets for Agents") == ["token budgets", "memory savings"]
    assert key_phrases("Memory savings and LoRA adapters.") == ["LoRA adapters", "memory savings"]


def test_the_authors_name_is_no_topic():
    text = "Paul Iusztin explains feature stores. Written by Paul Iusztin."
    assert key_phrases(text, names=["Paul Iusztin"]) == ["feature stores"]


def test_casing_is_the_documents_running_text():
    document = "Greedy Search\n\nWe run greedy search: it picks the top token."
    assert key_phrases("Greedy Search", document=document) == ["greedy search"]
    assert key_phrases("Graph Attention Networks", document="Graph Attention Networks") == ["Graph Attention Networks"]


def test_code_is_skipped_but_for_its_comments():
    document = (
        "We compute the refusal direction per layer.\n\n```\n"
        "# Orthogonalize the residual stream\nweights = torch.einsum('ij,j->i', matrix, direction)\n"
        "print(f'{weights}')\n```\n\nThe orthogonalized weights stay in memory."
    )
    assert prose(document) == (
        "We compute the refusal direction per layer.\n\n\n\n\n\n\n\nThe orthogonalized weights stay in memory."
    )
    phrases = key_phrases(document)
    assert "residual stream" in phrases and "refusal direction" in phrases
    assert not any("einsum" in phrase or "print" in phrase for phrase in phrases)
    # Text that starts inside a fenced block of its document is code, as far as its closing fence.
    inside = "weights = matrix @ direction\n```\n\nThe weights are saved."
    assert prose(inside, document="Intro.\n\n```\n" + inside).strip() == "The weights are saved."
    assert code_share(inside, document="Intro.\n\n```\n" + inside) == pytest.approx(3 / 7)
    assert code_share("Plain prose only.") == 0.0


def test_glued_page_chrome_and_notices_are_dropped():
    text = (
        "Paul Iusztin\u00b7FollowPublished inDecoding ML\u00b716 min readListenShare SubscribeSign in. "
        "Substack is the home for great culture. Feature stores serve online features."
    )
    assert key_phrases(text) == ["feature stores", "online features"]
    assert "culture" not in prose(text) and "Feature stores serve online features." in prose(text)
