"""The stage plan: which keyed stage instances an experiment needs, and their cache keys.

Why keys: every stage writes under `<root>/cache/<stage>/<key>/`, where `key` is a short hash of
the stage's own config slice (key-sorted), the keys of the stages it reads from, the content
digests of the data it reads directly (sauti.core.digests), the versions of the libraries that make its
values (sauti.core.versions) and its STAGE_VERSIONS number. Changing one config key or data file
therefore changes the keys of exactly the stages that depend on it, Snakemake re-runs only those,
and switching back finds the old folders still there. Experiments that share a slice share the
folder, so one DAG computes it once. The sauti version is no part of a key: a release keeps
every cached result whose stage code it does not change.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from sauti.core.digests import database_content, folder_digest
from sauti.core.versions import stage_libraries

#: Bump a stage's number when its code changes what it writes, to invalidate old caches.
STAGE_VERSIONS = {
    "samples": 3,  # 2: audio only (file, start, end, duration, db, row); 3: cwd-relative CSV entries
    "labels": 2,  # 2: cwd-relative CSV entries (sauti.ml.data._csv_file)
    "features": 1,
    "split": 1,
    "train": 2,  # 2: svm predicts with the decision function (was argmax of Platt probabilities)
    "evaluate": 1,
    "ensemble": 1,
    "optim": 2,  # 2: svm predicts with the decision function (as train 2)
    "resample": 1,
    "test": 1,
    "explore": 2,  # 2: EXPL.shap draws a SHAP summary (was a note)
    "augment": 1,
    "finetune": 1,
    "segment": 1,
    "predict": 1,
    "vad": 1,
    "selftrain": 2,  # 2: svm decision function; proba confidence of the pseudo label
    "ssl_pretrain": 1,
    "ssl_round": 1,
    "ssl_eval": 1,
    "separate_train": 1,
    "separate": 1,
}

#: Per-database options that decide what audio a database holds (the samples stage).
LOAD_OPTIONS = (
    "path",
    "type",
    "audio_path",
    "colnames",
    "files_tables",
    "target_tables",
    "train_tables",
    "dev_tables",
    "test_tables",
)
#: Per-database options that decide the selection and split (the split stage).
SPLIT_OPTIONS = ("split_strategy", "test_size", "dev_size", "mapping", "filter", "balance")
#: FEATS keys that change what each feature type extracts.
FEATURE_OPTIONS = {
    "os": ("set", "level"),
    "praat": (),
    "mfcc": ("n_mfcc",),
    "import": ("import_file",),
    "spectra": ("fft_win_dur", "fft_hop_dur", "fft_nbands", "max_duration"),
    # pretrained embeddings (sauti.ml.features.embeddings): which model, which layer, how pooled
    **{
        k: (f"{k}.model", f"{k}.layer", f"{k}.pooling")
        for k in ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap")
    },
    "spkrec": ("spkrec.model",),
    "spkrec_ssl": (),  # the trained SSL encoder is an upstream stage, so its key is in the key
}
#: Feature kinds whose extractor releases the GIL (openSMILE's C library, librosa's numpy):
#: one features job runs them in `threads` threads, with results equal to one thread (tested).
#: praat is not among them: parselmouth gives different values when called from two threads.
THREADED_KINDS = ("os", "mfcc")
#: A feature type's own code version, in its options: bumping it re-keys that type's caches only
#: (STAGE_VERSIONS["features"] would re-key every type, e.g. hours of embeddings).
FEATURE_VERSIONS = {"praat": 2}  # 2: Nkululeko's praat set, 51 measures (was 18)

#: FEATS keys that change where and how fast a type is extracted, not its values: kept out of
#: the features key (a GPU run reuses CPU results) and given to the shard jobs by the registry.
FEATURE_RUN_OPTIONS = {
    k: (f"{k}.device", f"{k}.batch_size")
    for k in ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap", "spkrec")
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
    # digests of the data files the stage reads itself (sauti.core.digests): in the key, not in params
    content: dict | None = field(default=None, hash=False, compare=False)


def canonical(value) -> str:
    """Key-sorted JSON: equal slices give equal text whatever the key order in the file."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sort_keys(value):
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def make_stage(
    stage: str, params: dict, upstream: tuple = (), content: dict | None = None
) -> Stage:
    """The keyed stage: `content` holds digests of the data files it reads (not config), which
    its job checks again before it writes (sauti.core.digests)."""
    params = sort_keys(params)
    text = canonical(
        {
            "stage": stage,
            "params": params,
            "upstream": [u.key for u in upstream],
            "libraries": stage_libraries(stage, params),
            "stage_version": STAGE_VERSIONS[stage],
            **({"content": content} if content is not None else {}),
        }
    )
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Stage(stage, key, params, tuple(upstream), content)


