"""Where and how a stage trains: the backend (Unsloth on a CUDA GPU, else TRL + PEFT), the precision, the
CPU thread count, loading the model with its LoRA adapter, and merging the adapter into a saved model.

Heavy libraries (torch, transformers, peft, unsloth) are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loguru import logger

from llm_engineering.model.chat_template import apply_instruction_chat_template
from llm_engineering.model.errors import TrainingBackendError
from llm_engineering.model.finetuning.config import LoraConfig, TrainingConfig

Backend = Literal["trl", "unsloth"]


@dataclass(frozen=True)
class Precision:
    """Mixed-precision flags for the trainer (both False: plain fp32), and whether it trains on the CPU."""

    bf16: bool
    fp16: bool
    cpu: bool = False

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def unsloth_importable() -> bool:
    """True when `import unsloth` works (it needs a CUDA GPU and its own pinned stack)."""
    if importlib.util.find_spec("unsloth") is None:
        return False
    try:
        importlib.import_module("unsloth")
    except Exception as error:  # noqa: BLE001 - unsloth raises assorted errors at import (no GPU, versions)
        logger.info("Unsloth is installed but cannot be imported ({}); using TRL + PEFT", error)
        return False
    return True


def resolve_backend(config: TrainingConfig) -> Backend:
    """`unsloth` when asked for (it must work), or on `auto` with CUDA and an importable Unsloth; else `trl`."""
    if config.backend == "trl":
        return "trl"
    if config.backend == "unsloth":
        if not cuda_available():
            raise TrainingBackendError(
                "backend 'unsloth' needs a CUDA GPU; use backend 'trl' or 'auto' on this machine"
            )
        if not unsloth_importable():
            raise TrainingBackendError(
                "backend 'unsloth' is configured but `import unsloth` fails; install "
                "llm_engineering/model/finetuning/requirements.txt or use backend 'trl'"
            )
        return "unsloth"
    return "unsloth" if cuda_available() and unsloth_importable() else "trl"


def resolve_precision(config: TrainingConfig) -> Precision:
    """bf16 where asked for or (auto) where the hardware computes it natively: GPUs that support it (fp16
    on older GPUs, as the book does) and CPUs with AVX512-BF16 or AMX. Elsewhere fp32: emulated bf16 is slow."""
    import torch

    if torch.cuda.is_available():
        if config.use_bf16 == "auto":
            supported = torch.cuda.is_bf16_supported()
            return Precision(bf16=supported, fp16=not supported)
        return Precision(bf16=config.use_bf16 == "on", fp16=config.use_bf16 == "off")
    bf16 = config.use_bf16 == "on" or (config.use_bf16 == "auto" and cpu_has_native_bf16())
    return Precision(bf16=bf16, fp16=False, cpu=True)


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 matrix instructions (AVX512-BF16 or AMX), where bf16 autocast pays off.

    Measured on 2 AMD EPYC cores with AVX512-BF16 (Gemma 3 270M, LoRA, one train step, median of 4):
    fp32 45 tokens/s, bf16 autocast 65 tokens/s.
    """
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, hence looked up defensively
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` intra-op CPU threads (None: leave torch's setting), then restore it."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def score_label_positions_only_on_cpu() -> Iterator[None]:
    """Make TRL's fused LM head skip the prompt positions on CPU too.

    TRL 1.x projects hidden states through the output layer in tiles, and on Triton devices only at the
    positions that have a label; elsewhere it scores every position, to keep shapes static for compilers
    (Neuron). On CPU there is no compiler to please, and with a 262k vocabulary the output layer dominates:
    scoring only the answer tokens skips a third (SFT) to two thirds (DPO) of that work, with identical
    log-probabilities. TRL reads `trl.trainer.utils._use_triton` at call time; if a release drops the
    name, this does nothing (training is just slower).
    """
    try:
        import trl.trainer.utils as trl_utils
    except ImportError:
        yield
        return
    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        yield
        return
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def peft_lora_config(lora: LoraConfig) -> Any:
    """The PEFT `LoraConfig` for a causal LM: the book's shape (no bias)."""
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def load_tokenizer(model_path: str) -> Any:
    """The model's tokenizer with the project's chat template and a pad token."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    except OSError as error:
        raise TrainingBackendError(f"Cannot load the tokenizer of {model_path}: {error}") from error
    apply_instruction_chat_template(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_trl_model(model_path: str, config: TrainingConfig) -> Any:
    """The base model for TRL + PEFT: fp32 on CPU, its saved dtype on GPU, 4-bit when `load_in_4bit`."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": "auto" if torch.cuda.is_available() else torch.float32}
    if config.load_in_4bit:
        if not torch.cuda.is_available():
            raise TrainingBackendError("load_in_4bit (QLoRA) needs a CUDA GPU and bitsandbytes; turn it off on CPU")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    try:
        return AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    except (OSError, ValueError) as error:
        raise TrainingBackendError(f"Cannot load the model {model_path}: {error}") from error


def load_unsloth_model(model_path: str, config: TrainingConfig, max_length: int, gradient_checkpointing: bool) -> Any:
    """Unsloth's patched model with the LoRA adapter attached (the book's calls); returns (model, tokenizer)."""
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=model_path, max_seq_length=max_length, load_in_4bit=config.load_in_4bit, dtype=None
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=list(config.lora.target_modules),
        bias="none",
        use_gradient_checkpointing="unsloth" if gradient_checkpointing else False,
        random_state=config.seed,
    )
    apply_instruction_chat_template(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def patch_unsloth_dpo() -> None:
    """Unsloth's DPO patch (fixes DPO logging and speed); call before building a DPOTrainer."""
    from unsloth import PatchDPOTrainer

    PatchDPOTrainer()


def merge_adapter(base_model: str, adapter_dir: Path, merged_dir: Path) -> Path:
    """Fold the LoRA adapter in `adapter_dir` into a fresh copy of `base_model` (its saved dtype, never
    quantized) and save it, with a tokenizer carrying the project's chat template, to `merged_dir`.

    Written into a sibling temp folder and renamed at the end, so a failed merge leaves no half model.
    The result loads with `AutoModelForCausalLM.from_pretrained` and serves with `transformers serve`.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    staging = merged_dir.with_name(merged_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        base = AutoModelForCausalLM.from_pretrained(base_model, dtype="auto")
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.config.architectures = [type(merged).__name__]
        merged.save_pretrained(staging)
        load_tokenizer(str(adapter_dir)).save_pretrained(staging)
    except (OSError, ValueError, RuntimeError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise TrainingBackendError(f"Merging the adapter {adapter_dir} into {base_model} failed: {error}") from error
    finally:
        gc.collect()
    shutil.rmtree(merged_dir, ignore_errors=True)
    staging.rename(merged_dir)
    return merged_dir
