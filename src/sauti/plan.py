"""The stage plan: which keyed stage instances an experiment needs, and their cache keys.

Why keys: every stage writes under `<root>/cache/<stage>/<key>/`, where `key` is a short hash of
the stage's own config slice (key-sorted), the keys of the stages it reads from and the sauti
version. Changing one config key therefore changes the keys of exactly the stages that depend on
it, Snakemake re-runs only those, and switching back finds the old folders still there.
Experiments that share a slice share the folder, so one DAG computes it once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from . import __version__

#: Bump a stage's number when its code changes what it writes, to invalidate old caches.
STAGE_VERSIONS = {"samples": 1, "features": 1, "split": 1, "train": 1, "evaluate": 1}

#: Per-database options that decide what audio a database holds (the samples stage).
LOAD_OPTIONS = ("path", "type", "audio_path", "colnames", "files_tables", "target_tables")
#: Per-database options that decide the selection and split (the split stage).
SPLIT_OPTIONS = ("split_strategy", "test_size", "dev_size", "mapping", "filter", "balance")
#: FEATS keys that change what each feature type extracts.
FEATURE_OPTIONS = {
    "os": ("set", "level"),
    "praat": (),
    "mfcc": ("n_mfcc",),
    "import": ("import_file",),
}
#: EXP/FEATS keys that the train stage depends on besides MODEL.
TRAIN_EXP = ("type", "runs", "epochs", "random_seed")
TRAIN_FEATS = ("scale", "balancing")
EVAL_PLOT = ("format", "ccc", "combine_per_speaker", "title")


@dataclass(frozen=True)
class Stage:
    stage: str
    key: str
    params: dict = field(hash=False, compare=False)
    upstream: tuple = ()


def canonical(value) -> str:
    """Key-sorted JSON: equal slices give equal text whatever the key order in the file."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sort_keys(value):
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def make_stage(stage: str, params: dict, upstream: tuple = ()) -> Stage:
    params = sort_keys(params)
    text = canonical(
        {
            "stage": stage,
            "params": params,
            "upstream": [u.key for u in upstream],
            "version": __version__,
            "stage_version": STAGE_VERSIONS[stage],
        }
    )
    return Stage(stage, hashlib.sha256(text.encode()).hexdigest()[:12], params, tuple(upstream))


@dataclass
class ExperimentPlan:
    name: str
    root: str
    config: dict
    samples: dict  # db name -> Stage
    features: list  # Stage per (feature type, db), type-major order
    split: Stage
    train: Stage
    evaluate: Stage

    def stages(self) -> list[Stage]:
        return [*self.samples.values(), *self.features, self.split, self.train, self.evaluate]


def _feature_options(kind: str, feats: dict) -> dict:
    """The FEATS keys that change what feature type `kind` extracts (paths made absolute)."""
    options = {k: feats[k] for k in FEATURE_OPTIONS[kind]}
    if kind == "import" and options.get("import_file"):
        options["import_file"] = os.path.abspath(options["import_file"])
    return options


def plan_experiment(cfg: dict) -> ExperimentPlan:
    """Build the keyed stage instances for one resolved experiment config."""
    exp, data, feats = cfg["EXP"], cfg["DATA"], cfg["FEATS"]
    samples = {}
    for name in data["databases"]:
        spec = data[name]
        params = {k: spec.get(k) for k in LOAD_OPTIONS}
        params["path"] = os.path.abspath(spec["path"])
        if params["audio_path"]:
            params["audio_path"] = os.path.abspath(params["audio_path"])
        params.update(name=name, check_size=data["check_size"], skip_bad=data["skip_bad"])
        samples[name] = make_stage("samples", params)
    features = []
    for kind in feats["type"]:
        options = _feature_options(kind, feats)
        for name in data["databases"]:
            features.append(make_stage("features", {"type": kind, **options}, (samples[name],)))
    split = make_stage(
        "split",
        {
            "target": data["target"],
            "labels": data["labels"],
            "type": exp["type"],
            "min_length": data["min_length"],
            "max_length": data["max_length"],
            "samples_per_speaker": data["samples_per_speaker"],
            "random_seed": exp["random_seed"],
            "traindevtest": exp["traindevtest"],
            "databases": {n: {k: data[n].get(k) for k in SPLIT_OPTIONS} for n in data["databases"]},
        },
        tuple(samples.values()),
    )
    train = make_stage(
        "train",
        {
            "MODEL": cfg["MODEL"],
            **{k: exp[k] for k in TRAIN_EXP},
            **{k: feats[k] for k in TRAIN_FEATS},
            "target": data["target"],
            "feature_types": feats["type"],
            # what inference needs to extract the same features from new audio
            "feature_options": {k: _feature_options(k, feats) for k in feats["type"]},
        },
        (split, *features),
    )
    evaluate = make_stage(
        "evaluate", {"PLOT": {k: cfg["PLOT"][k] for k in EVAL_PLOT}, "name": exp["name"]}, (train,)
    )
    return ExperimentPlan(exp["name"], exp["root"], cfg, samples, features, split, train, evaluate)
