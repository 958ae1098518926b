"""SSL speaker embeddings on the whole demo corpus: EER per stage against the references.

Runs the same stage functions as the workflow (sauti.stages.ssl: Stage I, the rounds, the
evaluation) with the SSL settings of an experiment file (default:
config/examples/demo_ssl_speaker.yaml), once per seed, and writes
benchmarks/results/ssl_speaker.md: EER of the untrained encoder, Stage I and every round on
the held-out speakers' trials, resemblyzer's EER on the same trials, purity/NMI of the pseudo
labels, and the wall time of each stage.

    .venv/bin/python benchmarks/bench_ssl_speaker.py [--config FILE] [--seeds 42 43] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sauti.config.read import read_file  # noqa: E402
from sauti.config.resolve import resolve  # noqa: E402
from sauti.stages.ssl import eval_stage, pretrain_stage, round_stage  # noqa: E402
from sauti.workflow.plan import plan_experiment  # noqa: E402


def samples_table(cfg: dict, folder: Path) -> list[str]:
    """Each database's CSV as the samples stage's table (file, start, end, speaker, db)."""
    paths = []
    for name in cfg["DATA"]["databases"]:
        csv = Path(cfg["DATA"][name]["path"])
        table = pd.read_csv(csv)
        table["file"] = [str((csv.parent / f).resolve()) for f in table["file"]]
        table["start"], table["end"], table["db"] = 0.0, float("nan"), name
        path = folder / f"{name}.parquet"
        table.to_parquet(path, index=False)
        paths.append(str(path))
    return paths


def run(config: Path, seed: int, threads: int) -> dict:
    raw = read_file(config)
    raw.setdefault("SSL", {})["seed"] = seed
    cfg = resolve(raw, str(config))
    plan = plan_experiment(cfg).ssl
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        samples, times = samples_table(cfg, tmp), {}
        start = time.time()
        pretrain_stage(samples, plan.pretrain.params, tmp / "pretrain", threads)
        times["stage I"] = time.time() - start
        previous, rounds = tmp / "pretrain", []
        for stage in plan.rounds:
            start, out = time.time(), tmp / f"round{stage.params['round']}"
            round_stage(str(tmp / "pretrain/utterances.parquet"), str(previous / "encoders.pt"),
                        stage.params, out, threads)  # fmt: skip
            times[f"round {stage.params['round']}"] = time.time() - start
            previous = out
            rounds.append(out)
        start = time.time()
        eval_stage(
            str(tmp / "pretrain/utterances.parquet"),
            [str(p / "encoders.pt") for p in [tmp / "pretrain", *rounds]],
            [str(p / "round.json") for p in rounds],
            plan.evaluate.params,
            tmp / "eval",
            threads,
        )
        times["evaluation"] = time.time() - start
        result = json.loads((tmp / "eval/ssl.json").read_text())
    return {"seed": seed, "result": result, "times": times}


def markdown(runs: list[dict], config: Path) -> str:
    lines = [
        f"# SSL speaker embeddings: {config.stem}",
        "",
        f"`benchmarks/bench_ssl_speaker.py --config {config.relative_to(REPO)}`: EER on trials "
        "among held-out speakers (lower is better); the encoder never saw their audio.",
        "",
        "| seed | untrained | stage I | "
        + " | ".join(f"round {r}" for r in range(1, len(runs[0]["result"]["rows"])))
        + " | resemblyzer | purity / NMI (last) | trials (same / diff.) | wall time (s) |",
        "|---|" + "---:|" * (len(runs[0]["result"]["rows"]) + 2) + "---|---|---:|",
    ]
    for item in runs:
        res, refs = item["result"], item["result"]["references"]
        last = res["rows"][-1]
        eers = " | ".join(f"{100 * row['eer']:.1f} %" for row in res["rows"])
        reference = refs.get("resemblyzer (pretrained)")
        lines.append(
            f"| {item['seed']} | {100 * refs['untrained encoder']:.1f} % | {eers} | "
            + (f"{100 * reference:.1f} %" if reference is not None else "n/a")
            + f" | {last['purity']:.2f} / {last['nmi']:.2f} | {res['trials']['target']} / "
            f"{res['trials']['nontarget']} | {sum(item['times'].values()):.0f} |"
        )
    stages = [[r["result"]["references"]["untrained encoder"]] for r in runs]
    for stage, item in zip(stages, runs, strict=True):
        stage += [row["eer"] for row in item["result"]["rows"]]
    means = [100 * sum(column) / len(column) for column in zip(*stages, strict=True)]
    references = [r["result"]["references"].get("resemblyzer (pretrained)") for r in runs]
    reference = (
        f"{100 * sum(references) / len(references):.1f} %" if None not in references else "n/a"
    )
    lines.append(
        "| **mean** | "
        + " | ".join(f"**{m:.1f} %**" for m in means)
        + f" | **{reference}** | | | |"
    )
    lines += ["", "Held-out speakers per seed:", ""]
    lines += [f"- {r['seed']}: {', '.join(r['result']['held_out_speakers'])}" for r in runs]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=REPO / "config/examples/demo_ssl_speaker.yaml"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/ssl_speaker.md")
    args = parser.parse_args()
    runs = [run(args.config.resolve(), seed, args.threads) for seed in args.seeds]
    text = markdown(runs, args.config.resolve())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
