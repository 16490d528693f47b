from llm_engineering.application.rag.extractive import extractive_answer, split_sentences
from tests.unit.application.rag.fakes import BagOfWordsEmbedder


def test_sentences_skip_headings_code_and_fragments():
    passage = "# Rerank before you prompt\n\nA reranker reads the question and the passage together. Short.\n\n```\ncode here\n```"
    assert split_sentences(passage) == ["A reranker reads the question and the passage together."]


def test_the_best_matching_sentences_are_cited_in_passage_order():
    passages = [
        "Sourdough needs a long cold fermentation in the fridge. A reranker scores each passage against the question.",
        "Rerank the passages before the prompt so the best ones come first. Bread is unrelated to retrieval here.",
    ]
    for embedder in (None, BagOfWordsEmbedder()):
        answer = extractive_answer("rerank passages against the question", passages, embedder, max_sentences=2)
        assert answer == (
            "A reranker scores each passage against the question [1]. "
            "Rerank the passages before the prompt so the best ones come first [2]."
        )
    assert extractive_answer("anything", ["too short", "# only a heading"]) == ""
