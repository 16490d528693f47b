from llm_engineering.application.rag.answer_quality import (
    grounding_score,
    invalid_citations,
    repeated_sentences,
    repetition_rate,
)


def test_a_looping_answer_has_a_high_repetition_rate_and_repeated_sentences():
    loop = "QLoRA: " * 30
    assert repetition_rate(loop) > 0.9
    paragraph = "Rerank before you prompt. It keeps the context short. "
    assert repeated_sentences(paragraph * 4) == 6
    assert repetition_rate("Rerank the candidates with the original question, then keep the best few.") == 0.0
    assert repetition_rate("") == 0.0 and repeated_sentences("") == 0


def test_grounding_is_the_share_of_content_words_found_in_the_passages():
    passages = ["A reranker scores each candidate passage against the original question."]
    assert grounding_score("The reranker scores each candidate passage.", passages) == 1.0
    assert grounding_score("Sourdough needs a cold fermentation.", passages) == 0.0
    assert 0 < grounding_score("A reranker scores bread.", passages) < 1
    assert grounding_score("", passages) == 0.0


def test_citations_must_name_a_passage_of_the_prompt():
    assert invalid_citations("As [1] and [3] say, and [10], [11].", 9) == [10, 11]
    assert invalid_citations("No citations.", 3) == []
    assert invalid_citations("[0] is not a passage", 3) == [0]
