"""Glue between the Snakefile and sauti: config in, keyed stage registry and paths out.

The Snakefile asks this module for everything that depends on the config, so the rule files
stay declarative: a rule's params are `registry.params(stage)` and its inputs are the cache
paths of its upstream keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sauti.config.compose import expand, expand_files
from sauti.config.device import wants_gpu
from sauti.config.read import snakemake_config
from sauti.core.keys import Stage
from sauti.core.model_names import CLASSIFIERS, REGRESSORS
from sauti.ml import scaling
from sauti.ml.features import THREADED_KINDS
from sauti.stages import KEYED, SPECS
from sauti.stages.features import feature_run_options
from sauti.stages.ssl import encoder_input
from sauti.workflow.composite import Composite
from sauti.workflow.plan import ExperimentPlan, plan_experiment

#: The file each keyed stage's downstream rules read from its folder (sauti.core.keys.Keyed).
OUTPUTS = {name: kind.output for name, kind in KEYED.items() if kind.output}
#: Stages whose table is "the data" for the stages after it: the split table, the segments
#: of it (SEGMENT) or either with est_<target> columns (PREDICT); all share the split's columns.
DATA_STAGES = ("split", "separate", "segment", "predict")


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
    rules: dict = field(default_factory=dict, repr=False)  # stage name -> its rule helpers (spec)

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

    def spec(self, name: str):
        """The rule helpers of stage `name` (its StageSpec.rules, bound to this registry): what
        its rule file asks for its inputs and params. Built once per registry."""
        if name not in self.rules:
            self.rules[name] = SPECS[name].rules(self)
        return self.rules[name]

    # paths -------------------------------------------------------------------------------
    def path(self, stage: str, key: str, name: str | None = None) -> str:
        return f"{self.root}/cache/{stage}/{key}/{name or OUTPUTS[stage]}"

    def path_of(self, stage: Stage, name: str | None = None) -> str:
        """The path of a keyed stage's output (its main one, or `name` in its folder)."""
        return self.path(stage.stage, stage.key, name)

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

    def feature_shards(self, w) -> list[str]:
        n = self.shards[w.key]
        return [self.path("features", w.key, f"shard-{i}-of-{n}.parquet") for i in range(n)]

    def extract_inputs(self, w) -> dict:
        """What an extracting features job reads: the samples table, and for spkrec_ssl the
        trained SSL encoder (its stage is the features stage's second upstream)."""
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

    def features_keys(self, in_process: bool) -> str:
        """Wildcard pattern of the features keys whose job runs (not) in Snakemake's process:
        merging shards and extracting the kinds that release the GIL (THREADED_KINDS: openSMILE,
        librosa) run as threads of the workflow's process (rule features): no interpreter start
        and no import of pandas, sauti and openSMILE per database, which was a third of a small
        first run. praat (parselmouth is not thread-safe) and the network kinds (torch, a GPU,
        the deep conda env) keep a process of their own (rule features_process)."""
        return self._key_pattern(
            "features",
            lambda key, found: (
                (self.shards.get(key, 1) > 1 or found.params["type"] in THREADED_KINDS)
                == in_process
            ),
        )

    def _key_pattern(self, stage: str, keep) -> str:
        """Wildcard pattern matching exactly the keys of `stage` for which keep(key, found) holds
        (found: the planned Stage under that key); two rules for one output (in Snakemake's
        process or not) split a stage's keys by it."""
        keys = sorted(
            key for (name, key), found in self.stages.items() if name == stage and keep(key, found)
        )
        return "|".join(keys) or "(?!)"  # (?!): matches nothing

    def features_threads(self, w) -> int:
        """threads of an extracting job: FEATURE_THREADS for the kinds that run in threads
        (sauti.ml.features.THREADED_KINDS; Snakemake lowers it to --cores locally), else 1."""
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

    def train_keys(self, neural: bool) -> str:
        """Wildcard pattern of the train keys whose model is (not) a torch net. Classic models
        train inside Snakemake's process (rule train: its sklearn import is paid once per run,
        and once per session in `sauti watch`); nets keep their own process (rule train_net:
        torch's threads and memory, the deep conda env, a GPU)."""
        classic = CLASSIFIERS + REGRESSORS
        return self._key_pattern(
            "train",
            lambda key, found: (
                ((found.params.get("MODEL") or {}).get("type") not in classic) == neural
            ),
        )

    def final_targets(self) -> list[str]:
        extra = self.composite.targets(self.root) if self.composite is not None else []
        return [f"{self.root}/{p.name}/report.html" for p in self.plans] + extra


def registry_from_snakemake(config: dict, configfiles) -> Registry:
    """Resolve the Snakemake `config` (one experiment, or `experiments: [files]`) into a Registry.

    Every config error comes from the config layer (sauti.config.read: no config, a YTE
    template; sauti.config.compose.expand: each experiment resolved and checked, one EXP.root,
    no experiment named 'cache'); planning is a pure function of what it returns."""
    raw, source = snakemake_config(config, configfiles)
    expansion = expand(raw, source)  # lists, grids, multidb and ensembles too
    plans = [plan_experiment(cfg) for cfg in expansion.configs]
    return Registry(expansion.root(), plans, composite=Composite(expansion, plans))


def registry_from_files(files: list[str]) -> Registry:
    """The same from experiment files (used by `sauti` and tests)."""
    expansion = expand_files(files)
    plans = [plan_experiment(c) for c in expansion.configs]
    return Registry(plans[0].root, plans, composite=Composite(expansion, plans))
