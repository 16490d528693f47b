"""A registered twin exported for real: the packaged Gemma 3 270M (its Hugging Face conversion, cached in
LOCAL_DATA_DIR/models as training uses it) with a few matrices perturbed, so it is a "trained" twin that is not
the base, registered, then exported by the project's exporter with llama.cpp's quantizer as Q8_0 and Q4_K_M.

llama.cpp (llama-cpp-python) reads each GGUF back and picks the next token after each of a dozen prompts; the
merged Hugging Face model picks on the same token ids. The agreement rates are printed (run with -s); Q8_0
must agree almost always, Q4_K_M mostly, while the base model's own GGUF must disagree somewhere (the check
would see an export that lost the twin's weights). The files also land in the version's card.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_engineering.domain.prompts import format_instruction_prompt
from tests.unit.model.test_registry import FakeStage

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed (bash scripts/setup.sh builds it): it reads the GGUF back and "
        "makes the Q4_K_M",
    ),
]

INSTRUCTIONS = (
    "Write a short note on why vector databases help retrieval.",
    "Explain what LoRA changes in a transformer.",
    "Summarise the benefits of quantizing a model to 4 bits.",
    "Describe how a reranker improves search results.",
    "Give three tips for writing a clear technical blog post.",
    "What is the difference between SFT and DPO?",
)
PLAIN = (
    "The capital of France is",
    "def fibonacci(n):\n    if n <",
    "Once upon a time, in a small village,",
    "1, 2, 3, 4, 5,",
    "The best way to learn a new programming language is",
    "Large language models are trained on",
)
PROMPTS = tuple(format_instruction_prompt(text) for text in INSTRUCTIONS) + PLAIN
# Perturbed matrices: enough to change some of the base model's next-token choices, not to break the model.
PERTURBED_LAYERS = (2, 9, 15)
PERTURBED = ("q_proj.weight", "down_proj.weight")
NOISE = 1.0  # times each matrix's standard deviation


@dataclass(frozen=True)
class Exported:
    model: object  # the merged Hugging Face twin, fp32
    token_ids: list[list[int]]
    registered: object
    files: dict[str, Path]  # quantization -> GGUF
    base_gguf: Path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm_engineering import bootstrap
    from llm_engineering.infrastructure.llamacpp.quantize import LlamaCppQuantizer
    from llm_engineering.model.gguf_bundle import GGUFExporter
    from llm_engineering.model.gguf_conversion import packaged_gguf
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.settings import load_settings

    # One torch thread: two OpenMP threads on a shared 2-core machine stall each other (a 12-prompt pass took
    # 60 s with two, 7 s with one while another process was busy).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    settings = load_settings()
    base_dir = bootstrap.training_base_model_dir(settings)  # converted once (about a minute), then cached
    base_gguf = packaged_gguf(settings.LOCAL_DATA_DIR / "models")
    work = tmp_path_factory.mktemp("gguf-agreement")

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(PERTURBED) and any(f".layers.{layer}." in name for layer in PERTURBED_LAYERS):
                parameter.add_(torch.randn_like(parameter) * parameter.std() * NOISE)
    merged = work / "run" / "merged"
    model.save_pretrained(merged)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(base_dir / name, merged / name)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(merged)
    token_ids = [tokenizer(prompt)["input_ids"] for prompt in PROMPTS]

    registry = ModelRegistry(work / "registry")
    stage = FakeStage(stage="sft", base_model=str(base_dir), adapter_dir=None, merged_dir=merged)
    registered = registry.register("twin", [stage], move=True)
    exporter = GGUFExporter(registry, lambda: base_gguf, LlamaCppQuantizer())
    started = time.perf_counter()
    bundle = exporter.export(registered, ["Q8_0", "Q4_K_M"])
    print(f"\nexport of {registered.spec}: {time.perf_counter() - started:.1f}s")
    for file in bundle.files:
        print(f"  {file.path.name}: {file.bytes / 1e6:.1f} MB, {file.seconds:.1f}s, sha256 {file.sha256[:16]}")
    yield Exported(model, token_ids, registered, {file.quantization: file.path for file in bundle.files}, base_gguf)
    torch.set_num_threads(threads)


def hf_next_tokens(model, token_ids: list[list[int]]) -> list[int]:
    import torch

    with torch.no_grad():
        return [int(model(torch.tensor([ids]), logits_to_keep=1).logits[0, -1].argmax()) for ids in token_ids]


def llama_next_tokens(path: Path, token_ids: list[list[int]], prompts: tuple[str, ...]) -> tuple[list[int], int, str]:
    """llama.cpp's next token after each prompt (the same ids), how many prompts its own tokenizer encodes
    differently from Hugging Face's, and the file type the GGUF declares."""
    import llama_cpp
    import numpy as np

    # One thread: llama.cpp's workers spin-wait on each other, which stalls on a shared, busy machine.
    llm = llama_cpp.Llama(str(path), n_ctx=256, n_batch=256, logits_all=False, verbose=False, n_threads=1)
    try:
        choices = []
        for ids in token_ids:
            llm.reset()
            llm.eval(ids)
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
            choices.append(int(logits.argmax()))
        tokenized = [llm.tokenize(prompt.encode(), add_bos=True, special=True) for prompt in prompts]
        file_type = llm.metadata.get("general.file_type", "")
    finally:
        llm.close()
    return choices, sum(ours != theirs for ours, theirs in zip(tokenized, token_ids, strict=True)), file_type


