"""Glue between the Snakefile and sauti: config in, keyed stage registry and paths out.

The Snakefile asks this module for everything that depends on the config, so the rule files
stay declarative: a rule's params are `registry.params(stage)` and its inputs are the cache
paths of its upstream keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sauti.config.compose import expand, expand_files
from sauti.config.resolve import ConfigError
from sauti.core.model_names import CLASSIFIERS, REGRESSORS
from sauti.ml import scaling
from sauti.stages.separate import report_inputs as separation_report_inputs
from sauti.workflow.composite import Composite
from sauti.workflow.plan import (
    THREADED_KINDS,
    ExperimentPlan,
    Stage,
    feature_run_options,
    plan_experiment,
)

#: The files each keyed stage writes into its folder (first = the one downstream rules read).
OUTPUTS = {
    "samples": "samples.parquet",
    "labels": "labels.parquet",
    "features": "features.parquet",
    "split": "split.parquet",
    "train": "predictions.parquet",
    "evaluate": "metrics.json",
    "augment": "samples.parquet",
    "explore": "explore.json",
    "finetune": "predictions.parquet",
    "segment": "segments.parquet",
    "predict": "predicted.parquet",
    "vad": "speech.parquet",
    "selftrain": "round.json",
    "separate_train": "round.json",
    "separate": "separated.parquet",
}
#: Stages whose table is "the data" for the stages after it: the split table, the segments
#: of it (SEGMENT) or either with est_<target> columns (PREDICT); all share the split's columns.
DATA_STAGES = ("split", "separate", "segment", "predict")
#: Stages with several instances per experiment: the report's key list names each by _label.
LABELLED_STAGES = (
    "samples", "labels", "features", "test", "vad", "selftrain", "ssl_round", "separate_train",
)  # fmt: skip


@dataclass
class Registry:
    root: str
    plans: list[ExperimentPlan]
    stages: dict = field(default_factory=dict)  # (stage, key) -> Stage
    shards: dict = field(default_factory=dict)  # features key -> number of shards
    rows: dict = field(default_factory=dict)  # samples key -> rows counted (auto shards, runtime)
    # features key -> unkeyed run options (device, batch_size; sauti.workflow.plan.FEATURE_RUN_OPTIONS)
    feature_run: dict = field(default_factory=dict)
    composite: object = None  # sauti.workflow.composite.Composite: ensembles, grids, multidb, optim

    def __post_init__(self):
        for plan in self.plans:
            for stage in plan.stages():
                self._register(stage)
            for stage in (s for s in plan.stages() if s.stage == "features"):
                self.feature_run.setdefault(
                    stage.key, feature_run_options(stage.params["type"], plan.config["FEATS"])
                )
                if stage.key not in self.shards:
                    setting = plan.config["EXP"]["shards"]
                    self.shards[stage.key] = (
                        scaling.auto_shards(
                            self.count_rows(stage.upstream[0]),
                            threaded=stage.params["type"] in THREADED_KINDS,
                        )
                        if setting == "auto"
                        else int(setting)
                    )
        if self.composite is not None:
            self.composite.attach(self)

    def _register(self, stage: Stage) -> None:
        """Register a stage and, once, everything it reads from (so a rule finds every stage
        an input function names, also those a plan does not list itself)."""
        if (stage.stage, stage.key) in self.stages:
            return
        self.stages[(stage.stage, stage.key)] = stage
        for upstream in stage.upstream:
            self._register(upstream)

    # paths -------------------------------------------------------------------------------
    def path(self, stage: str, key: str, name: str | None = None) -> str:
        return f"{self.root}/cache/{stage}/{key}/{name or OUTPUTS[stage]}"

    def stage(self, stage: str, key: str) -> Stage:
        return self.stages[(stage, key)]

    def upstream(self, stage: str, key: str, kind: str) -> list[Stage]:
        return [u for u in self.stage(stage, key).upstream if u.stage == kind]

    def data_upstream(self, stage: str, key: str) -> Stage:
        """The data table (split, segment or predict stage) that a stage reads."""
        return next(u for u in self.stage(stage, key).upstream if u.stage in DATA_STAGES)

    def plan(self, name: str) -> ExperimentPlan:
        return next(p for p in self.plans if p.name == name)

    # per-rule helpers -------------------------------------------------------------------
    def params(self, stage: str):
        return lambda w: self.stage(stage, w.key).params

    def content(self, stage: str):
        """A rule's `content` param: the digests its job checks the data against before it
        writes (sauti.core.digests). The raw data files are no rule inputs: Snakemake would judge
        them by their time, while their content digests are in the key."""
        return lambda w: self.stage(stage, w.key).content

    def labels_samples(self, w) -> str:
        return self.path("samples", self.stage("labels", w.key).upstream[0].key)

    def feature_shards(self, w) -> list[str]:
        n = self.shards[w.key]
        return [self.path("features", w.key, f"shard-{i}-of-{n}.parquet") for i in range(n)]

    def extract_inputs(self, w) -> dict:
        """What an extracting features job reads: the samples table, and for spkrec_ssl the
        trained SSL encoder (its stage is the features stage's second upstream)."""
        from sauti.stages.ssl import encoder_input

        return {
            "samples": self.features_samples(w),
            **encoder_input(self, self.stage("features", w.key)),
        }

    def features_inputs(self, w) -> dict:
        """The features rule's inputs: the shard files to merge when the database has more
        than one shard, else what it extracts from (sauti.workflow.registry.Registry.extract_inputs)."""
        if self.shards[w.key] > 1:
            return {"samples": self.features_samples(w), "shards": self.feature_shards(w)}
        return self.extract_inputs(w)

    def extracts(self, w) -> bool:
        """Whether this features/features_shard job extracts (False for a merge job)."""
        return hasattr(w, "shard") or self.shards[w.key] == 1

    def features_threads(self, w) -> int:
        """threads of an extracting job: FEATURE_THREADS for the kinds that run in threads
        (sauti.workflow.plan.THREADED_KINDS; Snakemake lowers it to --cores locally), else 1."""
        kind = self.stage("features", w.key).params["type"]
        return scaling.FEATURE_THREADS if self.extracts(w) and kind in THREADED_KINDS else 1

    def features_run(self, w) -> dict:
        """Device and batch size of a features job: not in its key, so that a GPU run and a CPU
        run share the cache (the first experiment naming the key decides). The rule passes them
        as resources, not params: a params change would make Snakemake re-run the job."""
        return self.feature_run.get(w.key, {})

    def features_device(self, w) -> str:
        """resources device: the `<type>.device` of an embedding features job ("cpu" otherwise)."""
        kind = self.stage("features", w.key).params["type"]
        return str(self.features_run(w).get(f"{kind}.device") or "cpu")

    def features_batch_size(self, w) -> int:
        """resources batch_size: the `<type>.batch_size` of an embedding features job (else 0)."""
        kind = self.stage("features", w.key).params["type"]
        return int(self.features_run(w).get(f"{kind}.batch_size") or 0)

    def features_gpu(self, w) -> int:
        """resources gpu: 1 only for feature jobs whose `<type>.device` asks for a GPU."""
        from sauti.config.device import wants_gpu  # torch-free

        kind = self.stage("features", w.key).params["type"]
        device = self.features_run(w).get(f"{kind}.device") or "cpu"
        return int(self.extracts(w) and wants_gpu(device))

    # cluster resources (sauti.ml.scaling) -------------------------------------------------
    def count_rows(self, stage: Stage) -> int | None:
        """Rows of the table a features stage reads, without reading audio: a database's rows
        (counted once per samples key), or for a derived table (augment) the rows of the
        databases it comes from times its copies: an upper bound, but fixed by the config,
        which is what a shard count needs. None when nothing can be counted."""
        if stage.stage == "samples":
            if stage.key not in self.rows:
                self.rows[stage.key] = scaling.count_rows(stage.params)
            return self.rows[stage.key]
        counts = [
            self.count_rows(u) for u in stage.upstream if u.stage in ("samples", "labels", "split")
        ]
        known = [c for c in counts if c is not None]
        return sum(known) * int(stage.params.get("copies") or 1) if known else None

    def mem_mb(self, rule: str):
        """mem_mb for `rule`'s jobs: grows with the size of their input files and with the
        attempt, so `--retries` resubmits a job killed for memory with twice as much."""

        def mem_mb(wildcards, input, attempt):
            extracting = rule == "features" and self.extracts(wildcards)
            return scaling.mem_mb("features_shard" if extracting else rule, input.size_mb, attempt)

        return mem_mb

    def gpu(self, stage: str, section: str = "MODEL"):
        """The `gpu` resource (0 or 1) of `stage`'s jobs: 1 only when `<section>.device` in the
        stage's params asks for a GPU (sauti.config.device.wants_gpu; auto counts), so CPU jobs never
        wait for or hold a GPU slot, and a cluster profile can route gpu jobs to a GPU partition."""

        def gpu(wildcards):
            from sauti.config.device import wants_gpu  # torch-free

            device = (self.stage(stage, wildcards.key).params.get(section) or {}).get("device")
            return int(wants_gpu(device or "cpu"))

        return gpu

    def runtime(self, rule: str):
        """runtime (minutes) for `rule`'s jobs; shard jobs get time per sample they extract."""

        def runtime(wildcards, attempt):
            if rule.startswith("features") and self.extracts(wildcards):
                source = self.stage("features", wildcards.key).upstream[0]
                samples = -(-(self.count_rows(source) or 0) // self.shards[wildcards.key])
                return scaling.runtime("features_shard", samples, attempt)
            return scaling.runtime(rule, 0, attempt)

        return runtime

    def features_samples(self, w) -> str:
        source = self.stage("features", w.key).upstream[0]  # a database's or an augment table
        return self.path(source.stage, source.key)

    def split_samples(self, w) -> list[str]:
        return [self.path("labels", u.key) for u in self.upstream("split", w.key, "labels")]

    def split_names(self, w) -> list[str]:
        return [u.params["name"] for u in self.upstream("split", w.key, "labels")]

    def train_inputs(self, w) -> dict:
        augment = self.upstream("train", w.key, "augment")  # aug_train (sauti.augment)
        return {
            "split": self.path(*_where(self.data_upstream("train", w.key))),
            "features": [
                self.path("features", u.key) for u in self.upstream("train", w.key, "features")
            ],
            **({"augment": self.path("augment", augment[0].key)} if augment else {}),
        }

    def train_keys(self, neural: bool) -> str:
        """Wildcard pattern of the train keys whose model is (not) a torch net. Classic models
        train inside Snakemake's process (rule train: its sklearn import is paid once per run,
        and once per session in `sauti watch`); nets keep their own process (rule train_net:
        torch's threads and memory, the deep conda env, a GPU)."""
        classic = CLASSIFIERS + REGRESSORS
        keys = sorted(
            key
            for (stage, key), found in self.stages.items()
            if stage == "train"
            and ((found.params.get("MODEL") or {}).get("type") not in classic) == neural
        )
        return "|".join(keys) or "(?!)"  # (?!): matches nothing

    def explore_inputs(self, w) -> dict:
        upstream = self.stage("explore", w.key).upstream
        return {
            "split": self.path(upstream[0].stage, upstream[0].key),
            "features": [self.path("features", u.key) for u in upstream[1:]],
        }

    def augment_split(self, w) -> str:
        return self.path(*_where(self.data_upstream("augment", w.key)))

    def evaluate_inputs(self, w) -> dict:
        model = self.stage("evaluate", w.key).upstream[0]  # a train or finetune stage
        return {
            "predictions": self.path(*_where(model)),
            "info": self.path(*_where(model), "info.json"),
        }

    def finetune_split(self, w) -> str:
        return self.path(*_where(self.data_upstream("finetune", w.key)))

    def report_inputs(self, w) -> dict:
        plan = self.plan(w.name)
        return {
            "split": self.path(plan.data.stage, plan.data.key),
            "predictions": self.path(*_where(plan.train)),  # train or finetune
            "metrics": self.path("evaluate", plan.evaluate.key),
            "images": self.path("evaluate", plan.evaluate.key, "images.json"),
            **({"explore": self.path("explore", plan.explore.key)} if plan.explore else {}),
            # SEGMENT / PREDICT: their tables and manifests, published next to the report
            **{
                f"{stage.stage}{suffix}": self.path(stage.stage, stage.key, name)
                for stage in (plan.segment, plan.predict)
                if stage
                for suffix, name in (("", None), ("_manifest", f"{stage.stage}.json"))
            },
            # DATA.tests: the published results of each extra test database (rule test_results)
            **({"tests": self.test_results(plan)} if plan.tests else {}),
            # SELFTRAIN: the per-round table published by rule selftrain_results
            **(
                {"selftrain": f"{self.root}/{plan.name}/selftrain/selftrain.json"}
                if plan.selftrain
                else {}
            ),
            # SEPARATE: the rounds' SDR (rule separate_results), the separated table's manifest
            # and the result without separation
            **separation_report_inputs(self, plan),
            # SSL: the per-round EER table published by rule ssl_results
            **({"ssl": f"{self.root}/{plan.name}/ssl/ssl.json"} if plan.ssl else {}),
            # aug_train: the same experiment's result without augmentation, for the comparison
            **(
                {
                    "metrics_without": self.path(
                        "evaluate", plan.augmentation.baseline_evaluate.key
                    ),
                    "augment": self.path("augment", plan.augmentation.augment.key),
                }
                if plan.augmentation
                else {}
            ),
        }

    def test_results(self, plan: ExperimentPlan) -> list[str]:
        return [f"{self.root}/{plan.name}/tests/{db}/metrics.json" for db in plan.tests]

    def report_params(self, w) -> dict:
        plan = self.plan(w.name)
        keys = {
            s.stage if s.stage not in LABELLED_STAGES else f"{s.stage} {_label(s)}": s.key
            for s in plan.stages()
            if not (plan.augmentation and s in plan.augmentation.baseline())
            and not (plan.separation and s in plan.separation.baseline)
        }
        if plan.separation:
            baseline = plan.separation.baseline
            keys.update({f"{s.stage} (without separation)": s.key for s in baseline})
        if plan.augmentation:
            keys.update(
                {f"{s.stage} (without augmentation)": s.key for s in plan.augmentation.baseline()}
            )
        return {"name": plan.name, "config": plan.config, "keys": keys, "inputs": _inputs(plan)}

    def final_targets(self) -> list[str]:
        extra = self.composite.targets(self.root) if self.composite is not None else []
        return [f"{self.root}/{p.name}/report.html" for p in self.plans] + extra


def _inputs(plan: ExperimentPlan) -> dict:
    """{database: path and content digests} of every database the experiment reads (also
    DATA.tests and DATA.unlabelled): the report records them (sauti.core.provenance)."""
    found, seen, todo = {}, set(), list(plan.stages())
    while todo:
        stage = todo.pop()
        if (stage.stage, stage.key) in seen:
            continue
        seen.add((stage.stage, stage.key))
        if stage.stage in ("samples", "labels"):
            entry = found.setdefault(stage.params["name"], {"path": stage.params["path"]})
            entry.update(stage.content or {})
        todo += stage.upstream
    return {name: dict(sorted(found[name].items())) for name in sorted(found)}


def _where(stage: Stage) -> tuple[str, str]:
    return stage.stage, stage.key


def _label(stage: Stage) -> str:
    if stage.stage in ("samples", "labels", "test"):
        return stage.params["name"]
    if stage.stage in ("selftrain", "ssl_round", "separate_train"):
        return f"round {stage.params['round']}"
    if stage.stage == "vad":
        return stage.upstream[0].params["name"]
    source = stage.upstream[0]
    what = {"augment": "augmented", "segment": "segmented", "separate": "separated"}
    what = what.get(source.stage)
    return f"{stage.params['type']} ({what or source.params['name']})"


def registry_from_snakemake(config: dict, configfiles) -> Registry:
    """Resolve the Snakemake `config` (one experiment, or `experiments: [files]`) into a Registry."""
    source = str(configfiles[-1]) if configfiles else "config"
    for path in configfiles or []:
        refuse_template(path)
    if not config:
        raise ConfigError(
            "no config given", hint="run: snakemake --configfile config/config.yaml -j8"
        )
    expansion = expand(dict(config), source)  # lists, grids, multidb and ensembles too
    plans = [plan_experiment(cfg) for cfg in expansion.configs]
    roots = {p.root for p in plans} | expansion.roots()
    if len(roots) > 1:
        raise ConfigError(
            f"{source}: experiments run together must share EXP.root (found {sorted(roots)})"
        )
    for plan in plans:
        if plan.name == "cache":
            raise ConfigError(
                f"{plan.config.get('_source', source)}: [EXP] name 'cache' is reserved (it holds the keyed stages)"
            )
    return Registry(roots.pop(), plans, composite=Composite(expansion, plans))


def refuse_template(path) -> None:
    """Stop when a config file is a YTE template (`__use_yte__: true`). Snakemake evaluates such
    a file's expressions as Python while it loads it, before sauti sees the config (the key is
    gone by then, so the file is read again here); `sauti run` refuses them the same way. An
    experiment file must be data: one from someone else must never run code."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
        if "__use_yte__" not in text:
            return
        loaded = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return
    if isinstance(loaded, dict) and loaded.get("__use_yte__"):
        raise ConfigError(
            f"{path}: __use_yte__ makes this file a YTE template, whose expressions Snakemake "
            "ran as Python code",
            hint="write plain values (sauti's lists, grids and ensembles expand experiments)",
        )


def registry_from_files(files: list[str]) -> Registry:
    """The same from experiment files (used by `sauti` and tests)."""
    expansion = expand_files(files)
    plans = [plan_experiment(c) for c in expansion.configs]
    return Registry(plans[0].root, plans, composite=Composite(expansion, plans))
