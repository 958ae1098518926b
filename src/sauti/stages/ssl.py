"""Self-supervised speaker representation as keyed stages (the SSL config section).

The stages, each in `<root>/cache/<stage>/<key>/` (the method is in `sauti.ml.deep.ssl`):

* `ssl_pretrain` (Stage I): the utterances of every database of the experiment (its samples
  tables; labels are not used) minus the held-out speakers; contrastive pre-training. Keyed by
  the encoder and Stage I settings + the samples keys.
* `ssl_round` (Stage II), one stage per round: cluster -> pseudo labels -> AAM training. Round
  r's key = its settings + round r-1's key (round 1's: Stage I's), so raising SSL.rounds adds
  stages and reuses every earlier one.
* `ssl_eval`: speaker-verification EER of Stage I and every round on trials among the held-out
  speakers, next to an untrained encoder and resemblyzer (pretrained reference); purity and NMI
  of the pseudo labels against the true speakers.

This module imports no torch at import time (the Snakefile plans with it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.config.device import wants_gpu
from sauti.core.audio import read
from sauti.core.errors import SautiError
from sauti.core.fileio import copy_file, read_json, read_table, write_json, write_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.core.progress import bar as progress_bar
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import resolve_device, seed_everything
from sauti.ml.deep.speaker_embeddings import embed_resemblyzer
from sauti.ml.deep.ssl.encoder import build_encoder, embed, load_encoders, save_encoders
from sauti.ml.deep.ssl.evaluate import build_trials, plot_rounds, verification
from sauti.ml.deep.ssl.settings import SSLSettings
from sauti.stages.base import StageSpec
from sauti.stages.samples import database_stages

log = logging.getLogger("sauti.ssl")

#: SSL keys that shape Stage I (the encoder architecture included).
PRETRAIN_KEYS = (
    "segment_duration", "channels", "attention_channels", "embedding_dim", "n_mels",
    "batch_size", "epochs", "temperature", "learning_rate", "noise_snr_db", "test_speakers",
    "co_meta", "device",
)  # fmt: skip
#: SSL keys that shape one Stage II round.
ROUND_KEYS = (
    "clusters", "round_epochs", "margin", "scale", "learning_rate", "batch_size",
    "segment_duration", "round_segment_duration", "noise_snr_db", "co_meta", "device",
)  # fmt: skip

_SSL_SOURCES = ("stages/ssl.py", "ml/deep/ssl/")
SSL_PRETRAIN = Keyed("ssl_pretrain", 1, None, _SSL_SOURCES)
SSL_ROUND = Keyed("ssl_round", 1, None, _SSL_SOURCES)
SSL_EVAL = Keyed("ssl_eval", 1, None, _SSL_SOURCES)


#: Extra keys of a round with co_meta (the second view is fixed by Stage I's key).
CO_META_KEYS = ("tau", "e_k", "meta_learning_rate")
EVAL_KEYS = ("trials_per_speaker", "reference", "device")

ENCODERS = "encoders.pt"


@dataclass
class SSLPlan:
    pretrain: Stage
    rounds: list
    evaluate: Stage

    def stages(self) -> list:
        return [self.pretrain, *self.rounds, self.evaluate]


def plan_ssl(cfg: dict, samples: dict) -> SSLPlan | None:
    """The SSL stages of an experiment (None unless SSL.enabled); `samples` = db -> Stage."""
    section = cfg["SSL"]
    if not section["enabled"]:
        return None
    seed = section["seed"] if section["seed"] is not None else cfg["EXP"]["random_seed"]
    pretrain = make_stage(
        SSL_PRETRAIN,
        {
            **{k: section[k] for k in PRETRAIN_KEYS},
            "view2": section["view2"] if section["co_meta"] else None,
            "seed": seed,
        },
        tuple(samples.values()),
    )
    rounds, previous = [], pretrain
    for number in range(1, int(section["rounds"]) + 1):
        extra = {k: section[k] for k in CO_META_KEYS} if section["co_meta"] else {}
        previous = make_stage(
            SSL_ROUND,
            {"round": number, **{k: section[k] for k in ROUND_KEYS}, **extra, "seed": seed},
            (previous,),
        )
        rounds.append(previous)
    evaluate = make_stage(
        SSL_EVAL,
        {**{k: section[k] for k in EVAL_KEYS}, "clusters": section["clusters"], "seed": seed},
        (pretrain, *rounds),
    )
    return SSLPlan(pretrain, rounds, evaluate)


def encoder_stage(cfg: dict):
    """The stage whose `encoders.pt` FEATS.type spkrec_ssl embeds with: the last round, or
    Stage I with `rounds: 0`. The SSL section is on: sauti.config.sections.ssl refuses its
    users otherwise."""
    data = cfg["DATA"]
    labels = {name: database_stages(name, data[name], cfg)[1] for name in data["databases"]}
    plan = plan_ssl(cfg, labels)
    assert plan is not None, "config.sections.ssl checks SSL.enabled for the encoder's users"
    return plan.rounds[-1] if plan.rounds else plan.pretrain


def encoder_input(registry, stage) -> dict:
    """{"encoders": file} for a stage that embeds with the SSL encoder (an upstream made by
    encoder_stage: spkrec_ssl features, PREDICT speaker_embedding ssl), else {}."""
    for up in stage.upstream:
        if up.stage in ("ssl_pretrain", "ssl_round"):
            return {"encoders": registry.path(up.stage, up.key, "encoders.pt")}
    return {}


class Rules:
    """Inputs, params and resources of the ssl_* rules (workflow/rules/ssl.smk), from the
    Snakefile's Registry."""

    def __init__(self, registry):
        self.reg = registry

    def params(self, stage: str):
        return lambda w: self.reg.stage(stage, w.key).params

    def gpu(self, stage: str):
        """1 when the stage's SSL.device asks for a GPU, else 0 (no GPU requested)."""
        return lambda w: int(wants_gpu(self.reg.stage(stage, w.key).params["device"]))

    def _pretrain_of(self, stage: Stage) -> Stage:
        while stage.stage != "ssl_pretrain":
            stage = stage.upstream[0]
        return stage

    def pretrain_inputs(self, w) -> dict:
        ups = self.reg.stage("ssl_pretrain", w.key).upstream
        return {"samples": [self.reg.path("labels", u.key) for u in ups]}

    def round_inputs(self, w) -> dict:
        stage = self.reg.stage("ssl_round", w.key)
        previous = stage.upstream[0]
        pretrain = self._pretrain_of(stage)
        return {
            "encoders": self.reg.path(previous.stage, previous.key, ENCODERS),
            "utterances": self.reg.path("ssl_pretrain", pretrain.key, "utterances.parquet"),
        }

    def eval_inputs(self, w) -> dict:
        ups = self.reg.stage("ssl_eval", w.key).upstream
        return {
            "utterances": self.reg.path("ssl_pretrain", ups[0].key, "utterances.parquet"),
            "encoders": [self.reg.path(u.stage, u.key, ENCODERS) for u in ups],
            "rounds": [self.reg.path(u.stage, u.key, "round.json") for u in ups[1:]],
        }

    def results_input(self, w) -> str:
        """ssl_results: the experiment's evaluation manifest."""
        return self.reg.path("ssl_eval", self.reg.plan(w.name).ssl.evaluate.key, "ssl.json")


