"""Benchmark: does the noisy student beat its teacher? Several settings x split seeds.

    .venv/bin/python benchmarks/bench_selftrain.py [--seeds 42 1 2 3 4] [--rounds 2]

The task of config/examples/demo_selftrain.yaml: gender from eGeMAPS on the demo corpus's
espeak voices. One language's 20 voices are the labelled database, split speaker-independently
with test_size 80 (4 labelled voices, 16 test voices); the other language's 20 voices are the
unlabelled pool. Every (setting, seed) is planned by sauti.workflow.plan like a workflow run, and its
keyed stages are executed in this one process by the stage functions the Snakemake rules call
(sauti.stages, sauti.stages.selftrain), each stage once per key: features are extracted once and a
teacher is shared by the settings that differ only in student rounds. (A Snakemake run pays a
Python start-up per job, 185 jobs here, which on a shared 2-core machine takes most of an hour.) Writes benchmarks/results/selftrain.md and prints it: test
UAR of the teacher (round 0) and of the result round, with pseudo-label accuracy and kept
samples, for each seed.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from sauti.config.resolve import resolve
from sauti.core.fileio import read_json
from sauti.stages import features, labels, samples, selftrain, split
from sauti.stages.selftrain import Rules as SelftrainInputs
from sauti.stages.selftrain import round_stage, vad_stage
from sauti.workflow.plan import plan_experiment
from sauti.workflow.registry import Registry

REPO = Path(__file__).resolve().parents[1]

#: name -> (labelled language, pool language, MODEL, SELFTRAIN overrides)
SETTINGS = {
    "xgb-keep0.25-noise0.1": ("de", "en", {"type": "xgb"}, {"keep": 0.25, "noise": 0.1}),
    "xgb-keep0.25-noise0.1-en": ("en", "de", {"type": "xgb"}, {"keep": 0.25, "noise": 0.1}),
    "xgb-keep0.25-noise0": ("de", "en", {"type": "xgb"}, {"keep": 0.25, "noise": 0.0}),
    "xgb-keep1.0-noise0.1": ("de", "en", {"type": "xgb"}, {"keep": 1.0, "noise": 0.1}),
    "svm-keep1.0-noise0": ("de", "en", {"type": "svm"}, {"keep": 1.0, "noise": 0.0}),
}


def experiment(name: str, seed: int, corpus: str, rounds: int) -> dict:
    labelled, pool, model, overrides = SETTINGS[name]
    return {
        "EXP": {"name": f"{name}-s{seed}", "random_seed": seed},
        "DATA": {
            "databases": ["demo"],
            "demo": {
                "path": corpus,
                "filter": [["source", "espeak"], ["language", labelled]],
                "split_strategy": "speaker_split",
                "test_size": 80,
            },
            "unlabelled": ["pool"],
            "pool": {"path": corpus, "filter": [["source", "espeak"], ["language", pool]]},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["os"]},
        "MODEL": model,
        "EXPL": {"bias": False},
        "SELFTRAIN": {"rounds": rounds, "vad_threshold": 0.1, **overrides},
    }


def execute(registry: Registry, stage) -> None:
    """Run `stage` after its upstream stages, each key once (what Snakemake does for the rules)."""
    out = Path(registry.path(stage.stage, stage.key))
    if out.exists():
        return
    for upstream in stage.upstream:
        execute(registry, upstream)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = lambda s: registry.path(s.stage, s.key)  # noqa: E731
    if stage.stage == "samples":
        samples.samples_stage(stage.params, stage.content, str(out))
    elif stage.stage == "labels":
        labels_input = path(stage.upstream[0])
        labels.labels_stage(labels_input, stage.params, stage.content, str(out))
    elif stage.stage == "split":
        names = [u.params["name"] for u in stage.upstream]
        split.split_stage([path(u) for u in stage.upstream], names, stage.params, str(out))
    elif stage.stage == "features":
        shard = str(out.parent / "shard.parquet")
        features.features_shard_stage(path(stage.upstream[0]), stage.params, 0, 1, shard)
        features.features_merge_stage([shard], path(stage.upstream[0]), str(out))
    elif stage.stage == "vad":
        vad_stage(path(stage.upstream[0]), stage.params, str(out))
    elif stage.stage == "selftrain":
        inputs = SelftrainInputs(registry).round(SimpleNamespace(key=stage.key))
        round_stage(inputs, stage.params, str(out.parent))
    else:
        raise ValueError(f"bench_selftrain cannot run stage {stage.stage}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--corpus", default=str(REPO / "data" / "demo" / "demo.csv"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "selftrain.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sauti-bench-selftrain-") as tmp:
        started = time.perf_counter()
        configs = [
            resolve(experiment(name, seed, args.corpus, args.rounds))
            for name in SETTINGS
            for seed in args.seeds
        ]
        registry = Registry(tmp, [plan_experiment(cfg) for cfg in configs])
        rows = {}
        for plan in registry.plans:
            for stage in plan.selftrain.rounds:
                execute(registry, stage)
            states = [read_json(registry.path("selftrain", s.key)) for s in plan.selftrain.rounds]
            name, seed = plan.name.rsplit("-s", 1)
            rows[(name, int(seed))] = selftrain.summary(states)
        elapsed = time.perf_counter() - started
    lines = [
        "# Noisy self-training on the demo corpus (gender, espeak voices)",
        "",
        f"`benchmarks/bench_selftrain.py`, {platform.node()} ({os.cpu_count()} cores), "
        f"{len(rows)} experiments, {elapsed:.0f} s wall in one process.",
        "Labelled: 4 voices of one language (speaker split, test_size 80: 16 test voices); "
        "unlabelled pool: the 20 voices of the other language (200 clips). No dev split: the "
        f"result is the last of {args.rounds} rounds. UAR on the 160 test clips.",
        "",
        "| setting (labelled de, pool en unless -en) | seed | teacher test UAR | student test UAR per round | change | pseudo acc. kept / all (last round) | kept |",
        "|---|---:|---:|---|---:|---|---:|",
    ]
    wins = {name: 0 for name in SETTINGS}
    for (name, seed), summary in rows.items():
        rounds = summary["rounds"]
        teacher = rounds[0]["test_uar"]
        students = [r["test_uar"] for r in rounds[1:] if r["test_uar"] is not None]
        last = rounds[-1]
        change = summary["change"]["test"]
        wins[name] += bool(change is not None and change > 0)
        lines.append(
            f"| {name} | {seed} | {teacher:.3f} | {', '.join(f'{s:.3f}' for s in students)} | "
            f"{change:+.3f} | {last['pseudo_accuracy_kept']:.3f} / {last['pseudo_accuracy_all']:.3f} | {last['n_kept']} |"
        )
    lines += ["", "| setting | student beats teacher (seeds) | mean change |", "|---|---:|---:|"]
    for name in SETTINGS:
        changes = [rows[(name, s)]["change"]["test"] for s in args.seeds]
        lines.append(
            f"| {name} | {wins[name]} of {len(args.seeds)} | {sum(changes) / len(changes):+.3f} |"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
