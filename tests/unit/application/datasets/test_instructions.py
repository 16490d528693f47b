"""Instructions without a teacher: key phrases, headings, template instructions and the validation gate."""

from __future__ import annotations

import json
import random
import re

import pytest

from llm_engineering.application.datasets.extracts import Extract, SourceDocument, extract_passages
from llm_engineering.application.datasets.instructions import (
    CODE_TEMPLATES,
    REJECTION_REASONS,
    TEMPLATES,
    clean_instruction,
    instruction_rejection_reason,
    template_instruction,
    validate_instruction,
)
from llm_engineering.application.datasets.titles import headings
from llm_engineering.application.datasets.topics import key_phrases
from llm_engineering.domain.prompts import BACK_TRANSLATION_EXAMPLE_REQUESTS
from llm_engineering.domain.types import DataCategory
from tests.conftest import HANDBOOK_DIR

LORA_EXTRACT = (
    "Fine-tuning a large model updates every weight, which needs a lot of GPU memory. LoRA freezes the base "
    "model and trains small adapter matrices instead, so the memory needed for fine-tuning drops sharply. "
    "An LLM twin is a model fine-tuned on your own writing so that it sounds like you."
)


def document(
    content: str, doc_id: str = "doc-1", title: str | None = None, author: str | None = None
) -> SourceDocument:
    return SourceDocument(
        id=doc_id, category=DataCategory.ARTICLES, content=content, link=None, author_full_name=author, title=title
    )


def whole(doc: SourceDocument) -> Extract:
    start = len(doc.content) - len(doc.content.lstrip())
    return Extract(doc, start, len(doc.content.rstrip()))


# --- Key phrases and headings --------------------------------------------------------------------
def test_key_phrases_rank_by_degree_over_frequency():
    text = (
        "Quantization reduces the memory of large language models. Large language models need quantization "
        "for cheap inference. The memory savings are large."
    )
    # "reduces" and "need" are verbs and a lone "large" no topic, so the candidates are quantization (twice),
    # memory, large language models (twice), cheap inference and memory savings. Scores: large language
    # models (3+3+3) x (1 + ln 2 occurrences); cheap inference 2+2; memory savings 3/2+2; the single plain
    # words said twice, halved: memory 3/2 x 0.5, quantization 1 x 0.5. "Quantization" only opens a
    # sentence, so it is lowered.
    assert key_phrases(text) == [
        "large language models",
        "cheap inference",
        "memory savings",
        "memory",
        "quantization",
    ]
    assert key_phrases(text, top_k=2) == ["large language models", "cheap inference"]
    assert key_phrases(text, top_k=0) == []
    assert key_phrases(text) == key_phrases(text)


def test_key_phrases_ignore_numbers_short_tokens_and_break_at_punctuation():
    text = "AI ML 42. Transformers scale well, 2024 onwards; [URL] x y"
    # "onwards" is a single plain word said once; "Transformers" only opens a sentence.
    assert key_phrases(text) == ["transformers scale"]
    assert key_phrases("") == []
    assert key_phrases("It is what it is, and so on.") == []


def test_long_runs_are_cut_into_phrases_of_three_words_from_the_end():
    # An English noun phrase keeps its head last, so the leftover is the run's first word ("Sparse", said once).
    assert key_phrases("Sparse mixture experts architecture router gating network.", top_k=5) == [
        "mixture experts architecture",
        "router gating network",
    ]


def test_headings_are_short_standalone_title_lines():
    parts = [
        "Fine-tuning LoRA adapters",
        "LoRA freezes the base model. It trains small adapter matrices.",
        "Why LoRA Works",
        "Body text about ranks.",
        "```\nSome Code Line\n\nOther Code Line\n```",
        "Introduction",
        "This sentence ends with a period.",
        "File: src/train.py",
        "- A list item here",
        "call(model, data)",
        "What is an LLM twin?",
        "Why LoRA Works",
    ]
    content = "\n\n".join(parts)
    assert headings(content) == ["Fine-tuning LoRA adapters", "Why LoRA Works", "What is an LLM twin?"]
    assert headings("One line\nright after another") == []