# --------------------------------------------------------------------------- data


def choose_test_speakers(speakers: pd.Series, test_speakers: float, seed: int) -> list[str]:
    """The held-out speakers: a seeded draw among speakers with 2+ utterances (a verification
    trial needs two); `test_speakers` < 1 is a share of all speakers, >= 1 a count."""
    known = speakers.dropna().astype(str)
    if known.empty:
        raise SautiError(
            "SSL needs a speaker column to hold out speakers for the verification test",
            hint="add a 'speaker' column to the database CSV",
        )
    counts = known.value_counts()
    candidates = sorted(counts[counts >= 2].index)
    value = float(test_speakers)
    wanted = int(round(value * counts.size)) if value < 1 else int(value)
    wanted = max(2, wanted)
    if wanted > len(candidates) or counts.size - wanted < 2:
        raise SautiError(
            f"SSL.test_speakers = {test_speakers} asks for {wanted} held-out speakers, but "
            f"{len(candidates)} of {counts.size} speakers have 2+ utterances",
            hint="lower SSL.test_speakers or add speakers (2 must stay for training)",
        )
    rng = np.random.default_rng(int(seed))
    return sorted(str(s) for s in rng.choice(candidates, size=wanted, replace=False))


def utterance_table(samples_paths: list[str], params: dict) -> pd.DataFrame:
    """All databases' samples (file, start, end, speaker, db) with role train or test."""
    parts = []
    for path in samples_paths:
        table = read_table(path)
        if "speaker" not in table.columns:
            table["speaker"] = None
        parts.append(table[["file", "start", "end", "speaker", "db"]])
    table = pd.concat(parts, ignore_index=True)
    held_out = choose_test_speakers(table["speaker"], params["test_speakers"], params["seed"])
    test = table["speaker"].astype(str).isin(held_out) & table["speaker"].notna()
    table["role"] = np.where(test, "test", "train")
    log.info(
        "SSL: %d training utterances, %d held-out utterances of %d speakers",
        int((~test).sum()), int(test.sum()), len(held_out),
    )  # fmt: skip
    return table


