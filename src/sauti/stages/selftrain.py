"""SELFTRAIN: noisy teacher-student self-training on an unlabelled database.

Following "Semi-supervised singing voice separation with noisy self-training" (Wang et al.,
ICASSP 2021), applied to any sauti target and classic model:

1. round 0, the **teacher**: the experiment's model (MODEL) fitted on the labelled train rows
   (minus a speaker-disjoint `holdout` share when there is no dev split, so that every round is
   scored on rows none of them trained on);
2. the teacher **pseudo-labels** every clip of the DATA.unlabelled databases; their labels, when
   present, are never trained on, only used to report the pseudo-label accuracy;
3. a **filter** keeps the clips whose silero speech ratio (sauti.ml.vad) reaches `vad_threshold`,
   and of those the top `keep` share by teacher confidence;
4. the **student** (MODEL with the `student` overrides) is fitted on labelled + kept pseudo-
   labelled rows **with noise**: `noise_copies` extra copies of every training row with
   Gaussian noise of `noise` x that feature's standard deviation. For classic models this is
   the "noisy" part (input-noise regularisation, which smooths the decision function like a
   ridge penalty; the student cannot simply copy the teacher's decision boundary); a neural
   student also gets its own dropout through the `student` MODEL keys;
5. the student is the next round's teacher; a round whose dev score does not beat the best so
   far counts against `patience`, and once it is used up the later rounds are skipped (they pass
   the model through unchanged, so raising `rounds` never breaks the chain).

Confidence: the teacher's probability of its own pseudo label for classification (`proba`; the
largest class probability, except for an svm sample near the margin, whose label comes from the
decision function and may not be the argmax), or the agreement of
`bootstrap` teachers fitted on resamples of the teacher's training rows (`bootstrap`: the share
voting the teacher's label, or for regression the negative spread of their predictions); `auto`
is proba for classification and bootstrap for regression.

Every round is its own keyed stage (sauti.workflow.plan.make_stage): round r's key holds its settings and
round r-1's key, and not `rounds`, so raising `rounds` computes only the new rounds.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.config.sections.selftrain import student_model
from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.fileio import (
    atomic_path,
    read_json,
    read_table,
    write_json,
    write_round_table,
    write_table,
)
from sauti.core.keys import Keyed, make_stage
from sauti.core.progress import bar as progress_bar
from sauti.ml import metrics as M
from sauti.ml import vad
from sauti.ml.data import ID, filter_length, filter_rows, label_text, speaker_split
from sauti.ml.drops import DropLog
from sauti.stages.base import StageSpec
from sauti.stages.features import feature_matrix, feature_options, feature_stage
from sauti.stages.samples import database_stages
from sauti.stages.train import MODEL_SOURCES

log = logging.getLogger("sauti.stages.selftrain")

VAD = Keyed("vad", 1, "speech.parquet", ("ml/vad.py",))
#: 2: svm decision function; proba confidence of the pseudo label
SELFTRAIN = Keyed("selftrain", 2, "round.json", ("stages/selftrain.py", *MODEL_SOURCES))


#: SELFTRAIN keys that shape the teacher (round 0); the other keys only shape rounds >= 1.
TEACHER_KEYS = ("holdout",)
#: The columns of a round's pseudo.parquet besides the sample id.
PSEUDO_COLUMNS = ("db", "speaker", "truth", "pseudo", "confidence", "speech_ratio", "kept")


def confidence_kind(section: dict, task: str) -> str:
    if section["confidence"] != "auto":
        return section["confidence"]
    return "proba" if task == "classification" else "bootstrap"


# --------------------------------------------------------------------------- planning


@dataclass
class SelftrainPlan:
    samples: dict  # unlabelled db name -> samples Stage
    features: list  # features Stage per (type, unlabelled db)
    vad: list  # vad Stage per unlabelled db
    rounds: list  # selftrain Stage per round, round 0 = the teacher

    def stages(self) -> list:
        return [*self.samples.values(), *self.features, *self.vad, *self.rounds]


#: SELFTRAIN keys in every student round's key (rounds is not: raising it keeps the old keys).
ROUND_KEYS = (
    "keep", "confidence", "bootstrap", "vad_threshold", "noise", "noise_copies", "patience",
)  # fmt: skip
#: Frame-level silero threshold behind the speech ratio (fixed: the filter is vad_threshold).
VAD_PARAMS = {"threshold": 0.5}


def plan_selftrain(cfg: dict, data_stage, features: list) -> SelftrainPlan | None:
    """samples, features and vad stages of the DATA.unlabelled databases, and one keyed
    `selftrain` stage per round: round 0 (teacher) reads the data table and features, round r
    also round r-1 and the pool's stages. None when SELFTRAIN.rounds is 0."""
    section, data, exp, feats = cfg["SELFTRAIN"], cfg["DATA"], cfg["EXP"], cfg["FEATS"]
    if not section["rounds"]:
        return None
    stages = {name: database_stages(name, data[name], cfg) for name in data["unlabelled"]}
    samples = {name: pair[0] for name, pair in stages.items()}
    labels = {name: pair[1] for name, pair in stages.items()}  # filter/mapping columns
    pool_features = [
        feature_stage(kind, cfg, stage) for kind in feats["type"] for stage in samples.values()
    ]
    vads = [make_stage(VAD, VAD_PARAMS, (stage,)) for stage in samples.values()]
    common = {
        "target": data["target"], "labels": data["labels"], "type": exp["type"],
        "epochs": exp["epochs"], "scale": feats["scale"], "balancing": feats["balancing"],
        "feature_types": feats["type"],
        "feature_options": {k: feature_options(k, feats) for k in feats["type"]},
        "random_seed": exp["random_seed"] if section["seed"] is None else section["seed"],
        "holdout": section["holdout"], "name": exp["name"],
    }  # fmt: skip
    rounds = [make_stage(SELFTRAIN, {**common, "round": 0, "teacher": cfg["MODEL"]}, (data_stage, *features))]  # fmt: skip
    student = {
        **common,
        **{k: section[k] for k in ROUND_KEYS},
        "student": student_model(cfg["MODEL"], section),
        "min_length": data["min_length"], "max_length": data["max_length"],
        "unlabelled": {n: {k: data[n].get(k) for k in ("filter", "mapping")} for n in samples},
    }  # fmt: skip
    for r in range(1, int(section["rounds"]) + 1):
        upstream = (rounds[-1], data_stage, *features, *labels.values(), *pool_features, *vads)
        rounds.append(make_stage(SELFTRAIN, {**student, "round": r}, upstream))
    return SelftrainPlan(samples, pool_features, vads, rounds)


