"""A tiny random causal LM built on the spot and served by the project's own launcher (`transformers serve`),
so integration tests talk to a REAL OpenAI-compatible process with a real model and need no download."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

TINY_MODEL_NAME = "tiny-twin"
_WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "for",
    "on",
    "with",
    "as",
    "this",
    "that",
    "rag",
    "query",
    "answer",
    "context",
    "model",
    "twin",
    "write",
    "about",
    "article",
    "vector",
    "search",
    "llm",
    "data",
    "embedding",
    "retrieval",
    "chunk",
    "author",
    "post",
    "code",
    "pipeline",
    "feature",
    "store",
]


def build_tiny_model(target: Path) -> Path:
    """Save a 2-layer Llama (random weights, seed 0) and a word-level tokenizer with the project's chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from llm_engineering.domain.prompts import INSTRUCTION_CHAT_TEMPLATE

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    for token in [*_WORDS, *"abcdefghijklmnopqrstuvwxyz0123456789.,:;!?#-_'\"()[]"]:
        vocab.setdefault(token, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    fast.chat_template = INSTRUCTION_CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(config)
    model.config.architectures = ["LlamaForCausalLM"]
    model.save_pretrained(target)
    fast.save_pretrained(target)
    return target


def serve_tiny_model(workdir: Path) -> Iterator[dict]:
    """Build the tiny model under `workdir` and serve it; yields base_url, model_id, port and start time."""
    from llm_engineering.infrastructure.local_llm import LocalLLMServer
    from tests.conftest import free_port

    model_dir = build_tiny_model(workdir / "models" / TINY_MODEL_NAME)
    server = LocalLLMServer(model_dir, port=free_port(), run_dir=workdir / "run")
    started = time.perf_counter()
    server.start(timeout_s=240)
    startup_s = time.perf_counter() - started
    try:
        yield {
            "base_url": server.url,
            "model_id": server.served_model_id,
            "port": server.port,
            "startup_s": startup_s,
            "server": server,
        }
    finally:
        server.stop()