def load_signals(table: pd.DataFrame, progress: bool = True) -> list:
    rows = table[["file", "start", "end"]].itertuples(index=False)
    return [
        read(f, s, e)
        for f, s, e in progress_bar(rows, total=len(table), desc="read audio", disable=not progress)
    ]


def set_threads(threads: int) -> None:
    """torch's CPU threads = the job's threads. torch's default (all cores) slows a job on a
    shared machine by an order of magnitude when other jobs hold the cores."""
    require_torch("SSL").set_num_threads(max(1, int(threads)))


def _settings(params: dict):
    return SSLSettings.from_params(params)


# --------------------------------------------------------------------------- stages


def pretrain_stage(samples_paths: list[str], params: dict, out_dir, threads: int = 1) -> None:
    """Stage I: the utterance table, contrastive pre-training, encoders.pt + history.csv."""
    from sauti.ml.deep.ssl.pretrain import pretrain  # heavy: torch

    out = Path(out_dir)
    set_threads(threads)
    table = utterance_table(samples_paths, params)
    settings = _settings(params)
    signals = load_signals(table[table["role"] == "train"], settings.progress)
    encoders, history = pretrain(signals, settings)
    write_table(out / "utterances.parquet", table)
    write_table(out / "history.csv", history)
    save_encoders(out / ENCODERS, encoders, {"stage": "ssl_pretrain", "params": params})


def round_stage(
    utterances_path: str, encoders_path: str, params: dict, out_dir, threads: int = 1
) -> None:
    """One Stage II round: pseudo labels with the previous encoders, then AAM training."""
    from sauti.ml.deep.ssl.rounds import (
        cluster_quality,
        embed_views,
        pseudo_labels,
        train_round,
    )  # heavy: torch

    out = Path(out_dir)
    set_threads(threads)
    table = read_table(utterances_path)
    train = table[table["role"] == "train"].reset_index(drop=True)
    settings = _settings(params)
    signals = load_signals(train, settings.progress)
    encoders = load_encoders(encoders_path)
    views = embed_views(encoders, signals, settings)
    labels = pseudo_labels(views, settings)
    quality = cluster_quality(labels, train["speaker"])
    log.info("round %d pseudo labels: %s", params["round"], quality or "no true speakers")
    round_no = int(params["round"])
    encoders, history = train_round(encoders, signals, views, labels, settings, round_no)
    write_table(out / "pseudo_labels.parquet", train.assign(pseudo=labels))
    write_table(out / "history.csv", history)
    summary = {
        "round": round_no,
        "clusters": int(labels.max()) + 1,
        "n_train": len(train),
        **quality,
        "final_loss": float(history["loss"].iloc[-1]),
        "pseudo_accuracy": float(history["accuracy"].iloc[-1]),
    }
    write_json(out / "round.json", summary)
    save_encoders(out / ENCODERS, encoders, {"stage": "ssl_round", "params": params})