# --- Validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "instruction",
    [
        "Explain how LoRA reduces the memory needed for fine-tuning.",
        "What is an LLM twin?",
        "Write a paragraph about LoRA adapters in the context of fine-tuning.",
        "Compare full fine-tuning with adapter training",
    ],
)
def test_valid_instructions_pass_unchanged(instruction):
    assert instruction_rejection_reason(instruction, LORA_EXTRACT) is None
    assert validate_instruction(instruction, LORA_EXTRACT) == instruction


@pytest.mark.parametrize(
    "candidate",
    [
        '1. Instruction: "Explain how LoRA reduces the memory needed for fine-tuning."',
        "Instruction:\n- Explain how LoRA reduces the memory needed for fine-tuning.\nAnswer: LoRA trains adapters.",
        "  **Question:** Explain how LoRA reduces the memory needed for fine-tuning.  ",
        "\u201cExplain how LoRA reduces the memory needed for fine-tuning.\u201d",
    ],
)
def test_model_output_is_cleaned_to_its_first_instruction_line(candidate):
    expected = "Explain how LoRA reduces the memory needed for fine-tuning."
    assert clean_instruction(candidate) == expected
    assert validate_instruction(candidate, LORA_EXTRACT) == expected


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        ("", "empty"),
        ('  \n "" \n', "empty"),
        ("Instruction:", "empty"),
        ("Explain LoRA.", "too_short"),
        ("What is LoRA?", "too_short"),
        ("Explain " + " ".join(["LoRA adapters and memory savings"] * 10) + ".", "too_long"),
        ("LoRA reduces the memory needed for fine-tuning a lot.", "not_a_request"),
        ("The memory of adapters", "not_a_request"),
        ("Summarize the passage about LoRA adapters.", "mentions_source"),
        ("What does the author say about LoRA adapters?", "mentions_source"),
        ("Explain the memory savings described above in detail.", "mentions_source"),
        ("Based on the text, why does LoRA save memory?", "mentions_source"),
        ("Explain how to bake sourdough bread at home.", "off_topic"),
        ("Why is the sky blue today?", "off_topic"),
        ("Explain why LoRA freezes the base model and trains small adapter matrices instead.", "copies_text"),
        ("Explain memory, memory, memory and more memory in adapters.", "repetitive"),
        ("Explain how LoRA adapters work and how LoRA adapters train?", "repetitive"),
    ],
)
def test_every_rejection_reason(candidate, reason):
    assert reason in REJECTION_REASONS
    assert instruction_rejection_reason(candidate, LORA_EXTRACT) == reason
    assert validate_instruction(candidate, LORA_EXTRACT) is None


@pytest.mark.parametrize("example", BACK_TRANSLATION_EXAMPLE_REQUESTS)
def test_a_copied_few_shot_example_is_rejected(example):
    # Compared as lowercase words: case, punctuation, an "Instruction:" prefix or a tail change nothing.
    for candidate in (example, example.upper().rstrip(".?!"), f"Instruction: {example}", f"{example} Be brief."):
        assert instruction_rejection_reason(candidate, LORA_EXTRACT) == "copies_example"
        assert validate_instruction(candidate, LORA_EXTRACT) is None
    assert REJECTION_REASONS.index("copies_example") == REJECTION_REASONS.index("empty") + 1


def test_an_instruction_sharing_words_with_an_example_is_no_copy():
    assert BACK_TRANSLATION_EXAMPLE_REQUESTS
    first_words = " ".join(BACK_TRANSLATION_EXAMPLE_REQUESTS[0].split()[:3])  # "Explain how chunk"
    instruction = f"{first_words} size changes LoRA adapter memory?"
    assert instruction_rejection_reason(instruction, LORA_EXTRACT) != "copies_example"


