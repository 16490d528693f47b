"""A tiny random causal LM built on the spot and served by the project's own launcher (`transformers serve`),
so integration tests talk to a REAL OpenAI-compatible process with a real model and need no download."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

TINY_MODEL_NAME = "tiny-twin"


def _training_texts() -> list[str]:
    from llm_engineering.domain import prompts

    texts = [prompts.INSTRUCTION_PREAMBLE, prompts.RAG_SYSTEM_PROMPT, prompts.SELF_QUERY_PROMPT]
    texts += [path.read_text() for path in (Path(__file__).parent.parent / "data" / "demo").rglob("*.md")]
    return texts


def build_tiny_model(target: Path) -> Path:
    """Save a 2-layer Llama (random weights, seed 0) and a byte-level BPE tokenizer with the project's chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from llm_engineering.model.chat_template import apply_instruction_chat_template

    # Byte-level BPE, so every string (stop sequences included) encodes and decodes losslessly, as with
    # real models; trained in milliseconds on the project's own prompt wording and demo corpus.
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_training_texts(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    apply_instruction_chat_template(fast)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
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
    from llm_engineering.infrastructure.local.llm_server import LocalLLMServer
    from tests.conftest import free_port
    from tests.waiting import CEILING_S

    model_dir = build_tiny_model(workdir / "models" / TINY_MODEL_NAME)
    server = LocalLLMServer(model_dir, port=free_port(), run_dir=workdir / "run")
    started = time.perf_counter()
    server.start(timeout_s=CEILING_S)
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
