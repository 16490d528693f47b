"""Fine-tuning figures on CPU: SFT then DPO of the local Gemma 3 270M with a profile of
configs/training.yaml, and the held-out losses of base, SFT and DPO on the same test samples.

The same functions the training pipeline's steps call (no ZenML, no registry): the figures are the
training's own. Datasets default to the book's exports beside the project; any file, export folder or
`hf:` id works.

    poetry run python -m bench.training                       # cpu profile, the book's datasets
    poetry run python -m bench.training --sft-steps 5 --dpo-steps 3 --eval-samples 20   # a quick look
    poetry run python -m bench.training --instruct data/datasets/instruct_datasets \\
        --preference data/datasets/preference_datasets         # the datasets a dataset pipeline exported
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BOOK_ARTIFACTS = PROJECT_ROOT.parent / "shared" / "data" / "handbook" / "artifacts"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="profile of configs/training.yaml (default: cpu)")
    parser.add_argument("--instruct", default=str(BOOK_ARTIFACTS / "instruct_datasets.json"))
    parser.add_argument("--preference", default=str(BOOK_ARTIFACTS / "preference_datasets.json"))
    parser.add_argument("--sft-steps", type=int, help="override the profile's SFT max_steps")
    parser.add_argument("--dpo-steps", type=int, help="override the profile's DPO max_steps (0: no DPO)")
    parser.add_argument("--eval-samples", type=int, default=50, help="held-out samples per dataset (0: none)")
    parser.add_argument("--output", type=Path, help="keep the models here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    return parser.parse_args(argv)


def load_config(profile: str, sft_steps: int | None, dpo_steps: int | None) -> Any:
    from llm_engineering.model.finetuning.config import load_training_config

    config = load_training_config(PROJECT_ROOT / "configs" / "training.yaml", profile)
    if sft_steps:
        config = config.model_copy(update={"sft": config.sft.model_copy(update={"max_steps": sft_steps})})
    if dpo_steps:
        config = config.model_copy(update={"dpo": config.dpo.model_copy(update={"max_steps": dpo_steps})})
    return config


def run(args: argparse.Namespace, output: Path) -> dict[str, Any]:
    from llm_engineering import bootstrap
    from llm_engineering.model.dataset_files import load_dataset_source
    from llm_engineering.model.finetuning.config import LOCAL_BASE_MODEL
    from llm_engineering.model.finetuning.runs import train_and_evaluate
    from llm_engineering.settings import get_settings

    config = load_config(args.profile, args.sft_steps, args.dpo_steps)
    base = config.resolve_base_model(
        bootstrap.training_base_model_dir(get_settings()) if config.base_model == LOCAL_BASE_MODEL else None
    )
    instruct, preference = load_dataset_source(args.instruct), load_dataset_source(args.preference)
    run = train_and_evaluate(
        config, base, instruct, None if args.dpo_steps == 0 else preference, output, args.eval_samples
    )
    return {
        "profile": args.profile,
        "datasets": {"instruct": instruct.counts(), "preference": preference.counts()},
        **run,
    }


def report(figures: dict[str, Any]) -> None:
    print(f"\nprofile {figures['profile']}: {figures['base_model']}")
    for stage, metrics in figures["stages"].items():
        line = (
            f"  {stage.upper():4} {metrics['steps']} steps, {metrics['samples']} samples, {metrics['tokens']} tokens "
            f"in {metrics['seconds']} s ({metrics['tokens_per_s']} tokens/s; {metrics['total_seconds']} s with "
            f"load and merge), train loss {metrics['train_loss_first']:.3f} -> {metrics['train_loss_last']:.3f}, "
            f"peak RSS {metrics['peak_rss_mb']} MB"
        )
        if stage == "dpo" and metrics.get("rewards/margins") is not None:
            line += f", reward margin {metrics['rewards/margins']:.3f}, accuracy {metrics['rewards/accuracies']:.2f}"
        print(line)
    print(f"  training (both stages) {figures['training_seconds']} s")
    for dataset, by_model in figures["heldout"].items():
        cells = ", ".join(f"{model} {result['loss']:.3f}" for model, result in by_model.items())
        first = next(iter(by_model.values()))
        print(f"  held-out {dataset} loss ({first['samples']} samples, {first['tokens']} tokens): {cells}")
    print(f"  every trained model below the base: {figures['improved']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-training-") as folder:
        figures = run(args, args.output or Path(folder))
    report(figures)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