class Rules:
    """Input functions of the rules `vad`, `selftrain` and `selftrain_results` (the rule file
    stays declarative; the registry knows the stages through ExperimentPlan.stages())."""

    def __init__(self, registry):
        self.registry = registry

    def vad(self, w) -> str:
        reg = self.registry
        return reg.path("samples", reg.stage("vad", w.key).upstream[0].key)

    def round(self, w) -> dict:
        reg = self.registry
        stage = reg.stage("selftrain", w.key)
        upstream = list(stage.upstream)
        out: dict = {}
        if stage.params["round"]:
            out["previous"] = reg.path("selftrain", upstream.pop(0).key)
        data_stage = upstream.pop(0)
        out["split"] = reg.path(data_stage.stage, data_stage.key)
        pools = {u.upstream[0].key for u in upstream if u.stage == "labels"}  # their samples
        features = [u for u in upstream if u.stage == "features"]
        out["features"] = [reg.path("features", u.key) for u in features if u.upstream[0].key not in pools]  # fmt: skip
        if pools:
            out["pool_samples"] = [reg.path("labels", u.key) for u in upstream if u.stage == "labels"]  # fmt: skip
            out["pool_features"] = [reg.path("features", u.key) for u in features if u.upstream[0].key in pools]  # fmt: skip
            out["speech"] = [reg.path("vad", u.key) for u in upstream if u.stage == "vad"]
        return out

    def results(self, w) -> list[str]:
        reg = self.registry
        return [reg.path("selftrain", s.key) for s in reg.plan(w.name).selftrain.rounds]


