"""A trained experiment's model, found from its experiment file and exported as a bundle folder.

Why in the app layer: finding the model means computing the experiment's keys exactly as
`sauti run` does (sauti.workflow.registry); loading and predicting with a bundle is
sauti.ml.bundle, which needs no workflow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sauti import __version__
from sauti.config.resolve import to_yaml
from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.fileio import write_json, write_text
from sauti.ml.bundle import BUNDLE_FILE, SPEC_FILE, load_bundle
from sauti.workflow.registry import registry_from_files


def experiment_bundle(config_file: str | Path) -> Path:
    """The model.joblib of the experiment in `config_file` (its train stage's cache folder).

    The key is computed from the config exactly as `sauti run` does, so this finds the model of
    the CURRENT config: after a MODEL change it is "not trained yet" until the run is repeated.
    """
    return _trained(config_file)[1]


def _trained(config_file: str | Path):
    """(the experiment's plan, its model.joblib), planned once for both callers."""
    registry = registry_from_files([str(config_file)])
    plan = registry.plans[0]
    path = Path(registry.path_of(plan.train, BUNDLE_FILE))  # train or finetune
    if not path.is_file():
        raise SautiError(
            f"experiment {plan.name} has not been trained yet (no {path})",
            hint=f"run: sauti run {config_file}",
        )
    return plan, path


def export_bundle(config_file: str | Path, dest: str | Path) -> Path:
    """Write a self-contained bundle folder for the experiment in `config_file`.

    The folder holds model.joblib (scaler, model, labels, feature spec), a human-readable
    spec.json, the resolved config.yaml and a README.txt; `sauti demo --bundle DIR` needs
    nothing else. It is assembled in a temporary sibling and renamed into place, so a failed
    export never leaves a half-written folder that looks usable.
    """
    plan, model_file = _trained(config_file)
    bundle = load_bundle(model_file)
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise SautiError(
            f"{dest} already exists and is not empty", hint="choose a new folder for --to"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
    try:
        shutil.copy2(model_file, tmp / BUNDLE_FILE)
        if bundle.get("finetune"):  # the fine-tuned checkpoint the bundle points to
            checkpoint = Path(bundle["finetune"]["checkpoint"])
            shutil.copytree(checkpoint, tmp / checkpoint.name)
        spec = bundle_spec(bundle, plan.name, plan.train.key, plan.config)
        write_json(tmp / SPEC_FILE, spec)
        config = {k: v for k, v in plan.config.items() if k != "_source"}
        write_text(tmp / "config.yaml", to_yaml(config))
        write_text(tmp / "README.txt", _readme(spec, dest.name))
        os.chmod(tmp, 0o777 & ~_umask())
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def bundle_spec(bundle: dict, name: str, train_key: str, config: dict) -> dict:
    """What a person (or another program) needs to know about a bundle without unpickling it."""
    return {
        "experiment": name,
        "sauti_version": __version__,
        "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_key": train_key,
        "target": bundle["target"],
        "type": bundle["type"],
        "labels": bundle["labels"],
        "model": config["MODEL"]["type"],
        "scale": bundle["scaler"].kind if bundle["scaler"] is not None else "none",
        "seed": bundle.get("seed"),
        "feature_types": bundle["feature_types"],
        "feature_options": bundle["feature_options"],
        "feature_columns": bundle["feature_columns"],
        "sample_rate": audio.SAMPLE_RATE,
    }


def _readme(spec: dict, folder: str) -> str:
    labels = ", ".join(spec["labels"]) if spec["labels"] else "(a number)"
    if not spec["feature_types"]:  # MODEL.type finetune: the checkpoint reads the audio itself
        spec = {**spec, "feature_types": ["raw audio, fine-tuned transformer in checkpoint/"]}
    return f"""sauti model bundle: {spec["experiment"]}
{"=" * (20 + len(spec["experiment"]))}

Predicts '{spec["target"]}' ({spec["type"]}; labels: {labels}) from speech.
Model: {spec["model"]}; features: {" + ".join(spec["feature_types"])} ({len(spec["feature_columns"])} columns);
scaling: {spec["scale"]}. Exported by sauti {spec["sauti_version"]} on {spec["exported"]}.

Use it (needs sauti installed, not the original experiment folder):

    sauti demo --bundle {folder} --file speech.wav
    sauti demo --bundle {folder} --folder recordings/ --outfile predictions.csv
    sauti demo --bundle {folder} --serve          # a local web page to upload a wav

or from Python:

    from sauti.ml.bundle import load_bundle, predict
    predict(load_bundle("{folder}"), ["speech.wav"])

Files:
    model.joblib   the fitted scaler and model, labels and feature spec (a Python pickle:
                   only load bundles you trust)
    spec.json      the same facts as text: feature types, options and columns, labels, target
    config.yaml    the experiment's resolved configuration
    README.txt     this file

Audio is read as 16 kHz mono; whole files are predicted as one sample.
"""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
