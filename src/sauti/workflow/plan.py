"""The stage plan: which keyed stage instances an experiment needs.

Each stage module plans its own keyed stage(s) (sauti.stages.<stage>, keys: sauti.core.keys);
this module decides their order and which table each reads, and then asks every stage with a
StageSpec.plan (an extension such as uncertainty) whether the experiment wants it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sauti.core.keys import Stage
from sauti.stages import SPECS
from sauti.stages.augment import plan_augment
from sauti.stages.evaluate import plan_evaluate
from sauti.stages.explore import plan_explore
from sauti.stages.features import feature_stage
from sauti.stages.finetune import plan_finetune
from sauti.stages.predict import plan_predict
from sauti.stages.samples import database_stages
from sauti.stages.segment import plan_segment
from sauti.stages.selftrain import plan_selftrain
from sauti.stages.separate import plan_baseline, plan_separate
from sauti.stages.split import plan_split
from sauti.stages.ssl import plan_ssl
from sauti.stages.test import plan_tests
from sauti.stages.train import plan_train


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
    # stage name -> the Stage of an extension (StageSpec.plan): stages that read the results
    extensions: dict = field(default_factory=dict)

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
        return [*core, *extra, *self.tests.values(), *self.extensions.values()]


def plan_experiment(cfg: dict) -> ExperimentPlan:
    """Build the keyed stage instances for one resolved experiment config.

    Each stage module plans its own stage (sauti.stages.<stage>.plan_*); this function only
    decides the order and which table each stage reads: the split, else the separated voice
    tracks (SEPARATE), else their segments (SEGMENT).
    """
    exp, data, feats = cfg["EXP"], cfg["DATA"], cfg["FEATS"]
    stages = {name: database_stages(name, data[name], cfg) for name in data["databases"]}
    samples = {name: pair[0] for name, pair in stages.items()}
    labels = {name: pair[1] for name, pair in stages.items()}
    features = []
    for kind in feats["type"]:
        for name in data["databases"]:
            features.append(feature_stage(kind, cfg, samples[name]))
    split = plan_split(cfg, labels)
    separation = plan_separate(cfg, split)  # None unless SEPARATE.corpus or .pretrained
    source, recordings = (separation and separation.separate) or split, features
    if source is not split:  # features of the voice tracks replace the recordings'
        features = [feature_stage(k, cfg, source) for k in feats["type"]]
    segment = plan_segment(cfg, source)  # None unless SEGMENT.databases
    if segment:  # features of the segments replace the databases' features
        split_table, features = segment, [feature_stage(k, cfg, segment) for k in feats["type"]]
    else:
        split_table = source
    if cfg["MODEL"]["type"] == "finetune":  # audio in, no feature tables
        train, features = plan_finetune(cfg, split_table, features)
    else:
        train = plan_train(cfg, split_table, features)
    evaluate = plan_evaluate(cfg, train)
    augmentation = plan_augment(cfg, split_table, train, evaluate)  # None without augmentations
    if augmentation:  # the experiment's model is then the one trained with augmentation
        train, evaluate = augmentation.train, augmentation.evaluate
    predict = plan_predict(cfg, split_table)  # None unless PREDICT.targets
    if separation and separation.separate and not augmentation:  # the result without it
        separation.baseline = plan_baseline(train, evaluate, split, recordings)

    plan = ExperimentPlan(
        exp["name"], exp["root"], cfg, samples, features, split, train, evaluate,
        tests=plan_tests(cfg, train), augmentation=augmentation,
        explore=plan_explore(cfg, predict or split_table, features),
        segment=segment, predict=predict,
        selftrain=plan_selftrain(cfg, split_table, features),
        ssl=plan_ssl(cfg, labels), labels=labels, separation=separation,
    )  # fmt: skip
    for spec in SPECS.values():  # the stages that read this experiment's results, if asked for
        stage = spec.plan(cfg, plan) if spec.plan else None
        if stage is not None:
            plan.extensions[spec.name] = stage
    return plan
