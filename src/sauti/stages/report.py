"""The report stage: collect one experiment's results and write its HTML report (and PDF).

Runs inside Snakemake's process (rule report, sauti.workflow.jobs). What the page shows and how
it looks is sauti.ml.report_view (HTML) and sauti.ml.latex (REPORT.latex); this module gathers
the inputs: metrics, predictions, images, drops, provenance and the sections of optional stages.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from pathlib import Path

from sauti import __version__
from sauti.config.resolve import to_yaml
from sauti.core.fileio import (
    publish_images,
    read_json,
    read_table,
    write_json,
    write_table,
    write_text,
)
from sauti.core.keys import Stage
from sauti.core.provenance import record
from sauti.ml.data import summary as data_summary
from sauti.ml.drops import FILE as DROPS_FILE
from sauti.ml.drops import collect as collect_drops
from sauti.ml.latex import render_latex
from sauti.ml.report_view import render_report
from sauti.stages.augment import publish_comparison
from sauti.stages.base import StageSpec
from sauti.stages.predict import publish as publish_predictions
from sauti.stages.segment import publish
from sauti.stages.selftrain import report_section
from sauti.stages.separate import headline_comparison
from sauti.stages.separate import report_inputs as separation_report_inputs
from sauti.stages.separate import report_section as separation_section
from sauti.stages.ssl import report_section as ssl_section
from sauti.stages.test import published_results

log = logging.getLogger("sauti")


def report_stage(
    inputs: dict, params: dict, outputs: dict, extension_sections: dict | None = None
) -> None:
    """Collect the user-facing results of one experiment and write its HTML report.

    `extension_sections`: stage name -> its StageSpec.report_section, for the extensions the
    experiment has (params["extensions"]); the workflow passes them, this module cannot list
    the stages (sauti.stages imports it)."""
    eval_dir = Path(inputs["metrics"]).parent
    metrics = read_json(inputs["metrics"])
    images = read_json(inputs["images"])
    exp_dir = Path(outputs["report"]).parent
    image_dir = exp_dir / "images"
    if image_dir.exists():
        shutil.rmtree(image_dir)
    copied = publish_images(images, eval_dir, image_dir)
    predictions = read_table(inputs["predictions"])
    first_run = predictions[predictions["run"] == 0].drop(columns=["run"])
    # the contract's column order: file, start, end, speaker, truth, prediction, proba_*, split
    first_run = first_run[[c for c in first_run.columns if c != "split"] + ["split"]]
    write_table(outputs["predictions"], first_run)
    if "metrics_without" in inputs:  # aug_train: add the result without augmentation
        metrics = publish_comparison(inputs, params["config"], metrics, exp_dir)
    if "selftrain" in inputs:  # SELFTRAIN: the rounds beside the ordinary model's result
        metrics["selftrain"] = read_json(inputs["selftrain"])

    metrics["provenance"] = record(params.get("inputs") or {})  # environment, code and data
    write_json(outputs["metrics"], metrics)

    write_text(outputs["config"], to_yaml(params["config"]))
    data = read_table(inputs["split"])
    classification = metrics["type"] == "classification"
    # what the experiment's stages left out (sauti.ml.drops); `sauti run` prints this file's lines
    drops = collect_drops(exp_dir.parent, params["keys"])
    write_json(exp_dir / DROPS_FILE, [asdict(d) for d in drops])
    context = {
        "name": params["name"],
        "version": __version__,
        "config": params["config"],
        "metrics": metrics,
        "data_summary": data_summary(data, metrics["target"], classification),
        "drops": drops,
        "images": copied,
        "keys": params["keys"],
        "provenance": metrics["provenance"],
        "model_type": params["config"]["MODEL"]["type"],
        "feature_types": params["config"]["FEATS"]["type"],
        "title": params["config"]["REPORT"].get("title"),
        "author": params["config"]["REPORT"].get("author"),
        "tests": published_results(inputs.get("tests")),
        "explore": _publish_explore(inputs.get("explore"), image_dir / "explore"),
        "sections": _publish_sections(inputs, params["config"], exp_dir)
        + [section(inputs[name]) for name, section in (extension_sections or {}).items()],
    }
    render_report(context, outputs["report"])
    latex = params["config"]["REPORT"].get("latex")
    if latex:  # REPORT.latex: the same content as a PDF (sauti.ml.latex)
        render_latex(context, exp_dir / f"{latex}.pdf")


def _publish_explore(manifest_path: str | None, image_dir: Path) -> dict | None:
    """Copy the explore figures next to the report; return the manifest with their new paths."""
    if not manifest_path:
        return None
    manifest = read_json(manifest_path)
    manifest["images"] = publish_images(manifest["images"], Path(manifest_path).parent, image_dir)
    return manifest


def _publish_sections(inputs: dict, config: dict, exp_dir: Path) -> list[dict]:
    """Report sections of the optional data stages (SEGMENT, PREDICT), their tables published."""
    sections = []
    if "segment" in inputs:
        sections.append(publish(inputs["segment_manifest"], inputs["segment"], exp_dir,
                                config["SEGMENT"]["segment_target"]))  # fmt: skip
    if "predict" in inputs:
        sections.append(publish_predictions(inputs["predict_manifest"], inputs["predict"], exp_dir))
    if "selftrain" in inputs:  # SELFTRAIN: the rounds table and plot (rule selftrain_results)
        sections.append(report_section(inputs["selftrain"]))
    if any(
        k in inputs for k in ("separation", "separate_manifest")
    ):  # SEPARATE (sauti.stages.separate)
        compare = (
            headline_comparison(inputs["metrics"], inputs["separate_without"])
            if "separate_without" in inputs
            else None
        )
        sections.append(separation_section(inputs.get("separation"), inputs.get("separate_manifest"), compare))  # fmt: skip
    if "ssl" in inputs:  # SSL: EER per round and the references (rule ssl_results)
        sections.append(ssl_section(inputs["ssl"]))
    return sections


class Rules:
    """What workflow/rules/report.smk asks the registry (REG.spec("report")): everything an
    experiment's report shows, from its plan (sauti.workflow.plan.ExperimentPlan)."""

    def __init__(self, registry):
        self.registry = registry

    def inputs(self, w) -> dict:
        reg = self.registry
        plan = reg.plan(w.name)
        folder = f"{reg.root}/{plan.name}"
        return {
            "split": reg.path_of(plan.data),
            "predictions": reg.path_of(plan.train),  # train or finetune
            "metrics": reg.path_of(plan.evaluate),
            "images": reg.path_of(plan.evaluate, "images.json"),
            **({"explore": reg.path_of(plan.explore)} if plan.explore else {}),
            # SEGMENT / PREDICT: their tables and manifests, published next to the report
            **{
                f"{stage.stage}{suffix}": reg.path_of(stage, name)
                for stage in (plan.segment, plan.predict)
                if stage
                for suffix, name in (("", None), ("_manifest", f"{stage.stage}.json"))
            },
            # DATA.tests: the published results of each extra test database (rule test_results)
            **(
                {"tests": [f"{folder}/tests/{db}/metrics.json" for db in plan.tests]}
                if plan.tests
                else {}
            ),
            # SELFTRAIN: the per-round table published by rule selftrain_results
            **({"selftrain": f"{folder}/selftrain/selftrain.json"} if plan.selftrain else {}),
            # SEPARATE: the rounds' SDR (rule separate_results), the separated table's manifest
            # and the result without separation
            **separation_report_inputs(reg, plan),
            # SSL: the per-round EER table published by rule ssl_results
            **({"ssl": f"{folder}/ssl/ssl.json"} if plan.ssl else {}),
            # extensions (StageSpec.plan): each one's output, shown as a section of its own
            **{name: reg.path_of(stage) for name, stage in plan.extensions.items()},
            # aug_train: the same experiment's result without augmentation, for the comparison
            **(
                {
                    "metrics_without": reg.path_of(plan.augmentation.baseline_evaluate),
                    "augment": reg.path_of(plan.augmentation.augment),
                }
                if plan.augmentation
                else {}
            ),
        }

    def params(self, w) -> dict:
        plan = self.registry.plan(w.name)
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
        return {
            "name": plan.name,
            "config": plan.config,
            "keys": keys,
            "inputs": _inputs(plan),
            "extensions": list(plan.extensions),
        }


#: Stages with several instances per experiment: the report's key list names each by _label.
LABELLED_STAGES = (
    "samples", "labels", "features", "test", "vad", "selftrain", "ssl_round", "separate_train",
)  # fmt: skip


def _inputs(plan) -> dict:
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


SPEC = StageSpec("report", rules=Rules)
