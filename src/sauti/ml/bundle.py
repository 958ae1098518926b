"""Using a trained model: load its bundle, and predict new audio with the training-time pipeline.

Why this module exists: Nkululeko's first complaint from users is that a trained model is hard
to use, and its predictor was wrong in three ways (defect 3): it failed for openSMILE features,
used only the first of several feature sets, and skipped the scaler for extra test sets. Here
one function, `predict`, does what training did, in the same order, from the saved bundle
alone: extract EVERY feature type of the bundle with its saved options, put the columns in the
saved order (and stop if they differ), apply the saved scaler, then the saved model. The
`sauti demo`, `sauti test`, `sauti export` and web-demo paths all go through it.

A bundle is the dict `model.joblib` holds (see sauti.ml.training): scaler, model, labels,
feature_columns, feature_types, feature_options, target, type, seed. It is found either in
the train stage's cache folder of an experiment, or in a folder written by `export_bundle`.
Loading it unpickles Python objects: only load bundles you trust.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from sauti import __version__
from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.ml.data import ID
from sauti.ml.deep.finetune import predict_samples
from sauti.ml.features import extract

log = logging.getLogger("sauti.ml.bundle")

BUNDLE_FILE = "model.joblib"
SPEC_FILE = "spec.json"
BUNDLE_KEYS = (
    "scaler",
    "model",
    "labels",
    "feature_columns",
    "feature_types",
    "feature_options",
    "target",
    "type",
)
#: What `sauti demo --folder` collects (case-insensitive), searched recursively.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


# --------------------------------------------------------------------------- finding and loading


def load_bundle(path: str | Path) -> dict:
    """Load a bundle from a model.joblib file or a folder holding one (an exported bundle).

    When the folder also has spec.json (written by `export_bundle`), its feature columns and
    labels must agree with the model file: a spec edited by hand, or a model.joblib swapped
    for another experiment's, would otherwise predict with features the model never saw.
    """
    import joblib

    path = Path(path)
    if not path.exists():
        raise SautiError(
            f"{path}: no such bundle folder or file",
            hint="export one with: sauti export exp.ini --to DIR",
        )
    file = path / BUNDLE_FILE if path.is_dir() else path
    if not file.is_file():
        raise SautiError(
            f"{path}: no model bundle here (expected {file})",
            hint="give an exported bundle folder (sauti export) or an experiment file",
        )
    try:
        bundle = joblib.load(file)
    except Exception as exc:
        raise SautiError(f"{file}: cannot load the model bundle ({_first_line(exc)})") from exc
    missing = [k for k in BUNDLE_KEYS if not isinstance(bundle, dict) or k not in bundle]
    if missing:
        raise SautiError(f"{file}: not a sauti model bundle (missing {', '.join(missing)})")
    if bundle.get("finetune"):  # MODEL.type finetune: the checkpoint folder lies beside the file
        bundle["finetune"] = {
            **bundle["finetune"],
            "checkpoint": str(file.parent / bundle["finetune"]["checkpoint"]),
        }
    spec_file = file.parent / SPEC_FILE
    if spec_file.is_file():
        _check_spec(spec_file, bundle)
    return bundle


def _check_spec(spec_file: Path, bundle: dict) -> None:
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SautiError(f"{spec_file}: unreadable ({_first_line(exc)})") from exc
    for key in ("feature_columns", "labels", "feature_types", "target"):
        if key in spec and spec[key] != bundle[key]:
            raise SautiError(
                f"{spec_file}: {key} does not match {BUNDLE_FILE} in the same folder",
                hint="re-export the bundle with: sauti export exp.ini --to DIR",
            )
    if spec.get("sauti_version") not in (None, __version__):
        log.warning(
            "bundle %s was exported by sauti %s; this is sauti %s",
            spec_file.parent,
            spec.get("sauti_version"),
            __version__,
        )


# --------------------------------------------------------------------------- samples from audio


def samples_from_files(files) -> pd.DataFrame:
    """A samples table (file, start, end) of whole files; one clear line for a bad file."""
    rows = []
    for file in files:
        path = os.path.abspath(str(file))
        if not os.path.isfile(path):
            raise SautiError(f"{file}: audio file not found")
        duration, _ = audio.info(path)  # SautiError "<file>: cannot read audio (...)"
        if duration <= 0:
            raise SautiError(f"{file}: the audio file holds no samples")
        rows.append({"file": path, "start": 0.0, "end": duration})
    if not rows:
        raise SautiError("no audio files given")
    return pd.DataFrame(rows, columns=ID)


def audio_files_in(folder: str | Path) -> list[str]:
    """Every *.wav, *.flac and *.ogg below `folder` (recursive, sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SautiError(f"{folder}: not a folder")
    files = sorted(
        str(p) for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )
    if not files:
        raise SautiError(
            f"{folder}: no audio files (*.wav, *.flac, *.ogg) in this folder or below it"
        )
    return files


def files_from_list(list_file: str | Path) -> list[str]:
    """Audio paths from a text file, one per line; relative paths are relative to the list's
    folder (like the paths in a database CSV). Blank lines and lines starting with # are skipped.
    """
    list_file = Path(list_file)
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SautiError(f"{list_file}: cannot read the file list ({_first_line(exc)})") from exc
    files = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not files:
        raise SautiError(f"{list_file}: the file list is empty")
    return [str(f if os.path.isabs(f) else list_file.parent / f) for f in files]


# --------------------------------------------------------------------------- prediction


def extract_features(bundle: dict, samples: pd.DataFrame, progress: bool = False) -> pd.DataFrame:
    """The bundle's features for `samples`: every type, with its saved options, in saved order."""
    blocks = [
        extract(kind, samples[ID].reset_index(drop=True), _options(bundle, kind), progress)
        for kind in bundle["feature_types"]
    ]
    return match_columns(bundle, pd.concat(blocks, axis=1))


def _options(bundle: dict, kind: str) -> dict:
    options = bundle.get("feature_options") or {}
    if kind not in options:
        raise SautiError(
            f"the model bundle does not record the options of feature type {kind!r}",
            hint="re-run the experiment with this sauti version to write a complete bundle",
        )
    return options[kind]


def match_columns(bundle: dict, features: pd.DataFrame) -> pd.DataFrame:
    """`features` with exactly the bundle's columns in the bundle's order, else a SautiError.

    A model fitted on 88 eGeMAPS columns must never be fed 62 GeMAPS columns (or the praat
    columns alone): scikit-learn would fail with a shape error at best and silently mis-assign
    columns at worst. Reordering is allowed (same names); any missing or extra name is not.
    """
    wanted = list(bundle["feature_columns"])
    have = list(features.columns)
    missing = [c for c in wanted if c not in set(have)]
    extra = [c for c in have if c not in set(wanted)]
    if missing or extra:
        detail = "; ".join(
            part
            for part in (
                f"{len(missing)} missing, e.g. {missing[0]}" if missing else "",
                f"{len(extra)} unexpected, e.g. {extra[0]}" if extra else "",
            )
            if part
        )
        raise SautiError(
            f"the extracted features do not match the {len(wanted)} columns the model was "
            f"trained on ({detail})",
            hint="the feature extractor or its options changed since training; re-run the experiment",
        )
    return features[wanted]


def predict_features(bundle: dict, features: pd.DataFrame, speakers=None):
    """(predictions, probabilities or None) from a feature matrix: saved scaler, then model."""
    from sauti.ml.training import predict_rows  # heavy: scikit-learn

    features = match_columns(bundle, features)
    if bundle["scaler"].kind == "speaker" and speakers is None:
        raise SautiError(
            "this model was trained with FEATS.scale = speaker, which normalises each speaker "
            "with their own statistics: predicting needs a 'speaker' column for the samples",
            hint="pass samples with a speaker column (several files per speaker), or retrain with another FEATS.scale",
        )
    return predict_rows(
        bundle["scaler"],
        bundle["model"],
        features,
        None if speakers is None else np.asarray(speakers).astype(str),
        {"type": bundle["type"]},
        bundle["labels"],
    )


def predict(bundle: dict, samples, progress: bool = False) -> pd.DataFrame:
    """Predict `samples` (a table with file and optional start, end, speaker; or a list of paths).

    Returns file, start, end, prediction, and proba_<label> per class for classification, in
    the samples' order. The result for a sample equals the experiment's own prediction for it
    (tests/test_inference.py checks this to 1e-6).
    """
    samples = _as_samples(samples)
    if bundle.get("finetune"):  # a fine-tuned transformer reads the audio itself
        pred, proba = predict_samples(bundle, samples, progress)
        return prediction_table(samples, pred, proba, bundle["labels"])
    features = extract_features(bundle, samples, progress)
    speakers = samples["speaker"] if "speaker" in samples.columns else None
    pred, proba = predict_features(bundle, features, speakers)
    return prediction_table(samples, pred, proba, bundle["labels"])


def prediction_table(samples: pd.DataFrame, pred, proba, labels) -> pd.DataFrame:
    table = samples[ID].reset_index(drop=True).copy()
    table["prediction"] = pred
    if proba is not None:
        for i, label in enumerate(labels):
            table[f"proba_{label}"] = proba[:, i]
    return table


def _as_samples(samples) -> pd.DataFrame:
    if not isinstance(samples, pd.DataFrame):
        return samples_from_files(list(samples))
    if "file" not in samples.columns:
        raise SautiError("the samples table has no 'file' column")
    if samples.empty:
        raise SautiError("no samples to predict")
    table = samples.reset_index(drop=True).copy()
    if "start" not in table.columns:
        table["start"] = 0.0
    if "end" not in table.columns:
        table["end"] = np.nan
    table["start"] = table["start"].fillna(0.0).astype(float)
    missing = table["end"].isna()
    if missing.any():
        whole = samples_from_files(table.loc[missing, "file"])
        table.loc[missing, "file"] = whole["file"].to_numpy()
        table.loc[missing, "end"] = whole["end"].to_numpy()
    table["end"] = table["end"].astype(float)
    return table


# --------------------------------------------------------------------------- export


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
