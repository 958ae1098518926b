"""Benchmark: real-time factor of embedding extraction (processing s / audio s; below 1 is faster
than real time).

    .venv/bin/python benchmarks/bench_embeddings.py [--clips 60] [--threads 2]

Runs `sauti.ml.features.extract` -- the code the features jobs run -- on real clips of the demo
corpus for: spkrec (resemblyzer, real weights), a tiny wav2vec2 (2 layers, 32 wide: the size the
tests use), and wav2vec2-base and whisper-tiny *architectures* with random weights (built from
their configs and saved with save_pretrained, since nothing can be downloaded here; the compute
per second of audio does not depend on the weights). Model loading is timed separately; the
extraction is timed on a second pass after a warm-up batch. CPU always; CUDA too when torch sees
a GPU. Writes benchmarks/results/embeddings.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
OUT = REPO / "benchmarks" / "results" / "embeddings.md"


def clips(n: int) -> pd.DataFrame:
    """n clips spread over the demo corpus's speakers, with their durations."""
    import soundfile

    table = pd.read_csv(DEMO / "demo.csv")
    table = table.groupby("speaker").head(2).head(n).reset_index(drop=True)
    table["file"] = [str(DEMO / f) for f in table["file"]]
    table["start"], table["end"] = None, None
    table["seconds"] = [soundfile.info(f).duration for f in table["file"]]
    return table


def build_models(folder: Path) -> dict[str, tuple[str, dict]]:
    """kind label -> (feature kind, params) with the random models saved under `folder`."""
    import torch
    import transformers as T

    torch.manual_seed(0)
    tiny = T.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32, 32), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )  # fmt: skip
    specs = {
        "wav2vec2 tiny (2 x 32)": ("wav2vec2", T.Wav2Vec2Model(tiny), T.Wav2Vec2FeatureExtractor()),
        "wav2vec2-base architecture (12 x 768, random)": (
            "wav2vec2",
            T.Wav2Vec2Model(T.Wav2Vec2Config()),  # the defaults are facebook/wav2vec2-base's
            T.Wav2Vec2FeatureExtractor(),
        ),
        "whisper-tiny architecture (encoder 4 x 384, random)": (
            "whisper",
            T.WhisperModel(T.WhisperConfig()),  # the defaults are openai/whisper-tiny's
            T.WhisperFeatureExtractor(),
        ),
    }
    models = {"spkrec resemblyzer (real weights)": ("spkrec", {})}
    for i, (label, (kind, model, extractor)) in enumerate(specs.items()):
        path = folder / f"m{i}"
        model.save_pretrained(path)
        extractor.save_pretrained(path)
        models[label] = (kind, {f"{kind}.model": str(path)})
    return models


def measure(kind: str, params: dict, samples: pd.DataFrame, device: str, batch: int) -> dict:
    from sauti.ml.features import embeddings

    options = {**params, f"{kind}.device": device, f"{kind}.batch_size": batch}
    ids = samples[["file", "start", "end"]]
    started = time.perf_counter()
    settings = embeddings.settings(kind, options)
    encoder = (
        embeddings._speaker_encoder(settings)
        if kind == "spkrec"
        else embeddings._TransformerEncoder(settings)
    )
    load = time.perf_counter() - started
    del encoder
    embeddings.extract(kind, ids.head(batch), options, progress=False)  # warm-up
    started = time.perf_counter()
    embeddings.extract(kind, ids, options, progress=False)
    seconds = time.perf_counter() - started
    audio = float(samples["seconds"].sum())
    return {"load": load, "seconds": seconds, "audio": audio, "rtf": seconds / audio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available()
    devices = ["cpu", "cuda"] if gpu else ["cpu"]
    samples = clips(args.clips)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, (kind, params) in build_models(Path(tmp)).items():
            for device in devices:
                result = measure(kind, params, samples, device, args.batch)
                rows.append({"model": label, "device": device, **result})
                print(f"{label} [{device}]: RTF {result['rtf']:.4f}", flush=True)
    gpu_line = (
        f"GPU: {torch.cuda.get_device_name(0)} (CUDA rows below)."
        if gpu
        else "GPU: none available on this machine, so only CPU figures."
    )
    lines = [
        "# Embedding extraction: real-time factor",
        "",
        f"{platform.node() or 'host'} · {os.cpu_count()} cores · torch {torch.__version__} · "
        f"{args.threads} torch threads · load average {os.getloadavg()[0]:.1f} · "
        f"Python {platform.python_version()} · "
        f"{datetime.now():%Y-%m-%d %H:%M}",
        "",
        f"`benchmarks/bench_embeddings.py`: {len(samples)} real demo clips "
        f"({samples['seconds'].sum():.1f} s of audio, {samples['seconds'].min():.2f}-"
        f"{samples['seconds'].max():.2f} s each), batch size {args.batch}, mean pooling of the "
        "last layer, through `sauti.ml.features.extract`. RTF = extraction seconds / audio seconds "
        "(< 1: faster than real time); model loading is listed apart. Random weights: the "
        "compute does not depend on them. whisper pads every clip to its 30 s window, so its "
        "RTF on short clips is high by design. " + gpu_line,
        "",
        "| model | device | load (s) | extraction (s) | RTF |",
        "|---|---|---:|---:|---:|",
        *(
            f"| {r['model']} | {r['device']} | {r['load']:.2f} | {r['seconds']:.2f} | "
            f"{r['rtf']:.4f} |"
            for r in rows
        ),
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