@dataclass
class ExperimentPlan:
    name: str
    root: str
    config: dict
    samples: dict  # db name -> samples Stage (the audio: what features are computed from)
    features: list  # Stage per (feature type, db), type-major order
    split: Stage
    train: Stage
    evaluate: Stage
    tests: dict = field(
        default_factory=dict
    )  # DATA.tests db name -> test Stage (sauti.stages.test)
    # with AUGMENT.augmentations: augment, its features and the train/evaluate stages without
    # augmentation (train/evaluate above are then the augmented ones); sauti.augment.AugmentPlan
    augmentation: object = None
    explore: Stage | None = None  # EXPL: statistics, bias check, feature plots (sauti.explore)
    segment: Stage | None = None  # SEGMENT: segments of the split table (sauti.segment)
    predict: Stage | None = None  # PREDICT: est_<target> columns (sauti.predict)
    selftrain: object = (
        None  # SELFTRAIN: pool samples/features/vad and rounds (sauti.stages.selftrain)
    )
    separation: object = None  # SEPARATE: rounds, separated table, baseline (sauti.stages.separate)
    ssl: object = None  # SSL: Stage I, the rounds and the evaluation (sauti.stages.ssl)
    labels: dict = field(default_factory=dict)  # db name -> labels Stage (samples + columns)

    @property
    def data(self) -> Stage:
        """The stage whose table later stages read as the data: the segments, else the
        separated voice tracks (SEPARATE.databases), else the split."""
        separated = self.separation.separate if self.separation else None
        return self.segment or separated or self.split

    def stages(self) -> list[Stage]:
        # a test stage's upstream: train, then the test database's samples and features stages
        extra = [u for t in self.tests.values() for u in t.upstream[1:]]
        core = [*self.samples.values(), *self.labels.values(), *self.features, self.split]
        core += [self.train, self.evaluate]
        core += [s for s in (self.segment, self.predict) if s]
        if self.augmentation:
            core += self.augmentation.stages()
        if self.selftrain:
            core += self.selftrain.stages()
        if self.separation:
            core += self.separation.stages()
        if self.ssl:
            core += self.ssl.stages()
        if self.explore:
            core.append(self.explore)
        return [*core, *extra, *self.tests.values()]


def _feature_options(kind: str, feats: dict) -> dict:
    """The FEATS keys that change what feature type `kind` extracts (paths made absolute)."""
    options = {k: feats[k] for k in FEATURE_OPTIONS[kind]}
    if kind in FEATURE_VERSIONS:
        options["version"] = FEATURE_VERSIONS[kind]
    if kind == "import" and options.get("import_file"):
        options["import_file"] = os.path.abspath(options["import_file"])
    model = options.get(f"{kind}.model")
    if model and os.path.isdir(os.path.expanduser(model)):  # a local model folder, not a hub name
        options[f"{kind}.model"] = os.path.abspath(os.path.expanduser(model))
    return options


def feature_stage(kind: str, cfg: dict, source: Stage) -> Stage:
    """The features stage of `kind` for the table of `source` (a database, segments, an
    augmented or a test table). spkrec_ssl also depends on the experiment's last SSL stage
    (Stage I or the last round): its encoder computes the features, so retraining it re-keys
    them."""
    upstream = (source,)
    if kind == "spkrec_ssl":
        from sauti.stages.ssl import encoder_stage

        upstream = (source, encoder_stage(cfg))
    options = _feature_options(kind, cfg["FEATS"])
    model = options.get(f"{kind}.model")
    content = None
    if model and os.path.isdir(model):  # a local model folder: its files' digests are in the key
        content = {"model": folder_digest(cfg["EXP"]["root"], model)}
    return make_stage("features", {"type": kind, **options}, upstream, content)


def feature_run_options(kind: str, feats: dict) -> dict:
    """FEATURE_RUN_OPTIONS of `kind` from a resolved FEATS section, the device checked."""
    from sauti.config.resolve import ConfigError
    from sauti.core.errors import SautiError
    from sauti.ml.deep.device import check_device

    options = {k: feats.get(k) for k in FEATURE_RUN_OPTIONS.get(kind, ())}
    device = f"{kind}.device"
    if options.get(device) is not None:
        try:
            options[device] = check_device(options[device], f"FEATS.{device}")
        except SautiError as err:
            raise ConfigError(str(err)) from err
    return options


