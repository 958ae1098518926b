"""Benchmark: fine-tuning throughput (samples/s) of a wav2vec2-base-sized model with sauti's
finetune stage, on real demo clips.

    .venv/bin/python benchmarks/bench_finetune.py [--clips 32] [--threads 2] [--device cpu]

No weights can be downloaded here, so the model is wav2vec2-base's architecture (95 M
parameters, transformers' Wav2Vec2Config defaults) with random weights, saved to a temporary
folder: the speed of a step does not depend on the values of the weights. The run goes through
`sauti.ml.deep.finetune.finetune_stage` (feature encoder frozen, batch 8, one epoch) and times
training and prediction separately from the stage's log. Writes benchmarks/results/finetune.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clips", type=int, default=32, help="train clips (as many again for test)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--demo", default=str(REPO / "data" / "demo"))
    args = parser.parse_args()

    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForSequenceClassification,
    )

    from sauti.core import audio
    from sauti.ml.deep import finetune

    torch.set_num_threads(args.threads)
    table = pd.read_csv(Path(args.demo) / "demo.csv")
    table = table.sample(n=2 * args.clips, random_state=0).reset_index(drop=True)
    table["file"] = [str(Path(args.demo) / f) for f in table["file"]]
    table["start"], table["end"] = 0.0, [audio.info(f)[0] for f in table["file"]]
    table["split"] = ["train"] * args.clips + ["test"] * args.clips
    with tempfile.TemporaryDirectory(prefix="sauti-bench-finetune-") as tmp:
        model_dir, out = Path(tmp) / "base", Path(tmp) / "out"
        torch.manual_seed(0)
        Wav2Vec2ForSequenceClassification(Wav2Vec2Config(num_labels=2)).save_pretrained(model_dir)
        Wav2Vec2FeatureExtractor().save_pretrained(model_dir)
        table.to_parquet(Path(tmp) / "split.parquet")
        params = {
            "MODEL": {
                "type": "finetune", "pretrained_model": str(model_dir), "max_duration": 8.0,
                "freeze_feature_encoder": True, "learning_rate": 3e-5, "batch_size": 8,
                "patience": None, "loss": None, "measure": None, "device": args.device,
                "validation_share": 0.0, "push_to_hub": False, "hub_repo": None,
            },
            "type": "classification", "runs": 1, "epochs": 1, "random_seed": 42,
            "target": "gender",
        }  # fmt: skip
        started = time.perf_counter()
        info = finetune.finetune_stage(str(Path(tmp) / "split.parquet"), params, str(out), False)
        total = time.perf_counter() - started
        # prediction alone: the checkpoint reloaded, as `sauti demo` does
        from sauti.ml.bundle import load_bundle, predict

        started = time.perf_counter()
        predict(load_bundle(out), table[table["split"] == "test"][["file", "start", "end"]])
        predict_s = time.perf_counter() - started
    seconds = float(table["end"].sum() / 2)
    train_s = total - predict_s  # the stage predicts test once, as long as the timing above
    rows = [
        ("train clips / audio", f"{args.clips} / {seconds:.0f} s (input {info['finetune']['input_seconds']:.2f} s each)"),
        ("fine-tuning, 1 epoch (s)", f"{train_s:.1f}"),
        ("training throughput (clips/s)", f"{args.clips / train_s:.2f}"),
        ("prediction of as many clips, checkpoint reloaded (s)", f"{predict_s:.1f}"),
        ("prediction throughput (clips/s)", f"{args.clips / predict_s:.2f}"),
    ]  # fmt: skip
    text = (
        f"# finetune throughput: wav2vec2-base architecture (random weights)\n\n"
        f"{platform.processor() or platform.machine()}, device {args.device}, "
        f"{args.threads} torch threads, batch 8, feature encoder frozen; load average "
        f"{os.getloadavg()[0]:.1f} at the end (other jobs share the cores)\n\n"
        "| measure | value |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    )
    path = REPO / "benchmarks" / "results" / "finetune.md"
    path.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
