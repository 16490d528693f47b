"""Fine-tuning entry point for a GPU host or a SageMaker training job: SFT, then DPO, then held-out losses,
with the same code and `configs/training.yaml` profiles as the training pipeline, minus ZenML.

    python -m llm_engineering.model.finetuning.finetune --profile gpu \\
        --instruct ../shared/data/handbook/artifacts/instruct_datasets.json \\
        --preference ../shared/data/handbook/artifacts/preference_datasets.json --output-dir output/twin

In a SageMaker job (`infrastructure/aws/training/source.py` packs this folder, the `llm_engineering` modules
it needs and the config) the datasets come from the `instruct` / `preference` input channels or `hf:` ids,
and the models go to SM_MODEL_DIR, which SageMaker uploads to S3. Writes `sft/`, `dpo/` (each `adapter/`,
`merged/`, `stage_result.json`) and `summary.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Beside this file in a job's archive; the repository's config when run from a checkout.
CONFIG_CANDIDATES = (HERE / "training.yaml", HERE.parents[2] / "configs" / "training.yaml")
HUB_PREFIX = "hf:"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="gpu", help="profile of the training config (default: gpu)")
    parser.add_argument("--config", type=Path, help="training config (default: configs/training.yaml)")
    parser.add_argument("--instruct", default=os.environ.get("SM_CHANNEL_INSTRUCT"), help="file, folder or hf:<id>")
    parser.add_argument("--preference", default=os.environ.get("SM_CHANNEL_PREFERENCE"), help="file, folder or hf:<id>")
    parser.add_argument("--base-model", help="override the profile's base model (folder or Hub id)")
    parser.add_argument("--output-dir", type=Path, default=Path(os.environ.get("SM_MODEL_DIR", "output/finetune")))
    parser.add_argument("--no-dpo", action="store_true", help="stop after SFT")
    parser.add_argument("--eval-samples", type=int, default=50, help="held-out samples per dataset (0: none)")
    # SageMaker passes every hyperparameter as `--name value`; unknown ones are reported, not fatal.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        sys.stderr.write(f"finetune: ignoring unknown arguments {unknown}\n")
    if not args.instruct:
        parser.error("--instruct is required (or the SageMaker `instruct` channel)")
    if not args.no_dpo and not args.preference:
        parser.error("--preference is required unless --no-dpo (or the SageMaker `preference` channel)")
    return args


def load_split(source: str, dataset_type: str) -> Any:
    """A dataset from a file or export folder, or `hf:<user/name>` from the Hub (book columns)."""
    from llm_engineering.domain.datasets import DatasetType, TrainTestSplit

    if source.startswith(HUB_PREFIX):
        from datasets import load_dataset

        loaded = load_dataset(source.removeprefix(HUB_PREFIX))
        splits = {name: rows for name, rows in loaded.items() if name in ("train", "test")}
        return TrainTestSplit.from_huggingface(DatasetType(dataset_type), splits)
    from llm_engineering.model.dataset_files import load_dataset_source

    return load_dataset_source(source)


def config_path(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    for candidate in CONFIG_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise SystemExit(f"finetune: no training config found at {[str(path) for path in CONFIG_CANDIDATES]}")


def main(argv: list[str] | None = None) -> int:
    from llm_engineering.model.finetuning.config import load_training_config
    from llm_engineering.model.finetuning.runs import hardware, train_and_evaluate

    args = parse_args(argv)
    config = load_training_config(config_path(args.config), args.profile)
    if args.base_model:
        config = config.model_copy(update={"base_model": args.base_model})
    instruct = load_split(args.instruct, "instruction")
    preference = None if args.no_dpo else load_split(args.preference, "preference")
    args.output_dir.mkdir(parents=True, exist_ok=True)

    run = train_and_evaluate(
        config, config.resolve_base_model(None), instruct, preference, args.output_dir, args.eval_samples
    )
    summary = {
        "profile": args.profile,
        **run,
        "hardware": hardware(),
        "served_model": run["models"].get("dpo", run["models"]["sft"]),  # the last stage trained
    }
    (args.output_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    sys.stdout.write(json.dumps({"heldout": run["heldout_summary"], "improved": run["improved"]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if str(HERE) not in sys.path[:1] and (HERE / "llm_engineering").is_dir():
        sys.path.insert(0, str(HERE))  # a job's archive: the packed `llm_engineering` modules sit beside this file
    sys.exit(main())