# --------------------------------------------------------------------------- the pieces


def select(pool: pd.DataFrame, keep: float, vad_threshold: float) -> np.ndarray:
    """Which pool rows become training rows: speech ratio >= vad_threshold, then of those the
    top `keep` share (rounded to the nearest row) by confidence. Ties keep the pool order, so
    the choice is deterministic. Returns a boolean mask in the pool's row order."""
    ratio = pool["speech_ratio"].to_numpy(dtype=float)
    candidates = np.flatnonzero(ratio >= vad_threshold)
    n_keep = int(math.floor(keep * len(candidates) + 0.5))
    conf = pool["confidence"].to_numpy(dtype=float)[candidates]
    order = candidates[np.argsort(-conf, kind="stable")]
    mask = np.zeros(len(pool), dtype=bool)
    mask[order[:n_keep]] = True
    return mask


def pseudo_quality(pool: pd.DataFrame, task: str, labels) -> dict:
    """Pseudo labels against the true labels where the unlabelled data has them (never trained
    on): accuracy (or CCC/MAE for regression) over all rows and over the kept rows."""
    known = pool["truth"].notna()
    if task == "classification" and labels:
        known &= pool["truth"].astype(str).isin([str(label) for label in labels])
    out = {"n_with_truth": int(known.sum())}
    for name, rows in (("all", pool[known]), ("kept", pool[known & pool["kept"]])):
        if not len(rows):
            out[name] = None
        elif task == "classification":
            truth, pseudo = rows["truth"].astype(str), rows["pseudo"].astype(str)
            out[name] = {"accuracy": float((truth == pseudo).mean()), "n": int(len(rows))}
        else:
            scores = M.regression_metrics(rows["truth"].astype(float), rows["pseudo"].astype(float))
            out[name] = {"ccc": scores["ccc"], "mae": scores["mae"], "n": int(len(rows))}
    return out


def add_noise(X: pd.DataFrame, y, level: float, copies: int, seed: int):
    """X and y plus `copies` noisy copies of every row: Gaussian noise with standard deviation
    `level` x the feature's standard deviation over these rows (constant features get none)."""
    if level <= 0 or copies <= 0 or not len(X):
        return X, np.asarray(y)
    rng = np.random.default_rng(seed)
    values = X.to_numpy(dtype=float)
    scale = level * values.std(axis=0)
    noisy = [values + rng.normal(size=values.shape) * scale for _ in range(copies)]
    out = pd.DataFrame(np.vstack([values, *noisy]), columns=X.columns)
    return out, np.concatenate([np.asarray(y)] * (copies + 1))


def holdout_mask(data: pd.DataFrame, share: float, target: str, task: str, seed: int):
    """Speaker-disjoint share of the train rows for early stopping when there is no dev split
    (stratified by each speaker's majority label, like the dev split); all False for share 0."""
    train = data["split"] == "train"
    mask = np.zeros(len(data), dtype=bool)
    if share <= 0 or (data["split"] == "dev").any():
        return mask
    rows = data[train]
    if "speaker" not in rows or rows["speaker"].nunique() < 2:
        raise SautiError(
            "SELFTRAIN.holdout needs at least 2 train speakers",
            hint="set SELFTRAIN.holdout = 0 or use EXP.traindevtest for a dev split",
        )
    roles = speaker_split(rows, share, 0.0, target if task == "classification" else None, seed)
    mask[np.flatnonzero(train.to_numpy())[(roles == "test").to_numpy()]] = True
    return mask


@dataclass
class Model:
    """A fitted teacher/student: what sauti.ml.training fits, plus what predicting needs."""

    scaler: object
    model: object
    params: dict  # scale, balancing, type, MODEL
    labels: list | None

    def predict(self, X, speakers):
        from sauti.ml.training import predict_rows  # heavy: scikit-learn

        return predict_rows(self.scaler, self.model, X, speakers, self.params, self.labels)