def test_rejection_reasons_are_all_exercised():
    assert set(REJECTION_REASONS) == {
        "empty",
        "too_short",
        "too_long",
        "not_a_request",
        "mentions_source",
        "off_topic",
        "copies_text",
        "repetitive",
        "copies_example",
    }


# --- Template instructions -----------------------------------------------------------------------
BANNED = re.compile(
    r"\b(extract|excerpt|passage|snippet)s?\b|\bthe (text|context|article|author)\b(?! of)", re.IGNORECASE
)


def technical_documents() -> list[SourceDocument]:
    rng = random.Random(5)
    terms = [
        "LoRA adapters",
        "gradient checkpointing",
        "vector databases",
        "retrieval pipelines",
        "quantization",
        "preference alignment",
        "feature stores",
        "inference latency",
        "tokenizer training",
        "prompt templates",
    ]
    verbs = ["improves", "complicates", "shapes", "limits", "speeds up"]
    docs = []
    for index in range(12):
        paragraphs = [f"Working With {rng.choice(terms).title()}"]
        for _ in range(8):
            paragraphs.append(
                " ".join(f"{rng.choice(terms).capitalize()} {rng.choice(verbs)} {rng.choice(terms)}." for _ in range(6))
            )
        docs.append(document("\n\n".join(paragraphs), f"doc-{index}", title=f"Notes on {rng.choice(terms)}"))
    return docs


def test_template_instructions_are_deterministic_and_seeded():
    extract = whole(document(LORA_EXTRACT, title="LLM Twin Course"))
    assert template_instruction(extract) == template_instruction(extract)
    assert template_instruction(extract, seed=3) == template_instruction(extract, seed=3)
    assert len({template_instruction(extract, seed=seed) for seed in range(20)}) >= 4


def test_template_instructions_are_diverse_valid_and_never_mention_the_source():
    extracts, _ = extract_passages(technical_documents(), min_chars=300, max_chars=600)
    assert len(extracts) >= 30
    instructions = [template_instruction(extract, seed) for extract in extracts for seed in range(3)]
    for extract, instruction in zip([e for e in extracts for _ in range(3)], instructions, strict=True):
        assert not BANNED.search(instruction), instruction
        assert instruction_rejection_reason(instruction, extract.text) is None, instruction
    prefixes = {template.split("{")[0] for template in TEMPLATES}
    used = {prefix for prefix in prefixes if any(instruction.startswith(prefix) for instruction in instructions)}
    assert len(used) >= 6
    assert len(set(instructions)) >= 0.5 * len(instructions)


def test_template_uses_the_section_heading_or_title():
    content = "Scaling Vector Search\n\n" + " ".join(["Qdrant indexes embeddings with HNSW graphs."] * 4)
    extract = whole(document(content, title="Building an LLM Twin"))
    instructions = {template_instruction(extract, seed) for seed in range(40)}
    assert any("Scaling Vector Search" in instruction for instruction in instructions)


def test_template_falls_back_to_the_title_without_key_phrases():
    extract = whole(document("It is what it is, and so on. Then it was.", title="LLM Twin Course"))
    instruction = template_instruction(extract)
    assert "LLM Twin Course" in instruction
    assert not BANNED.search(instruction)


def test_template_falls_back_to_the_first_sentence_without_key_phrases_or_title():
    extract = whole(document("It is AI and ML, so on. Then it was."))
    instruction = template_instruction(extract)
    assert "AI ML" in instruction
    assert not BANNED.search(instruction)


# --- Readable, on-topic templates ------------------------------------------------------------------
def check_readable(instruction: str) -> None:
    """One sentence or two, with its fields filled: a capital first, no double space, . or ? last."""
    assert instruction[0].isupper(), instruction
    assert "  " not in instruction, instruction
    assert instruction.endswith((".", "?")), instruction
    assert not re.search(r"[{}]|\bNone\b", instruction), instruction