def eval_stage(
    utterances_path: str,
    encoder_paths: list[str],
    round_paths: list[str],
    params: dict,
    out_dir,
    threads: int = 1,
) -> None:
    """EER per stage on held-out speakers; the references; clustering quality; table + plot."""
    from sauti.ml.deep.ssl.rounds import cluster_quality, embed_views, pseudo_labels  # heavy: torch

    out = Path(out_dir)
    set_threads(threads)
    settings = _settings(params)
    device = resolve_device(settings.device, "SSL.device")
    table = read_table(utterances_path)
    test = table[table["role"] == "test"].reset_index(drop=True)
    train = table[table["role"] == "train"].reset_index(drop=True)
    trials = build_trials(test["speaker"], params["trials_per_speaker"], params["seed"])
    signals = load_signals(test, settings.progress)
    stages = [load_encoders(p) for p in encoder_paths]
    seed_everything(int(params["seed"]))  # the same start as Stage I's first encoder
    untrained = build_encoder(stages[0][0].spec)
    references = {"untrained encoder": verification(embed(untrained, signals, device), trials)}
    if params["reference"]:
        references["resemblyzer (pretrained)"] = verification(
            embed_resemblyzer(signals, str(device)), trials
        )
    # pseudo-label quality of each stage's encoder = the clustering the *next* round trained on;
    # the last encoder's clustering is made here
    rounds = [read_json(p) for p in round_paths]
    quality = [{k: r.get(k) for k in ("purity", "nmi")} for r in rounds]
    last = pseudo_labels(
        embed_views(stages[-1], load_signals(train, settings.progress), settings), settings
    )
    quality.append(cluster_quality(last, train["speaker"]))
    rows = []
    for number, encoders in enumerate(stages):
        rows.append(
            {
                "round": number,
                "stage": "stage I" if number == 0 else f"round {number}",
                "eer": verification(embed(encoders[0], signals, device), trials),
                "purity": quality[number].get("purity"),
                "nmi": quality[number].get("nmi"),
                "pseudo_accuracy": rounds[number - 1]["pseudo_accuracy"] if number else None,
            }
        )
    frame = pd.DataFrame(rows)
    for label, value in references.items():
        log.info("EER %s: %.4f", label, value)
    log.info("EER per stage: %s", dict(zip(frame["stage"], frame["eer"].round(4), strict=True)))
    write_table(out / "ssl_rounds.csv", frame)
    plot_rounds(frame, out / "ssl_eer.png", references)
    write_json(
        out / "ssl.json",
        {
            "rows": rows,
            "references": references,
            "trials": {
                "target": int(trials["target"].sum()),
                "nontarget": int((trials["target"] == 0).sum()),
            },
            "held_out_speakers": sorted(test["speaker"].astype(str).unique()),
            "n_train": len(train),
            "n_test": len(test),
            "table": "ssl_rounds.csv",
            "image": "ssl_eer.png",
        },
    )


def publish(manifest_path: str, outputs: dict) -> None:
    """Rule ssl_results: copy the evaluation's manifest, table and plot to `<root>/<name>/ssl/`."""
    source = Path(manifest_path).parent
    manifest = read_json(manifest_path)
    copy_file(source / manifest["table"], outputs["table"])
    copy_file(source / manifest["image"], outputs["plot"])
    write_json(outputs["summary"], manifest)


def _fmt(value) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"
    )


def report_section(summary_path: str) -> dict:
    """The report's SSL section (sauti.stages.report's generic section: note, table, images)."""
    result = read_json(summary_path)
    refs = result["references"]
    rows = [
        [
            row["stage"],
            f"{100 * row['eer']:.1f} %",
            _fmt(row.get("purity")),
            _fmt(row.get("nmi")),
            _fmt(row.get("pseudo_accuracy")),
        ]
        for row in result["rows"]
    ]
    rows += [[label, f"{100 * value:.1f} %", "", "", ""] for label, value in refs.items()]
    trials = result["trials"]
    note = (
        f"Speaker verification on {len(result['held_out_speakers'])} held-out speakers "
        f"({result['n_test']} utterances; {trials['target']} same-speaker and "
        f"{trials['nontarget']} different-speaker trials, cosine scores); the encoder trained on "
        f"{result['n_train']} utterances of the other speakers without their labels. Purity and "
        f"NMI: k-means pseudo labels made with that stage's encoder (what the next round trains "
        f"on) against the true speakers; pseudo acc.: the round's final training accuracy on "
        f"its pseudo labels."
    )
    return {
        "id": "ssl",
        "title": "Self-supervised speaker embeddings",
        "note": note,
        "table": {
            "caption": "EER per stage (lower is better) and the references",
            "header": ["stage", "EER", "purity", "NMI", "pseudo acc."],
            "rows": rows,
        },
        "images": [
            {
                "path": str(Path(summary_path).parent / result["image"]),
                "caption": "EER per SSL stage; dashed: untrained encoder and pretrained reference",
            }
        ],
    }


SPEC = StageSpec("ssl", (SSL_PRETRAIN, SSL_ROUND, SSL_EVAL), rules=Rules)