def fit(X, y, speakers, model_cfg: dict, params: dict, seed: int, labels) -> Model:
    """The training-time pipeline of sauti.ml.training (scaler and balancing on these rows only)."""
    from sauti.ml.training import fit_pipeline  # heavy: scikit-learn

    fit_params = {
        "scale": params["scale"],
        "balancing": params["balancing"],
        "type": params["type"],
        "MODEL": model_cfg,
    }
    scaler, model = fit_pipeline(X, np.asarray(y), np.asarray(speakers), fit_params, seed, labels)
    return Model(scaler, model, fit_params, labels)


def confidence(teacher: Model, X, speakers, kind: str, training, params: dict, seed: int):
    """Pseudo labels and their confidence for pool rows X (see the module docstring)."""
    pseudo, proba = teacher.predict(X, speakers)
    if kind == "proba":
        column = {str(label): i for i, label in enumerate(teacher.labels)}
        own = [column[str(label)] for label in pseudo]
        return pseudo, proba[np.arange(len(own)), own]
    Xt, yt, st = training  # the teacher's own training rows
    rng = np.random.default_rng(seed)
    votes = []
    for b in range(int(params["bootstrap"])):
        rows = rng.integers(0, len(Xt), len(Xt))
        if teacher.labels and len(set(np.asarray(yt)[rows])) < 2:
            continue  # a resample with one class cannot be fitted
        member = fit(
            Xt.iloc[rows], np.asarray(yt)[rows], np.asarray(st)[rows],
            teacher.params["MODEL"], teacher.params, seed + 1 + b, teacher.labels,
        )  # fmt: skip
        votes.append(member.predict(X, speakers)[0])
    if not votes:
        raise SautiError("SELFTRAIN.bootstrap: no resample of the teacher's data could be fitted")
    votes = np.vstack(votes)
    if teacher.labels:
        return pseudo, (votes == np.asarray(pseudo)[None, :]).mean(axis=0)
    return pseudo, -votes.astype(float).std(axis=0)


def score(truth, pred, task: str, labels) -> dict:
    if task == "classification":
        return M.classification_metrics(truth, pred, labels)
    return M.regression_metrics(truth, pred)


def headline(task: str) -> str:
    return "uar" if task == "classification" else "ccc"


# --------------------------------------------------------------------------- stages


def vad_stage(samples_path: str, params: dict, out_path: str) -> None:
    """Silero speech ratio of every sample of an unlabelled database (keyed by its samples only,
    so changing SELFTRAIN.vad_threshold re-runs the rounds but never the VAD)."""
    samples = read_table(samples_path)
    ratios = [
        vad.speech_ratio(audio.read(row.file, row.start, row.end), params["threshold"])
        for row in progress_bar(samples.itertuples(), total=len(samples), desc="vad")
    ]
    table = samples[ID].copy()
    table["speech_ratio"] = ratios
    log.info("speech ratio of %d samples: median %.2f", len(table), float(np.median(ratios)))
    write_table(out_path, table)


def pool_table(samples_paths, feature_paths, speech_paths, params: dict, drops=None):
    """The unlabelled databases' rows (their own filter, mapping and the length limits) with
    truth (NaN where unknown), speaker and speech ratio, and their feature matrix. What the
    filter and the length limits leave out goes to `drops` (a sauti.ml.drops.DropLog)."""
    target = params["target"]
    frames = []
    for path, speech in zip(samples_paths, speech_paths, strict=True):
        table = read_table(path)
        name = str(table["db"].iloc[0])
        spec = params["unlabelled"][name]
        table = filter_rows(name, table, spec.get("filter") or [], drops)
        table = filter_length(table, params, drops)
        if target in table.columns:
            truth = table[target]
            if params["type"] == "classification":
                truth = _mapped(truth, spec.get("mapping") or {})
            else:
                truth = pd.to_numeric(truth, errors="coerce")
        else:
            truth = np.nan
        table = table.assign(truth=truth)
        table = table.merge(read_table(speech), on=ID, how="left", validate="one_to_one")
        frames.append(table)
    pool = pd.concat(frames, ignore_index=True)
    if "speaker" not in pool:
        pool["speaker"] = "unknown"
    pool["speaker"] = pool["speaker"].fillna("unknown").astype(str)
    if pool.empty:
        raise SautiError("DATA.unlabelled: no samples left after the filter and length selection")
    return pool, feature_matrix(pool, feature_paths, params["feature_types"])


