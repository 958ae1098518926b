"""Glue between the Snakefile and sauti: config in, keyed stage registry and paths out.

The Snakefile asks this module for everything that depends on the config, so the rule files
stay declarative: a rule's params are `registry.params(stage)` and its inputs are the cache
paths of its upstream keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import ConfigError, load_experiments, read_file
from .plan import ExperimentPlan, Stage, plan_experiment

#: The files each keyed stage writes into its folder (first = the one downstream rules read).
OUTPUTS = {
    "samples": "samples.parquet",
    "features": "features.parquet",
    "split": "split.parquet",
    "train": "predictions.parquet",
    "evaluate": "metrics.json",
}


@dataclass
class Registry:
    root: str
    plans: list[ExperimentPlan]
    stages: dict = field(default_factory=dict)  # (stage, key) -> Stage
    shards: dict = field(default_factory=dict)  # features key -> number of shards

    def __post_init__(self):
        for plan in self.plans:
            for stage in plan.stages():
                self.stages.setdefault((stage.stage, stage.key), stage)
            for stage in plan.features:
                self.shards.setdefault(stage.key, int(plan.config["EXP"]["shards"]))

    # paths -------------------------------------------------------------------------------
    def path(self, stage: str, key: str, name: str | None = None) -> str:
        return f"{self.root}/cache/{stage}/{key}/{name or OUTPUTS[stage]}"

    def stage(self, stage: str, key: str) -> Stage:
        return self.stages[(stage, key)]

    def upstream(self, stage: str, key: str, kind: str) -> list[Stage]:
        return [u for u in self.stage(stage, key).upstream if u.stage == kind]

    def plan(self, name: str) -> ExperimentPlan:
        return next(p for p in self.plans if p.name == name)

    # per-rule helpers -------------------------------------------------------------------
    def params(self, stage: str):
        return lambda w: self.stage(stage, w.key).params

    def samples_input(self, w) -> list[str]:
        params = self.stage("samples", w.key).params
        path = Path(params["path"])
        return (
            [str(path / "db.yaml")]
            if path.is_dir() and (path / "db.yaml").exists()
            else ([str(path)] if path.is_file() else [])
        )

    def feature_shards(self, w) -> list[str]:
        n = self.shards[w.key]
        return [self.path("features", w.key, f"shard-{i}-of-{n}.parquet") for i in range(n)]

    def features_samples(self, w) -> str:
        return self.path("samples", self.upstream("features", w.key, "samples")[0].key)

    def split_samples(self, w) -> list[str]:
        return [self.path("samples", u.key) for u in self.upstream("split", w.key, "samples")]

    def split_names(self, w) -> list[str]:
        return [u.params["name"] for u in self.upstream("split", w.key, "samples")]

    def train_inputs(self, w) -> dict:
        return {
            "split": self.path("split", self.upstream("train", w.key, "split")[0].key),
            "features": [
                self.path("features", u.key) for u in self.upstream("train", w.key, "features")
            ],
        }

    def evaluate_inputs(self, w) -> dict:
        key = self.upstream("evaluate", w.key, "train")[0].key
        return {
            "predictions": self.path("train", key),
            "info": self.path("train", key, "info.json"),
        }

    def report_inputs(self, w) -> dict:
        plan = self.plan(w.name)
        return {
            "split": self.path("split", plan.split.key),
            "predictions": self.path("train", plan.train.key),
            "metrics": self.path("evaluate", plan.evaluate.key),
            "images": self.path("evaluate", plan.evaluate.key, "images.json"),
        }

    def report_params(self, w) -> dict:
        plan = self.plan(w.name)
        keys = {
            s.stage if s.stage not in ("samples", "features") else f"{s.stage} {_label(s)}": s.key
            for s in plan.stages()
        }
        return {"name": plan.name, "config": plan.config, "keys": keys}

    def final_targets(self) -> list[str]:
        return [f"{self.root}/{p.name}/report.html" for p in self.plans]


def _label(stage: Stage) -> str:
    if stage.stage == "samples":
        return stage.params["name"]
    return f"{stage.params['type']} ({stage.upstream[0].params['name']})"


def registry_from_snakemake(config: dict, configfiles) -> Registry:
    """Resolve the Snakemake `config` (one experiment, or `experiments: [files]`) into a Registry."""
    source = str(configfiles[-1]) if configfiles else "config"
    if not config:
        raise ConfigError(
            "no config given", hint="run: snakemake --configfile config/config.yaml -j8"
        )
    plans = [plan_experiment(cfg) for cfg in load_experiments(dict(config), source)]
    roots = {p.root for p in plans}
    if len(roots) > 1:
        raise ConfigError(
            f"{source}: experiments run together must share EXP.root (found {sorted(roots)})"
        )
    for plan in plans:
        if plan.name == "cache":
            raise ConfigError(
                f"{plan.config.get('_source', source)}: [EXP] name 'cache' is reserved (it holds the keyed stages)"
            )
    return Registry(roots.pop(), plans)


def registry_from_files(files: list[str]) -> Registry:
    """The same from experiment files (used by `sauti` and tests)."""
    configs = []
    for f in files:
        raw = read_file(f)
        raw.setdefault("_source", str(f))
        configs.extend(load_experiments(raw, str(f)))
    plans = [plan_experiment(c) for c in configs]
    return Registry(plans[0].root, plans)
