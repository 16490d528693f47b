from llm_engineering.application.rag.answer_cleanup import clean_answer


def test_a_looping_answer_keeps_each_sentence_once():
    loop = "When the numbers stop moving, grow the set. By then you know which questions are hard.\n" * 4
    cleaned = clean_answer(loop, passages_in_prompt=3, truncated=False)
    assert cleaned.text == "When the numbers stop moving, grow the set. By then you know which questions are hard."
    assert "removed 6 repeated sentence(s)" in cleaned.actions


def test_runaway_template_text_and_passage_markers_are_cut():
    text = "[1] Rerank before you prompt: it keeps the context short.\n### Instruction:\nWrite more."
    cleaned = clean_answer(text, passages_in_prompt=3, truncated=False)
    assert cleaned.text == "Rerank before you prompt: it keeps the context short."
    assert cleaned.actions[:2] == ["cut runaway template text", "removed passage markers at line starts"]
    qa = 'The response is "yes".\n# Answer: The response is "no"'
    assert clean_answer(qa, 3, truncated=False).text == 'The response is "yes".'


def test_citations_of_passages_not_in_the_prompt_are_removed_and_real_ones_kept():
    cleaned = clean_answer("Rerank first [1], then trim [10] the context [11].", passages_in_prompt=9, truncated=False)
    assert cleaned.text == "Rerank first [1], then trim the context."
    assert cleaned.actions == ["removed citations of passages not in the prompt: [10, 11]"]


def test_a_sentence_cut_by_the_token_limit_is_dropped_only_when_truncated():
    text = "A reranker reads the question and each passage together. It then scores how well the pass"
    assert clean_answer(text, 3, truncated=True).text == "A reranker reads the question and each passage together."
    assert clean_answer(text, 3, truncated=False).text == text
    short = "Rerank the passages before"
    assert clean_answer(short, 3, truncated=True).text == short  # nothing sensible would be left


def test_a_clean_answer_is_left_alone():
    text = "Chunk along headings.\n\n- keep paragraphs whole\n- measure recall"
    cleaned = clean_answer(text, 3, truncated=False)
    assert cleaned.text == text and cleaned.actions == []
