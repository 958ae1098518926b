"""Benchmark: training throughput (samples/s) of sauti's torch models on the demo corpus.

    .venv/bin/python benchmarks/bench_deep_train.py [--models mlp ...] [--epochs 20] [--threads 1 2]

Each entry of BENCHMARKS is a function (device, epochs) -> one result row. It builds its own input
from the demo corpus (data/demo, `make demo-data`), trains through `sauti.ml.deep.loop.fit` (the one
training loop, with per-epoch dev scoring as in a real run; early stopping off, so every run does
exactly `epochs` epochs) and reports training samples per second of wall time:
train rows x epochs / seconds. Feature extraction is not timed. Every model runs on the CPU, and
on the GPU too when torch sees one (the table says whether it did).

To add a model, write `bench_<name>(device, epochs) -> dict` returning the keys of `COLUMNS`
(use `timed_fit`) and add it to BENCHMARKS. Writes benchmarks/results/deep_train.md.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sauti.core.fileio import write_text
from sauti.ml.data import ID

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
OUT = REPO / "benchmarks" / "results" / "deep_train.md"
COLUMNS = (
    "model",
    "input",
    "device",
    "threads",
    "batch",
    "train rows",
    "epochs",
    "seconds",
    "samples/s",
)


def demo_features(kind: str, params: dict) -> pd.DataFrame:
    """demo.csv (absolute paths, whole files) + the `kind` features of every recording."""
    import sauti.core.audio
    from sauti.ml.features import extract

    table = pd.read_csv(DEMO / "demo.csv")
    table["file"] = [str((DEMO / f).resolve()) for f in table["file"]]
    table["start"] = 0.0
    table["end"] = [sauti.core.audio.info(f)[0] for f in table["file"]]
    return pd.concat([table, extract(kind, table[ID], params, False)], axis=1)


@functools.lru_cache(maxsize=1)
def demo_os_features() -> pd.DataFrame:
    """eGeMAPSv02 functionals of every demo recording (extracted once per process)."""
    return demo_features("os", {"set": "eGeMAPSv02", "level": "functionals"})


def gender_split(table: pd.DataFrame):
    """Targets (male = 1) and a seeded 80 % train / 20 % dev split of the rows: (y, tr, dv)."""
    y = (table["gender"] == "male").to_numpy().astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    cut = int(0.8 * len(y))
    return y, order[:cut], order[cut:]


def timed_fit(net, X, y, tr, dv, device, epochs, batch_size, augment=None) -> float:
    """Seconds of wall time for one `sauti.ml.deep.loop.fit` call on the (tr, dv) rows, cross
    entropy, no early stopping (CUDA work finished included)."""
    from sauti.ml.deep.loop import FitSettings, fit, make_loss

    settings = FitSettings(
        epochs=epochs,
        patience=None,
        batch_size=batch_size,
        learning_rate=1e-3,
        device=device,
        measure="uar",
        progress=False,
    )
    train = (torch.as_tensor(X[tr]), torch.as_tensor(y[tr]))
    dev = (torch.as_tensor(X[dv]), torch.as_tensor(y[dv]))
    loss_fn = make_loss("cross", "classification")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    fit(net, loss_fn, train=train, dev=dev, settings=settings, augment=augment)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


def bench_mlp(device: str, epochs: int, batch_size: int = 8) -> dict:
    """mlp {l1: 64, l2: 16} on gender from eGeMAPS (88 features), 80 % train / 20 % dev rows."""
    from sauti.ml.deep.mlp import TorchMLPClassifier

    table = demo_os_features()
    cols = [c for c in table.columns if c.startswith("os_")]
    X = table[cols].to_numpy(dtype=np.float32)
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
    y, tr, dv = gender_split(table)
    model = TorchMLPClassifier(layers={"l1": 64, "l2": 16}, drop=0.1)
    model.classes_, model.n_features_in_ = np.array(["female", "male"]), X.shape[1]
    seconds = timed_fit(model._network(torch), X, y, tr, dv, device, epochs, batch_size)
    return row("mlp", f"os eGeMAPSv02 ({len(cols)})", device, batch_size, len(tr), epochs, seconds)


@functools.lru_cache(maxsize=1)
def demo_spectra() -> pd.DataFrame:
    """64-band log-mel images of the first second of every demo recording (once per process)."""
    return demo_features("spectra", CNN_SPECTRA)


CNN_SPECTRA = {"fft_win_dur": 25, "fft_hop_dur": 10, "fft_nbands": 64, "max_duration": 1.0}


def bench_cnn(device: str, epochs: int, batch_size: int = 32, augment: bool = True) -> dict:
    """cnn [16, 32, 64] on gender from 64 x 101 log-mel images, 80 % train / 20 % dev rows;
    with its training-time augmentation (generated noise at 5-30 dB, 100 ms shift) or without."""
    from sauti.ml.deep.cnn import CNNClassifier
    from sauti.ml.deep.cnn_net import LogMelCNN

    table = demo_spectra()
    cols = [c for c in table.columns if c.startswith("spectra_")]
    X = table[cols].to_numpy(dtype=np.float32).reshape(len(table), 64, -1)
    y, tr, dv = gender_split(table)
    model = CNNClassifier(spectra=CNN_SPECTRA, augment_noise=augment, shift_ms=100 * augment)
    net = LogMelCNN(2, (16, 32, 64), 0.3)
    net.mean.fill_(float(X[tr].mean()))
    net.std.fill_(float(X[tr].std()))
    augmenter = model.augmenter(0)
    seconds = timed_fit(net, X, y, tr, dv, device, epochs, batch_size, augment=augmenter)
    what = f"spectra 64 x {X.shape[2]}" + (", augmented" if augment else "")
    return row("cnn", what, device, batch_size, len(tr), epochs, seconds)


def row(model, what, device, batch, n_train, epochs, seconds) -> dict:
    threads = torch.get_num_threads()
    values = (model, what, device, threads, batch, n_train, epochs, seconds)
    return dict(zip(COLUMNS, (*values, n_train * epochs / seconds), strict=True))


#: name -> function(device, epochs) -> row. Other models (cnn, ...) add their entry here.
BENCHMARKS = {
    "mlp": bench_mlp,
    "mlp (batch 64)": functools.partial(bench_mlp, batch_size=64),
    "cnn": bench_cnn,
    "cnn (no augmentation)": functools.partial(bench_cnn, augment=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(BENCHMARKS), choices=list(BENCHMARKS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="torch CPU thread counts to try"
    )
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    runs = [("cpu", n) for n in args.threads] + ([("cuda", max(args.threads))] if gpu else [])
    rows = []
    for name in args.models:
        for device, threads in runs:
            torch.set_num_threads(threads)
            result = BENCHMARKS[name](device, args.epochs)
            print(f"{name} on {device} ({threads} threads): {result['samples/s']:.0f} samples/s")
            rows.append(result)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    gpu_line = (
        f"GPU: {torch.cuda.get_device_name(0)}"
        if gpu
        else "GPU: none available (torch.cuda.is_available() is False), so CPU figures only"
    )
    text = "\n".join(
        [
            "# Training throughput of the torch models",
            "",
            f"`benchmarks/bench_deep_train.py --epochs {args.epochs}`: "
            "training samples per second of wall time (train rows x epochs / seconds), through "
            "`sauti.ml.deep.loop.fit` with per-epoch dev scoring, early stopping off.",
            "",
            f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, torch "
            f"{torch.__version__}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} "
            f"at the end). {gpu_line}.",
            "",
            table.to_markdown(index=False, floatfmt=".1f"),
            "",
        ]
    )
    write_text(OUT, text)
    print(text)


if __name__ == "__main__":
    main()