BLOG_PARAGRAPHS = (
    "Maxime Labonne - Quantize Llama models with GGML and llama.cpp",
    "Maxime Labonne",
    "SubscribeSign in",
    "Share this post",
    "Copy link",
    "Quantization Formats",
    "FollowPublished inDecoding ML\u00b716 min read",
    (
        "GGML is a C library focused on machine learning. The GGML format stores quantized weights in a single "
        "file. Nodes represent tensors and the original wording brings nothing. We decode complex topics here."
    ),
    (
        "Quantizing the Llama models is what we do next. Quantized weights make inference "
        "cheap on a CPU, and the GGML format keeps quantized weights together with the tokenizer."
    ),
    (
        "```\n# Convert the model to the GGML format\nqtype = f'{model_dir}/ggml-model-q4_0.bin'\n"
        "!./llama.cpp/quantize {fp16} {qtype} q4_0\n```"
    ),
    "Substack is the home for great culture",
)
BLOG_CONTENT = "\n\n".join(BLOG_PARAGRAPHS)


def blog_extracts() -> list[Extract]:
    doc = document(
        BLOG_CONTENT,
        doc_id="blog",
        title="Maxime Labonne - Quantize Llama models with GGML and llama.cpp",
        author="Maxime Labonne",
    )
    extracts, _ = extract_passages([doc], min_chars=150, max_chars=400)
    return extracts


def test_templates_are_readable_requests_on_the_extracts_topic():
    extracts, _ = extract_passages(technical_documents(), min_chars=300, max_chars=600)
    blog = blog_extracts()
    for extract in [*extracts, *blog]:
        for seed in range(4):
            instruction = template_instruction(extract, seed)
            check_readable(instruction)
            assert instruction_rejection_reason(instruction, extract.text) is None, instruction


def test_templates_leave_out_verbs_chrome_and_the_authors_name():
    instructions = {template_instruction(extract, seed) for extract in blog_extracts() for seed in range(30)}
    text = " ".join(instructions)
    for banned in ("represent", "brings", "decode", "FollowPublished", "Copy link", "Subscribe", "Labonne", "culture"):
        assert banned not in text, banned
    # The title's author prefix is gone: an imperative title is what the reader wants to do.
    assert any("I want to quantize Llama models with GGML and llama.cpp." in line for line in instructions)
    assert any("GGML format" in line for line in instructions)


def test_a_code_extract_asks_for_code():
    doc = document(
        "Quantized weights\n\n```\n# Convert the model to the GGML format\nqtype = f'{model_dir}/q4_0.bin'\n"
        "os.system(f'./quantize {fp16} {qtype} q4_0')\nprint(os.listdir(model_dir))\n```",
        title="Quantize Llama models with GGML",
    )
    extract = whole(doc)
    code_prefixes = tuple(template.split("{")[0] for template in CODE_TEMPLATES)
    instructions = {template_instruction(extract, seed) for seed in range(20)}
    assert all(instruction.startswith(code_prefixes) for instruction in instructions), instructions
    assert any("GGML format" in instruction for instruction in instructions)


HANDBOOK_CLEANED = HANDBOOK_DIR / "artifacts" / "cleaned_documents.json"


@pytest.mark.skipif(not HANDBOOK_CLEANED.exists(), reason=f"the book's cleaned corpus is not at {HANDBOOK_CLEANED}")
def test_handbook_templates_are_readable_and_valid():
    rows = json.loads(HANDBOOK_CLEANED.read_text())["artifact_data"]
    docs = [
        SourceDocument(
            id=row["id"],
            category=DataCategory.ARTICLES,
            content=row["content"],
            author_full_name=row.get("author_full_name"),
            title=row.get("title"),
        )
        for row in rows
    ]
    extracts, _ = extract_passages(docs, min_chars=400, max_chars=1200)
    for extract in random.Random(0).sample(extracts, min(150, len(extracts))):
        instruction = template_instruction(extract)
        check_readable(instruction)
        assert instruction_rejection_reason(instruction, extract.text) is None, instruction
