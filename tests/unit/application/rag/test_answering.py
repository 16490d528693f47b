import uuid

from llm_engineering.application.rag.answering import AnswerGenerator, AnswerGuard, build_rag_messages, select_passages
from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from llm_engineering.domain.prompts import STOP_SEQUENCES
from tests.unit.application.rag.fakes import ScriptedLLM


def _chunk(text: str) -> EmbeddedArticleChunk:
    return EmbeddedArticleChunk(
        content=text,
        embedding=None,
        platform="blog",
        document_id=uuid.uuid4(),
        author_id=uuid.uuid4(),
        author_full_name="Mara Quillon",
        link="https://blog.example/a",
    )


def _scored(*texts: str, document_id: uuid.UUID | None = None) -> list[ScoredChunk]:
    chunks = []
    for rank, text in enumerate(texts):
        chunk = _chunk(text)
        if document_id is not None:
            chunk.document_id = document_id
        chunks.append(ScoredChunk(chunk, 0.9 - rank / 10))
    return chunks


def test_the_prompt_numbers_the_passages_it_holds_after_the_request():
    messages = build_rag_messages("Write about reranking", _scored("first passage", "second passage"))
    assert [m.role for m in messages] == ["system", "user"]
    user = messages[1].content
    assert user.startswith("Write about reranking")
    assert user.endswith("[1] first passage\n\n[2] second passage")
    assert "cite them as [1] to [2]" in user


def test_no_passages_is_said_plainly():
    assert "No passages" in build_rag_messages("q", [])[1].content


def test_passages_beyond_the_context_budget_are_left_out_and_not_numbered():
    chunks = _scored("a" * 50, "b" * 40, "c" * 10)
    assert [item.chunk.content[0] for item in select_passages(chunks, max_context_chars=60)] == ["a", "c"]
    assert [item.chunk.content[0] for item in select_passages(chunks, max_context_chars=10)] == ["a"]


def test_answer_groups_sources_per_document_numbered_as_the_prompt_cites_them():
    shared = uuid.uuid4()
    passages = [*_scored("first of doc A", "second of doc A", document_id=shared), *_scored("doc B")]
    passages[2] = ScoredChunk(passages[2].chunk, 0.85)
    retrieval = RetrievalResult(chunks=passages, trace={"reranker": "x"})
    llm = ScriptedLLM("  The answer [1], and [2], not [3].  ")
    answer = AnswerGenerator(llm).generate("q", retrieval)
    # One numbered block per document: three passages, two sources, so [3] names nothing.
    assert answer.answer == "The answer [1], and [2], not."
    assert [source.model_dump() for source in answer.sources] == [
        {
            "number": 1,
            "document_id": str(shared),
            "category": "articles",
            "author": "Mara Quillon",
            "platform": "blog",
            "link": "https://blog.example/a",
            "links": ["https://blog.example/a"],
            "score": 0.9,
            "chunk_ids": [str(passages[0].chunk.id), str(passages[1].chunk.id)],
        },
        {
            "number": 2,
            "document_id": str(passages[2].chunk.document_id),
            "category": "articles",
            "author": "Mara Quillon",
            "platform": "blog",
            "link": "https://blog.example/a",
            "links": ["https://blog.example/a"],
            "score": 0.85,
            "chunk_ids": [str(passages[2].chunk.id)],
        },
    ]
    prompt = llm.prompts[0]
    assert prompt.endswith("[1] first of doc A\n\nsecond of doc A\n\n[2] doc B") and "[1] to [2]" in prompt
    generation = answer.trace["generation"]
    assert generation["model_id"] == "scripted"
    assert generation["passages_in_prompt"] == 3 and generation["sources_in_prompt"] == 2
    assert generation["cleanup"] == ["removed citations of passages not in the prompt: [3]"]
    assert answer.trace["retrieval"] == {"reranker": "x"}
    # A base model runs on into a new instruction block: the stop sequences end it.
    assert llm.parameters[0].stop == STOP_SEQUENCES


