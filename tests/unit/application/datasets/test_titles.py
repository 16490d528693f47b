"""What a title or a section heading says a document is about, as a noun phrase or a goal."""

from __future__ import annotations

import pytest

from llm_engineering.application.datasets.titles import TitleTopic, section_topic, title_topic

CONTENT = (
    "Unsloth makes fine-tuning Llama 3.1 fast. Greedy search and beam search are decoding strategies for large "
    "language models. GraphSAGE samples neighbors; GraphSAGE scales; we use GraphSAGE. Weight quantization helps. "
    "A feature pipeline for RAG. Monitoring an ML system. LLM agents call tools. We write Python."
)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "Maxime Labonne - Fine-tune Llama 3.1 Ultra-Efficiently with Unsloth",
            TitleTopic(goal="fine-tune Llama 3.1 ultra-efficiently with Unsloth"),
        ),
        (
            "Decoding Strategies in Large Language Models - Maxime Labonne",
            TitleTopic(noun="decoding strategies in large language models"),
        ),
        (
            "Real-time feature pipelines for RAG - by Paul Iusztin",
            TitleTopic(noun="real-time feature pipelines for RAG"),
        ),
        ("LLM Agents Demystified - by Li - Decoding ML Newsletter", TitleTopic(noun="LLM agents")),
        ("Introduction to Weight Quantization - Maxime Labonne", TitleTopic(noun="weight quantization")),
        ("GraphSAGE: Scaling up Graph Neural Networks", TitleTopic(noun="GraphSAGE")),  # a name, said 3 times
        (
            "DML: How to add real-time monitoring & metrics to your ML System",  # a newsletter tag, said never
            TitleTopic(goal="add real-time monitoring & metrics to my ML system"),
        ),
        (
            "Fix your messy ML configs in your Python projects",
            TitleTopic(goal="fix my messy ML configs in my Python projects"),
        ),
        ("What is a Tensor in Machine Learning? - Maxime Labonne", TitleTopic()),  # a question
        ("7 tips to reduce your VRAM when training LLMs", TitleTopic()),  # a listicle
        ("My monthly recommendations for leveling up in ML", TitleTopic()),  # speaks of the writer
        ("Upskill your LLM knowledge base with these tools.", TitleTopic()),  # points at the page
        ("Maxime Labonne", TitleTopic()),  # only the author
        ("LLM Twin Course", TitleTopic(noun="LLM Twin Course")),  # a name the content never writes in lower case
        (None, TitleTopic()),
    ],
)
def test_title_topic(title, expected):
    assert title_topic(title, CONTENT, "Maxime Labonne") == expected


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("II. GraphSAGE in theory", "GraphSAGE in theory"),
        ("A. Neighbor Sampling", "neighbor sampling"),
        ("Lesson 3: CDC: Enabling Event-Driven Architectures", "CDC"),
        ("Bytewax flow \u2192 GitHub Code \u2190", "Bytewax flow"),
        ("Introduction to deploying private LLMs", "deploying private LLMs"),
        ("Why Bytewax?", None),  # a question
        ("Quantize EXL2 models", None),  # an imperative
        ("Image by author", None),  # a caption
        ("Copy link", None),
        ("SubscribeSign in", None),
        ("Jul 07, 2023", None),
        ("2024 Maxime Labonne", None),  # the author
        ("Pau Labarta Bajo", None),  # a person: capitalised words the content never writes in lower case
        ("To Summarize", None),
        ("V. Conclusion", None),
    ],
)
def test_section_topic(heading, expected):
    content = "We use neighbor sampling with GraphSAGE. We stream events with Bytewax. CDC events flow. " + heading
    assert section_topic(heading, content, "Maxime Labonne") == expected
