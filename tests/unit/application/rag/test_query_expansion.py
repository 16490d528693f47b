import uuid

import pytest

from llm_engineering.application.errors import LLMTimeoutError
from llm_engineering.application.rag.query_expansion import QueryExpansion, parse_variants
from llm_engineering.domain.prompts import QUERY_EXPANSION_SEPARATOR
from llm_engineering.domain.queries import Query
from tests.unit.application.rag.fakes import ScriptedLLM

ORIGINAL = "How does reranking improve a RAG system?"


def test_separator_output_is_split_cleaned_and_capped():
    raw = f" 1. Why rerank retrieved passages? {QUERY_EXPANSION_SEPARATOR} - What does a cross-encoder add to RAG? "
    raw += f"{QUERY_EXPANSION_SEPARATOR} Third extra variant about reranking"
    variants, _ = parse_variants(raw, ORIGINAL, wanted=2)
    assert variants == ["Why rerank retrieved passages?", "What does a cross-encoder add to RAG?"]


def test_newline_output_is_accepted_when_the_separator_is_missing():
    variants, _ = parse_variants("Why rerank passages in RAG?\nWhat is a cross-encoder used for in RAG?", ORIGINAL, 2)
    assert len(variants) == 2


def test_garbage_duplicates_echoes_and_off_topic_lines_are_rejected():
    raw = "\n".join(
        [
            "1.1.1.1.1.1.1.1",
            ORIGINAL,
            ORIGINAL.upper(),
            "Question: " + ORIGINAL,
            "ok",
            "x" * 500,
            "The weather in Paris is lovely today",
        ]
    )
    variants, rejected = parse_variants(raw, ORIGINAL, 2)
    assert variants == []
    assert len(rejected) == 7


def test_expansion_keeps_the_original_first_and_the_author_filter():
    author = uuid.uuid4()
    query = Query(content=ORIGINAL, author_id=author, author_full_name="Mara Quillon")
    llm = ScriptedLLM(f"Why rerank passages in RAG? {QUERY_EXPANSION_SEPARATOR} What does a cross-encoder add to RAG?")
    queries, report = QueryExpansion(llm).generate(query, expand_to_n=3)
    assert queries[0].content == ORIGINAL
    assert len(queries) == 3
    assert all(q.author_id == author for q in queries)
    assert report.as_dict() == {"requested": 3, "generated": 2, "status": "expanded"}
    assert "2 different ways" in llm.prompts[0]
    assert llm.parameters[0].max_new_tokens == 64


def test_partial_expansion_is_reported():
    queries, report = QueryExpansion(ScriptedLLM("Why rerank passages in RAG?")).generate(Query.from_str(ORIGINAL), 4)
    assert len(queries) == 2
    assert report.status == "partial"


@pytest.mark.parametrize("reply", ["### Response:", "", "1.1.1.1.1.1.1"])
def test_unusable_output_falls_back_to_the_plain_query(reply):
    queries, report = QueryExpansion(ScriptedLLM(reply)).generate(Query.from_str(ORIGINAL), 3)
    assert [q.content for q in queries] == [ORIGINAL]
    assert report.status == "fallback"
    assert report.reason == "the LLM returned no usable rewording"


def test_llm_error_falls_back():
    queries, report = QueryExpansion(ScriptedLLM(LLMTimeoutError("slow"))).generate(Query.from_str(ORIGINAL), 3)
    assert len(queries) == 1
    assert report.llm_unavailable
    assert "slow" in report.reason


def test_one_query_or_no_llm_means_no_call_and_bad_n_is_an_error():
    llm = ScriptedLLM()
    assert len(QueryExpansion(llm).generate(Query.from_str(ORIGINAL), 1)[0]) == 1
    assert QueryExpansion(None).generate(Query.from_str(ORIGINAL), 3)[1].status == "skipped"
    assert llm.prompts == []
    with pytest.raises(ValueError):
        QueryExpansion(llm).generate(Query.from_str(ORIGINAL), 0)