def database_stages(name: str, spec: dict, cfg: dict) -> tuple[Stage, Stage]:
    """The samples and labels stages of one database (also DATA.tests and DATA.unlabelled).

    samples: the checked audio, keyed by the load options, the file/start/end columns and every
    audio file's content digest (so features follow what the audio is, not its name or time).
    labels: samples plus the table's other columns, keyed by the samples key and the table's
    digest: a label edit re-keys it (and the split) but never the samples or features.
    """
    data = cfg["DATA"]
    params = {k: spec.get(k) for k in LOAD_OPTIONS}
    params["path"] = os.path.abspath(spec["path"])
    if params["audio_path"]:
        params["audio_path"] = os.path.abspath(params["audio_path"])
    params.update(name=name, check_size=data["check_size"], skip_bad=data["skip_bad"])
    content = database_content(name, params, cfg["EXP"]["root"])
    audio = {k: v for k, v in content.items() if k != "table"}
    samples = make_stage("samples", params, content=audio)
    table = {"table": content["table"]} if "table" in content else content
    return samples, make_stage("labels", params, (samples,), table)


def plan_experiment(cfg: dict) -> ExperimentPlan:
    """Build the keyed stage instances for one resolved experiment config."""
    exp, data, feats = cfg["EXP"], cfg["DATA"], cfg["FEATS"]
    stages = {name: database_stages(name, data[name], cfg) for name in data["databases"]}
    samples = {name: pair[0] for name, pair in stages.items()}
    labels = {name: pair[1] for name, pair in stages.items()}
    features = []
    for kind in feats["type"]:
        for name in data["databases"]:
            features.append(feature_stage(kind, cfg, samples[name]))
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
        tuple(labels.values()),
    )
    from sauti.stages.segment import plan_segment
    from sauti.stages.separate import plan_baseline, plan_separate

    separation = plan_separate(cfg, split)  # None unless SEPARATE.corpus or .pretrained
    source, recordings = (separation and separation.separate) or split, features
    if source is not split:  # features of the voice tracks replace the recordings'
        features = [feature_stage(k, cfg, source) for k in feats["type"]]
    segment = plan_segment(cfg, source)  # None unless SEGMENT.databases
    if segment:  # features of the segments replace the databases' features
        split_table, features = (
            segment,
            [feature_stage(k, cfg, segment) for k in feats["type"]],
        )
    else:
        split_table = source
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
        (split_table, *features),
    )
    if cfg["MODEL"]["type"] == "finetune":  # audio in, no feature tables (sauti.ml.deep.finetune)
        from sauti.ml.deep.finetune import plan_stage

        train, features = plan_stage(cfg, split_table, features)
    evaluate = make_stage(
        "evaluate", {"PLOT": {k: cfg["PLOT"][k] for k in EVAL_PLOT}, "name": exp["name"]}, (train,)
    )
    from sauti.stages.augment import plan_augment

    augmentation = plan_augment(cfg, split_table, train, evaluate)  # None without augmentations
    if augmentation:  # the experiment's model is then the one trained with augmentation
        train, evaluate = augmentation.train, augmentation.evaluate
    from sauti.stages.predict import plan_predict
    from sauti.stages.selftrain import plan_selftrain
    from sauti.stages.ssl import plan_ssl
    from sauti.stages.test import plan_tests

    predict = plan_predict(cfg, split_table)  # None unless PREDICT.targets
    if separation and separation.separate and not augmentation:  # the result without it
        separation.baseline = plan_baseline(train, evaluate, split, recordings)

    return ExperimentPlan(
        exp["name"], exp["root"], cfg, samples, features, split, train, evaluate,
        tests=plan_tests(cfg, train), augmentation=augmentation,
        explore=plan_explore(cfg, predict or split_table, features),
        segment=segment, predict=predict,
        selftrain=plan_selftrain(cfg, split_table, features),
        ssl=plan_ssl(cfg, labels), labels=labels, separation=separation,
    )  # fmt: skip


#: EXPL keys whose work needs the feature tables (the rest needs only the split table).
EXPLORE_FEATURE_KEYS = ("feature_distributions", "scatter", "plot_tree", "shap")
#: EXPL keys that request an explore stage at all.
EXPLORE_KEYS = ("bias", "value_counts", "print_stats", *EXPLORE_FEATURE_KEYS)


def plan_explore(cfg: dict, split: Stage, features: list[Stage]) -> Stage | None:
    """The explore stage when EXPL asks for anything; it reads features only when needed, so
    a FEATS change re-runs it only for feature plots."""
    expl = cfg["EXPL"]
    if not any(expl.get(k) for k in EXPLORE_KEYS):
        return None
    needs_features = any(expl.get(k) for k in EXPLORE_FEATURE_KEYS)
    params = {
        **expl,
        "target": cfg["DATA"]["target"], "type": cfg["EXP"]["type"],
        "random_seed": cfg["EXP"]["random_seed"], "name": cfg["EXP"]["name"],
        "PLOT": {"kind": cfg["PLOT"]["kind"], "format": cfg["PLOT"]["format"]},
        "feature_types": cfg["FEATS"]["type"] if needs_features else [],
    }  # fmt: skip
    return make_stage("explore", params, (split, *(features if needs_features else [])))