def test_a_looping_reply_is_tidied_and_the_trace_says_so():
    reply = "Rerank before you prompt [1]. It keeps context short [12].\n" * 3
    answer = AnswerGenerator(ScriptedLLM(reply)).generate("q", RetrievalResult(chunks=_scored("p1", "p2")))
    assert answer.answer == "Rerank before you prompt [1]. It keeps context short."
    assert answer.trace["generation"]["cleanup"] == [
        "removed 4 repeated sentence(s)",
        "removed citations of passages not in the prompt: [12]",
    ]


PASSAGES = (
    "Rerank before you prompt. A cross-encoder reads the question and each passage together and scores them.",
    "Keep the prompt short: three strong passages beat nine weak ones for a small model.",
)


def test_an_ungrounded_reply_is_replaced_by_the_authors_own_sentences():
    reply = "I am sorry, I do not have any good examples, but look at the following link for more."
    answer = AnswerGenerator(ScriptedLLM(reply)).generate(
        "Why rerank before prompting?", RetrievalResult(_scored(*PASSAGES))
    )
    generation = answer.trace["generation"]
    assert generation["answer_source"] == "extractive"
    assert generation["guard"].startswith("the reply is not grounded in the passages")
    assert "A cross-encoder reads the question and each passage together and scores them [1]." in answer.answer
    assert "[2]" in answer.answer
    assert all(sentence.split(" [")[0] in " ".join(PASSAGES) for sentence in answer.answer.split(". ") if sentence)


def test_a_grounded_reply_is_kept_and_the_guard_can_be_switched_off():
    reply = "Rerank before you prompt: a cross-encoder scores the question and each passage together [1]."
    retrieval = RetrievalResult(_scored(*PASSAGES))
    kept = AnswerGenerator(ScriptedLLM(reply)).generate("Why rerank?", retrieval)
    assert kept.answer == reply and kept.trace["generation"]["answer_source"] == "model"
    assert kept.trace["generation"]["guard"] == "passed"
    loop = "I am sorry, I was wrong. " * 10
    raw = AnswerGenerator(ScriptedLLM(loop), guard=AnswerGuard(fallback="none")).generate("Why rerank?", retrieval)
    assert raw.answer == "I am sorry, I was wrong."  # tidied, but not replaced
    assert raw.trace["generation"]["answer_source"] == "model"
    assert raw.trace["generation"]["guard"].startswith("the reply has fewer than")


def test_a_grounded_reply_about_something_else_is_replaced():
    from tests.unit.application.rag.fakes import BagOfWordsEmbedder

    passages = (
        "Rerank the retrieved passages against the question before you prompt the model with them.",
        "Overlap is a patch, not a strategy, and large overlap stores the same sentence three times over.",
    )
    reply = "Overlap is a patch, not a strategy, and large overlap stores the same sentence three times over [2]."
    generator = AnswerGenerator(ScriptedLLM(reply), embedder=BagOfWordsEmbedder())
    answer = generator.generate("rerank retrieved passages before the prompt", RetrievalResult(_scored(*passages)))
    assert answer.trace["generation"]["guard"].startswith("the reply is off the request's topic")
    assert answer.trace["generation"]["answer_source"] == "extractive"
    assert answer.answer.startswith("Rerank the retrieved passages")


def test_sentences_glued_without_a_space_are_split_and_deduplicated():
    from llm_engineering.application.rag.answer_cleanup import clean_answer

    text = "Overlap is a patch, not a strategy. It fills the results.Overlap is a patch, not a strategy."
    assert clean_answer(text, 3, truncated=False).text == "Overlap is a patch, not a strategy. It fills the results."


def test_the_guard_rejects_a_reply_that_only_restates_the_request():
    from llm_engineering.application.rag.answering import AnswerGuard

    request = "GPTQ, GGML and NF4 all shrink weights to 4 bits: how do they differ, and where does each one run best?"
    passages = ["GPTQ quantizes weights to 4 bits layer by layer. GGML runs quantized models on CPUs with llama.cpp."]
    guard = AnswerGuard()
    assert "restates the request" in guard.problem(request, passages, request=request)
    answer = (
        "GPTQ quantizes weights layer by layer for GPUs, while GGML runs quantized models on CPUs with llama.cpp [1]."
    )
    assert guard.problem(answer, passages, request=request) is None