def _mapped(truth: pd.Series, mapping: dict) -> pd.Series:
    """Labels as text with the database's mapping applied (as sauti.ml.data does); NaN stays NaN."""
    flat = {}
    for source, dest in mapping.items():
        for key in str(source).split(","):
            flat[key.strip()] = label_text(dest)
    return truth.map(lambda v: np.nan if pd.isna(v) else flat.get(label_text(v), label_text(v)))


def round_stage(inputs: dict, params: dict, out_dir: str) -> None:
    """One self-training round (round 0: the teacher). See the module docstring."""
    import joblib

    out, r = Path(out_dir), int(params["round"])
    task, target, seed = params["type"], params["target"], int(params["random_seed"])
    if r and read_json(inputs["previous"])["stopped"]:
        _pass_through(inputs, params, out)
        return
    data = read_table(inputs["split"])
    X = feature_matrix(data, list(inputs["features"]), params["feature_types"])
    classification = task == "classification"
    y = data[target].astype(str if classification else float).to_numpy()
    speakers = data["speaker"].astype(str).to_numpy() if "speaker" in data else np.full(len(data), "unknown")  # fmt: skip
    held = holdout_mask(data, float(params["holdout"]), target, task, seed)
    train = (data["split"] == "train").to_numpy() & ~held
    labels = sorted(set(y[train])) if classification else None
    pool_rows = pd.DataFrame(columns=[*ID, *PSEUDO_COLUMNS])
    info: dict = {"round": r, "skipped": False, "n_labelled": int(train.sum())}
    if r == 0:
        model_cfg = params["teacher"]
        model = fit(X[train], y[train], speakers[train], model_cfg, params, seed, labels)
    else:
        model_cfg = params["student"]
        previous = Path(inputs["previous"]).parent
        bundle = joblib.load(previous / "model.joblib")
        teacher = Model(bundle["scaler"], bundle["model"], bundle["fit_params"], bundle["labels"])
        drops = DropLog("selftrain", out) if r == 1 else None  # the pool is the same each round
        pool, PX = pool_table(inputs["pool_samples"], inputs["pool_features"], inputs["speech"], params, drops)  # fmt: skip
        PX = PX[list(X.columns)]
        old = read_table(previous / "pseudo.parquet")
        old = old[old["kept"].astype(bool)] if len(old) else old
        teacher_rows = _training_rows(X[train], y[train], speakers[train], old, pool, PX)
        kind = confidence_kind(params, task)
        pseudo, conf = confidence(teacher, PX, pool["speaker"].to_numpy(), kind, teacher_rows, params, seed + r)  # fmt: skip
        pool_rows = pool[[*ID, "db", "speaker", "truth", "speech_ratio"]].assign(pseudo=pseudo, confidence=conf)  # fmt: skip
        pool_rows["kept"] = select(pool_rows, float(params["keep"]), float(params["vad_threshold"]))
        if drops is not None:
            quiet = pool_rows["speech_ratio"] < float(params["vad_threshold"])
            reason = f"SELFTRAIN.vad_threshold {params['vad_threshold']} (speech ratio below it)"
            drops.record_rows(pool_rows, quiet, reason, "selected")
            drops.write()
        kept = pool_rows["kept"].to_numpy()
        SX, Sy, Sspk = _training_rows(
            X[train], y[train], speakers[train], pool_rows[kept], pool, PX
        )
        n_rows = len(SX)
        SX, Sy = add_noise(SX, Sy, float(params["noise"]), int(params["noise_copies"]), seed + r)
        Sspk = np.concatenate([Sspk] * (len(SX) // n_rows))
        model = fit(SX, Sy, Sspk, model_cfg, params, seed + r, labels)
        info.update(
            n_pool=int(len(pool_rows)),
            n_candidates=int((pool_rows["speech_ratio"] >= float(params["vad_threshold"])).sum()),
            n_kept=int(kept.sum()),
            n_noisy=int(len(SX) - n_rows),
            confidence=kind,
            kept_labels=pool_rows.loc[kept, "pseudo"].astype(str).value_counts().to_dict()
            if classification
            else None,  # fmt: skip
            pseudo=pseudo_quality(pool_rows, task, labels),
        )
    rows, results = [], {}
    dev_name = "dev" if (data["split"] == "dev").any() else ("holdout" if held.any() else None)
    for name, mask in (("dev", (data["split"] == "dev").to_numpy() | held), ("test", (data["split"] == "test").to_numpy())):  # fmt: skip
        if mask.any():
            pred, proba = model.predict(X[mask], speakers[mask])
            results[name] = score(y[mask], pred, task, labels)
            rows.append(_predictions(data[mask], y[mask], pred, proba, labels, name if name == "test" else dev_name))  # fmt: skip
    info.update(_progress(inputs, params, results, dev_name, task))
    info.update(
        model=model_cfg, dev_split=dev_name, dev=results.get("dev"), test=results.get("test")
    )
    write_table(out / "pseudo.parquet", pool_rows.reset_index(drop=True))
    write_table(out / "predictions.parquet", pd.concat(rows, ignore_index=True))
    bundle = {
        "scaler": model.scaler, "model": model.model, "labels": labels,
        "feature_columns": list(X.columns), "feature_types": params["feature_types"],
        "feature_options": params.get("feature_options", {}), "target": target, "type": task,
        "seed": seed + r, "fit_params": model.params,
    }  # fmt: skip
    with atomic_path(out / "model.joblib") as tmp:
        joblib.dump(bundle, tmp)
    log.info(
        "round %d: %s kept, dev %s, test %s",
        r, info.get("n_kept", "-"), info["score"]["dev"], info["score"]["test"],
    )  # fmt: skip
    write_json(out / "round.json", info)


def _training_rows(X, y, speakers, kept: pd.DataFrame, pool: pd.DataFrame, PX: pd.DataFrame):
    """Labelled rows plus the `kept` pool rows (joined by sample id) with their pseudo labels."""
    if not len(kept):
        return X.reset_index(drop=True), np.asarray(y), np.asarray(speakers)
    index = pool[ID].reset_index().merge(kept[[*ID, "pseudo"]], on=ID, how="inner")
    extra = PX.iloc[index["index"].to_numpy()]
    pseudo = index["pseudo"].to_numpy().astype(np.asarray(y).dtype)
    return (
        pd.concat([X, extra], ignore_index=True),
        np.concatenate([np.asarray(y), pseudo]),
        np.concatenate([np.asarray(speakers), pool["speaker"].to_numpy()[index["index"]]]),
    )


def _predictions(rows, truth, pred, proba, labels, split) -> pd.DataFrame:
    """The train stage's predictions contract (run 0), split = dev, holdout or test."""
    from sauti.ml.training import run_predictions  # heavy: scikit-learn

    return run_predictions(rows, truth, pred, proba, labels, 0, split)


def _progress(inputs: dict, params: dict, results: dict, dev_name, task: str) -> dict:
    """Early stopping: the best dev score so far, rounds since it improved, and whether the
    next rounds are skipped (patience used up). Without a dev score every round is 'best'."""
    key = headline(task)
    dev = results["dev"][key] if "dev" in results else None
    test = results["test"][key] if "test" in results else None
    r = int(params["round"])
    previous = read_json(inputs["previous"]) if r else None
    best_round, best_dev, since = r, dev, 0
    if previous is not None and dev is not None and previous["best_dev"] is not None:
        if not dev > previous["best_dev"]:
            best_round, best_dev = previous["best_round"], previous["best_dev"]
            since = previous["since_best"] + 1
    stopped = bool(r and params["patience"] and since >= int(params["patience"]))
    return {
        "score": {"metric": key, "dev": dev, "test": test},
        "best_round": best_round,
        "best_dev": best_dev,
        "since_best": since,
        "stopped": stopped,
    }


def _pass_through(inputs: dict, params: dict, out: Path) -> None:
    """A round after early stopping: no training; the previous round's model and state go on."""
    previous = Path(inputs["previous"]).parent
    state = read_json(inputs["previous"])
    for name in ("model.joblib", "predictions.parquet"):
        with atomic_path(out / name) as tmp:
            shutil.copyfile(previous / name, tmp)
    write_table(out / "pseudo.parquet", pd.DataFrame(columns=[*ID, *PSEUDO_COLUMNS]))
    log.info("round %s skipped: stopped early after round %s", params["round"], state["round"])
    write_json(
        out / "round.json",
        {
            "round": int(params["round"]), "skipped": True, "stopped": True,
            "best_round": state["best_round"], "best_dev": state["best_dev"],
            "since_best": state["since_best"], "score": {"metric": state["score"]["metric"], "dev": None, "test": None},
        },
    )  # fmt: skip


# --------------------------------------------------------------------------- results


def round_rows(states: list[dict]) -> pd.DataFrame:
    """One row per round: what was kept, how good the pseudo labels were, dev and test scores."""
    rows = []
    for state in states:
        pseudo = state.get("pseudo") or {}
        quality = {}
        for part in ("all", "kept"):
            entry = pseudo.get(part) or {}
            for name in ("accuracy", "ccc"):
                if name in entry:
                    quality[f"pseudo_{name}_{part}"] = entry[name]
        score = state["score"]
        rows.append(
            {
                "round": state["round"],
                "model": "teacher" if state["round"] == 0 else "student",
                "status": "skipped (stopped early)" if state.get("skipped") else "trained",
                "n_labelled": state.get("n_labelled"),
                "n_pool": state.get("n_pool"),
                "n_vad_passed": state.get("n_candidates"),
                "n_kept": state.get("n_kept"),
                **quality,
                f"dev_{score['metric']}": score["dev"],
                f"test_{score['metric']}": score["test"],
            }
        )
    table = pd.DataFrame(rows)
    first = [c for c in table.columns if not c.startswith(("pseudo_", "dev_", "test_"))]
    rest = sorted((c for c in table.columns if c not in first), key=lambda c: (c.split("_")[0] != "pseudo", c.startswith("test_"), c))  # fmt: skip
    table = table[first + rest]
    for column in (c for c in table.columns if c.startswith("n_")):
        table[column] = table[column].astype("Int64")
    return table


def summary(states: list[dict]) -> dict:
    """selftrain.json: the rounds, and which round is the result (the best dev score; without
    a dev score the last trained round) against the teacher."""
    trained = [s for s in states if not s.get("skipped")]
    last = states[-1]
    has_dev = trained[0]["score"]["dev"] is not None
    chosen = last["best_round"] if has_dev else trained[-1]["round"]
    result = next(s for s in trained if s["round"] == chosen)
    teacher = trained[0]
    return {
        "metric": teacher["score"]["metric"],
        "dev_split": teacher.get("dev_split"),
        "rounds": _records(round_rows(states)),
        "chosen_round": chosen,
        "chosen_by": "dev" if has_dev else "last round",
        "stopped_early": any(s.get("skipped") for s in states),
        "teacher": {"test": teacher.get("test"), "dev": teacher.get("dev")},
        "result": {"test": result.get("test"), "dev": result.get("dev")},
        "change": {
            split: (result["score"][split] - teacher["score"][split])
            if result["score"][split] is not None and teacher["score"][split] is not None
            else None
            for split in ("dev", "test")
        },
    }


def _records(table: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in table.to_dict(orient="records")
    ]


def publish_rounds(round_paths: list[str], out_dir: str) -> dict:
    """Write selftrain.json, rounds.csv, rounds.md and rounds.png into `out_dir`."""
    states = sorted((read_json(p) for p in round_paths), key=lambda s: s["round"])
    out = Path(out_dir)
    table = round_rows(states)
    result = summary(states)
    write_round_table(
        out, table, "rounds.png", lambda t, path: plot_rounds(t, result["metric"], path)
    )
    write_json(out / "selftrain.json", result)
    log.info(
        "self-training: round %s chosen (%s); test %s -> %s",
        result["chosen_round"], result["chosen_by"],
        states[0]["score"]["test"], result["result"]["test"] and result["result"]["test"].get(result["metric"]),
    )  # fmt: skip
    return result


def plot_rounds(table: pd.DataFrame, metric: str, path) -> None:
    """Dev/test score per round (lines) over kept pseudo-labelled samples (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    kept = table["n_kept"].fillna(0).astype(float)
    bars = ax.twinx()
    bars.bar(table["round"], kept, color="#cfd8e3", width=0.5, label="kept pseudo-labelled")
    bars.set_ylabel("kept samples")
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    for split, style in (("dev", "o--"), ("test", "o-")):
        column = f"{split}_{metric}"
        if column in table and table[column].notna().any():
            ax.plot(table["round"], table[column], style, label=f"{split} {metric.upper()}")
    accuracy = "pseudo_accuracy_kept" if "pseudo_accuracy_kept" in table else None
    if accuracy and table[accuracy].notna().any():
        ax.plot(table["round"], table[accuracy], "s:", label="pseudo-label accuracy (kept)")
    ax.set_xlabel("round (0 = teacher)")
    ax.set_xticks(list(table["round"]))
    ax.set_ylabel(metric.upper())
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Self-training per round")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def report_section(summary_path: str) -> dict:
    """The report's Self-training section (sauti.stages.report's generic data-stage section)."""
    result = read_json(summary_path)
    metric, rounds = result["metric"], result["rounds"]
    columns = [c for c in rounds[0] if c != "model"] if rounds else []
    names = {
        "n_labelled": "labelled", "n_pool": "unlabelled", "n_vad_passed": "VAD passed",
        "n_kept": "kept", "pseudo_accuracy_all": "pseudo acc. (all)",
        "pseudo_accuracy_kept": "pseudo acc. (kept)", "pseudo_ccc_all": "pseudo CCC (all)",
        "pseudo_ccc_kept": "pseudo CCC (kept)", f"dev_{metric}": f"dev {metric.upper()}",
        f"test_{metric}": f"test {metric.upper()}",
    }  # fmt: skip
    change = result["change"]["test"]
    teacher = (result["teacher"]["test"] or {}).get(metric)
    chosen = (result["result"]["test"] or {}).get(metric)
    note = (
        f"Round 0 is the teacher (MODEL on the labelled train rows); each later round pseudo-"
        f"labels the unlabelled databases with the previous round's model, keeps the VAD-passing "
        f"samples with the most confident pseudo labels and trains a noisy student on labelled + "
        f"kept samples. Pseudo-label accuracy uses the unlabelled data's own labels, which are "
        f"never trained on. Result: round {result['chosen_round']} (chosen by "
        f"{result['chosen_by']}{', stopped early' if result['stopped_early'] else ''}); "
        f"test {metric.upper()} {teacher:.3f} (teacher) -> {chosen:.3f}"
        + (f" ({change:+.3f})." if change is not None else ".")
        if teacher is not None and chosen is not None
        else "No test score."
    )
    return {
        "id": "selftrain",
        "title": "Self-training",
        "note": note,
        "table": {
            "caption": "Per round (0 = teacher)",
            "header": [names.get(c, c) for c in columns],
            "rows": [[row[c] for c in columns] for row in rounds],
        },
        "images": [
            {
                "path": str(Path(summary_path).parent / "rounds.png"),
                "caption": "Dev/test score and pseudo-label accuracy per round; bars: kept samples",
            }
        ],
    }


SPEC = StageSpec("selftrain", (VAD, SELFTRAIN), rules=Rules)
