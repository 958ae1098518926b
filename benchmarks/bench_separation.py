"""Benchmark: does noisy self-training improve the voice separator? SDR per round, 3 seeds.

    .venv/bin/python benchmarks/bench_separation.py [--seeds 1 2 3] [--rounds 2] [--steps 150]

The corpus of resources/demo/build_separation_corpus.sh (built into data/separation if
missing): 4-s mixtures of real speech (the demo corpus's real speakers, spoken sentences) over
Debian game music and coloured noise at -5 to 10 dB SNR, speakers and background pieces
disjoint between train (labelled pairs), unlabelled (mixtures only) and test. Per seed: the
teacher (round 0), then `rounds` student rounds with the VAD filter and, from the same teacher,
`rounds` student rounds without it (every unlabelled clip kept). Every model is scored on the
test mixtures (unseen speakers and music) with BSS-eval SDR and SI-SDR; the mixture's own SDR
is the floor. The rounds run through sauti.stages.separate.run_round, the function the
separate_train rule calls, in this one process on one CPU thread (torch.set_num_threads(1)).
Writes benchmarks/results/separation.md: the per-round table of every seed, the mean over
seeds, and CPU figures (training steps/s, real-time factor of separating the test mixtures).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core.fileio import write_text

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "separation"


def settings(args, seed: int) -> dict:
    """SEPARATE's defaults (config.schema.yaml) with the benchmark's steps and seed."""
    from sauti.config.schema import schema

    spec = schema()["properties"]["SEPARATE"]["properties"]
    params = {k: v["default"] for k, v in spec.items() if "default" in v}
    params.update(steps=args.steps, seed=seed)
    return params


def run_seed(corpus: dict, args, seed: int) -> list[dict]:
    from sauti.stages.separate import run_round

    params = settings(args, seed)
    rows = []
    teacher = run_round(corpus, {**params, "round": 0})
    rows.append({"seed": seed, "filter": "–", **teacher["state"]})
    for use_filter in (True, False):
        model = teacher["net"]
        for r in range(1, args.rounds + 1):
            result = run_round(corpus, {**params, "round": r, "vad_filter": use_filter}, model)
            model = result["net"]
            rows.append({"seed": seed, "filter": "VAD" if use_filter else "none", **result["state"]})  # fmt: skip
            print(f"seed {seed} round {r} filter {use_filter}: SDR {result['state']['sdr']:.2f}", flush=True)  # fmt: skip
    return rows


def start(name: str) -> str:
    """pymdownx.snippets section markers: docs/separate.md includes the sections setup, mean,
    gain and cpu by name, so no figure there is retyped."""
    return f"<!-- --8<-- [start:{name}] -->"


def end(name: str) -> str:
    return f"<!-- --8<-- [end:{name}] -->"


def markdown(table: pd.DataFrame) -> str:
    def cell(value):
        if isinstance(value, float):
            return "–" if np.isnan(value) else f"{value:.2f}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=120)  # 3 seeds in ~15 CPU minutes
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/separation.md")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if not (CORPUS / ".complete").exists():
        script = REPO / "resources/demo/build_separation_corpus.sh"
        subprocess.run(["bash", str(script), str(CORPUS)], check=True)
    from sauti.stages.separate import load_corpus

    corpus = load_corpus(str(CORPUS / "separation.csv"))
    started, cpu = time.perf_counter(), time.process_time()
    rows = [row for seed in args.seeds for row in run_seed(corpus, args, seed)]
    minutes, cpu_minutes = (time.perf_counter() - started) / 60, (time.process_time() - cpu) / 60
    table = pd.DataFrame(rows)
    table["model"] = [f"{m} ({p} params)" for m, p in zip(table["model"], table["parameters"], strict=True)]  # fmt: skip
    columns = ["seed", "round", "filter", "model", "n_kept", "mixture_sdr", "sdr", "si_sdr", "steps_per_s", "rtf"]  # fmt: skip
    per_seed = table[columns].rename(columns={"n_kept": "kept", "mixture_sdr": "mixture SDR", "sdr": "SDR", "si_sdr": "SI-SDR", "steps_per_s": "steps/s", "rtf": "RTF"})  # fmt: skip
    per_seed["kept"] = [("–" if pd.isna(k) else f"{int(k)}/{int(n)}") for k, n in zip(table["n_kept"], table["n_pool"], strict=True)]  # fmt: skip
    mean = (
        table.groupby(["round", "filter"], sort=False)[["mixture_sdr", "sdr", "si_sdr"]]
        .agg(["mean", "std"])
        .reset_index()
    )
    mean.columns = ["round", "filter", "mixture SDR", "sd", "SDR", "SDR sd", "SI-SDR", "SI-SDR sd"]  # fmt: skip
    mean = mean.drop(columns=["sd"])
    teacher = table[table["round"] == 0].set_index("seed")["sdr"]
    lines = [
        "# Voice/background separation: noisy self-training (SEPARATE)",
        "",
        f"`{' '.join(['python benchmarks/bench_separation.py', '--seeds', *map(str, args.seeds), '--rounds', str(args.rounds), '--steps', str(args.steps)])}`",  # fmt: skip
        "",
        start("setup"),
        f"Corpus: {len(corpus['train'])} labelled pairs, {len(corpus['unlabelled'])} unlabelled "
        f"mixtures, {len(corpus['test'])} test mixtures (unseen speakers and backgrounds), 4 s "
        "each at -5 to 10 dB SNR. Teacher: U-Net 4 channels x 3 levels; students: 6 x 3, "
        f"trained from scratch with remixing; {args.steps} steps of 8 x 1.5-s crops per model. "
        "SDR / SI-SDR in dB on the test mixtures (BSS-eval v4 SDR and SI-SDR, fast_bss_eval).",
        "",
        end("setup"),
        "",
        "## Mean over seeds",
        "",
        start("mean"),
        markdown(mean),
        end("mean"),
        "",
        "## Student minus teacher (SDR, dB)",
        "",
        start("gain"),
    ]
    for use in ("VAD", "none"):
        for r in range(1, args.rounds + 1):
            part = table[(table["round"] == r) & (table["filter"] == use)].set_index("seed")["sdr"]
            diff = part - teacher
            lines.append(
                f"- round {r}, filter {use}: {diff.mean():+.2f} dB "
                f"(per seed: {', '.join(f'{d:+.2f}' for d in diff)})"
            )
    lines += [
        "",
        end("gain"),
        "",
        "## Per seed and round",
        "",
        markdown(per_seed),
        "## CPU figures",
        "",
        start("cpu"),
        f"One thread (torch.set_num_threads(1)) on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work (load average at the end: "
        f"{os.getloadavg()[0]:.1f}); all seeds took {cpu_minutes:.1f} CPU minutes ({minutes:.1f} min "
        f"on the clock). Training steps/s: teacher "
        f"{table[table['round'] == 0]['steps_per_s'].mean():.2f}, students "
        f"{table[table['round'] > 0]['steps_per_s'].mean():.2f}. Real-time factor of separating "
        f"the test mixtures: teacher {table[table['round'] == 0]['rtf'].mean():.3f}, students "
        f"{table[table['round'] > 0]['rtf'].mean():.3f} (seconds of compute per second of audio).",
        "No GPU was lent to this session, so there is no GPU timing.",
        "",
        end("cpu"),
    ]
    text = "\n".join(lines) + "\n"
    write_text(args.out, text)  # atomic, parent folders made
    print(text)


if __name__ == "__main__":
    main()
