"""The evaluate stage: metrics for test (and dev), per-run spread, folds, per speaker; the plots.

Keyed by the PLOT keys that change its figures and the experiment name; runs inside Snakemake's
process (plots with matplotlib's object API, so two evaluate jobs may draw at once).
"""

from __future__ import annotations

from pathlib import Path

from sauti.core.fileio import read_json, read_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.stages.base import StageSpec

EVALUATE = Keyed(
    "evaluate", 1, "metrics.json", ("ml/evaluation.py", "ml/metrics.py", "ml/plots.py")
)


EVAL_PLOT = ("format", "ccc", "combine_per_speaker", "title")


def plan_evaluate(cfg: dict, train: Stage) -> Stage:
    """The evaluate stage of a train (or finetune) stage: only PLOT keys and the name."""
    plot = {k: cfg["PLOT"][k] for k in EVAL_PLOT}
    return make_stage(EVALUATE, {"PLOT": plot, "name": cfg["EXP"]["name"]}, (train,))


def evaluate_stage(predictions_path: str, info_path: str, params: dict, out_dir: str) -> None:
    """Metrics for test (and dev), per-run spread, CV folds, per-speaker results; the plots."""
    from sauti.ml import evaluation  # heavy: matplotlib

    evaluation.evaluate(
        read_table(predictions_path),
        read_json(info_path),
        params,
        Path(out_dir),
        train_dir=Path(info_path).parent,  # neural models' training curves live there
    )


class Rules:
    """What workflow/rules/evaluate.smk asks the registry (REG.spec("evaluate"))."""

    def __init__(self, registry):
        self.registry = registry

    def inputs(self, w) -> dict:
        model = self.registry.stage("evaluate", w.key).upstream[0]  # a train or finetune stage
        return {
            "predictions": self.registry.path_of(model),
            "info": self.registry.path_of(model, "info.json"),
        }


SPEC = StageSpec("evaluate", (EVALUATE,), rules=Rules)