def test_the_gguf_exports_choose_the_next_tokens_of_the_merged_model(exported: Exported):
    expected = hf_next_tokens(exported.model, exported.token_ids)
    rates, file_types = {}, {}
    for quantization, path in [*exported.files.items(), ("base model's GGUF", exported.base_gguf)]:
        started = time.perf_counter()
        chosen, retokenized, file_types[quantization] = llama_next_tokens(path, exported.token_ids, PROMPTS)
        rates[quantization] = sum(a == b for a, b in zip(chosen, expected, strict=True)) / len(expected)
        print(
            f"{quantization}: next-token agreement with the merged model {rates[quantization]:.0%} over "
            f"{len(expected)} prompts ({time.perf_counter() - started:.1f}s); prompts tokenized differently: "
            f"{retokenized}"
        )
        assert retokenized == 0  # the GGUF's tokenizer (the base model's) encodes prompts as training did
    assert rates["Q8_0"] >= 0.9
    assert rates["Q4_K_M"] >= 0.75
    assert rates["base model's GGUF"] < 1.0  # the twin's weights, not the base model's, were exported
    # llama.cpp's file types: 7 = MOSTLY_Q8_0, 15 = MOSTLY_Q4_K_M.
    assert (file_types["Q8_0"], file_types["Q4_K_M"]) == ("7", "15")


def test_the_files_land_in_the_card_and_the_server_takes_the_q8_0(exported: Exported, tmp_path: Path):
    from llm_engineering.model.gguf_bundle import registered_gguf
    from llm_engineering.model.registry import publish_for_serving

    registered = exported.registered
    card = registered.card()
    assert set(card["gguf"]["files"]) == {"gguf/twin-v1.Q8_0.gguf", "gguf/twin-v1.Q4_K_M.gguf"}
    for key, entry in card["gguf"]["files"].items():
        path = registered.path / key
        assert entry["bytes"] == path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                digest.update(block)
        assert entry["sha256"] == digest.hexdigest()
    assert "ollama create twin-v1 -f gguf/Modelfile" in registered.card_path.read_text()
    assert "FROM ./twin-v1.Q4_K_M.gguf" in (registered.path / "gguf" / "Modelfile").read_text()
    assert not list((registered.path / "gguf").glob(".*"))  # no F16 intermediate left

    assert exported.files["Q4_K_M"].stat().st_size < exported.files["Q8_0"].stat().st_size

    published = tmp_path / "models" / publish_for_serving(registered, tmp_path / "models")
    assert registered_gguf(published) == exported.files["Q8_0"]
