"""Ensembles: combine several experiments' predictions for the same test samples.

Members are joined **by sample id** (file, start, end), never by row position. Nkululeko's
ensemble put the members' prediction tables side by side, so members whose rows came in a
different order were silently mixed (its defect 4); here a member whose test set differs from
the others stops the ensemble with one line naming the counts and an example sample.

What each method does with the members' class probabilities. P_m is member m's probability row
for a sample (one column per label, summing to 1), M the number of members and K of labels. The
ensemble decides argmax_k P[k]; ties go to the label that comes first in the (sorted) label
order. The `proba_<label>` columns written are P.

* majority_voting: each member votes its own predicted label (its `prediction` column, which
  for some models is not the argmax of its probabilities). The label with most votes wins; a
  tie goes to the tied label with the higher mean probability over members. P = vote shares.
* mean: P = (1/M) sum_m P_m.
* sum: S = sum_m P_m and P = S / sum_k S[k]. Its decisions equal mean's whenever every member's
  row sums to 1 (as in sauti); kept for Nkululeko users.
* max: X[k] = max_m P_m[k] and P = X / sum_k X[k] — the label some member is most sure of.
* max_class: the single most confident member (largest max_k P_m[k]; the first listed on ties)
  decides, and P = its row.
* uncertainty_threshold: uncertainty u_m = H(P_m) / ln K, the entropy normalised to [0, 1] (0 =
  one label has all the mass, 1 = uniform). P is the mean over members with u_m <= threshold;
  if no member qualifies, the least uncertain member's row. threshold 1.0 (the default) keeps
  every member, i.e. equals mean.
* uncertainty_weighted: P = sum_m w_m P_m / sum_m w_m with w_m = 1 - u_m, per sample (a member
  that spreads its mass evenly gets no say; all uniform -> plain mean).
* confidence_weighted: as above with w_m = max_k P_m[k], the member's highest probability.
* performance_weighted: as above with one weight per member: its UAR on the dev split
  (run 0), so a member that generalises better counts more. Needs EXP.traindevtest in every
  member. The ensemble's own dev score is then optimistic (its weights were chosen on dev).

Regression members (no probabilities) support mean (average of the predictions) and
performance_weighted (weights = dev CCC, negative values counted as 0); the others stop with a
clear error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.config.sections.ensemble import METHODS, REGRESSION_METHODS
from sauti.core.errors import SautiError
from sauti.core.fileio import (
    publish_images,
    read_json,
    read_table,
    write_json,
    write_table,
    write_text,
)
from sauti.core.keys import Keyed
from sauti.ml.data import ID
from sauti.stages.base import StageSpec
from sauti.stages.summary import SCORES, bar_plot, markdown_table, render_page

log = logging.getLogger("sauti.ensemble")

ENSEMBLE = Keyed("ensemble", 1, None, ("stages/ensemble.py", "ml/metrics.py"))


#: One line per method for reports (the module docstring is the precise definition).
DESCRIPTIONS = {
    "majority_voting": "each member votes its predicted label; ties go to the higher mean probability",
    "mean": "mean of the members' class probabilities",
    "max": "per label, the largest probability any member gives it (renormalised)",
    "sum": "sum of the members' class probabilities (renormalised; decides like mean)",
    "max_class": "the most confident member (highest top probability) decides for each sample",
    "uncertainty_threshold": "mean over members whose normalised entropy is at most the threshold (else the least uncertain member)",
    "uncertainty_weighted": "probabilities weighted per sample by 1 - normalised entropy",
    "confidence_weighted": "probabilities weighted per sample by the member's highest probability",
    "performance_weighted": "probabilities (or values) weighted by each member's dev UAR (CCC for regression)",
}
_TOLERANCE = 1e-9


def scores(table: pd.DataFrame, task: str, labels) -> dict:
    """evaluation.scores, imported on use: the config check imports this module, and the
    Snakefile should not pay for matplotlib when it only plans the DAG."""
    from sauti.ml.evaluation import scores as _scores  # heavy: matplotlib

    return _scores(table, task, labels)


# --------------------------------------------------------------------------- the methods


def uncertainty(proba: np.ndarray) -> np.ndarray:
    """Normalised entropy H(p) / ln K over the last axis, in [0, 1] (0 log 0 counts as 0)."""
    p = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    k = p.shape[-1]
    if k < 2:
        return np.zeros(p.shape[:-1])
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return np.clip(-(p * logs).sum(axis=-1) / np.log(k), 0.0, 1.0)


def combine(
    method: str,
    probas: np.ndarray | None = None,
    votes: np.ndarray | None = None,
    threshold: float = 1.0,
    weights=None,
    n_labels: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Combine classification members; see the module docstring for each method.

    probas: (M, N, K) member probabilities; votes: (M, N) index of each member's predicted
    label (-1 = not a known label, no vote); weights: (M,) for performance_weighted.
    Returns (decision (N,) label indices, P (N, K)).
    """
    if method not in METHODS:
        raise SautiError(
            f"ENSEMBLE.method: unknown method {method!r}; use one of {', '.join(METHODS)}"
        )
    if method == "majority_voting":
        if votes is None:
            raise SautiError("majority_voting needs the members' predicted labels")
        votes = np.asarray(votes, dtype=int)
        n_members, n = votes.shape
        k = n_labels if n_labels is not None else np.asarray(probas).shape[2]
        counts = np.zeros((n, k))
        for member_votes in votes:
            valid = member_votes >= 0
            np.add.at(counts, (np.arange(n)[valid], member_votes[valid]), 1.0)
        tiebreak = (
            np.asarray(probas, dtype=float).mean(axis=0) if probas is not None else np.zeros((n, k))
        )
        tied = counts == counts.max(axis=1, keepdims=True)
        decision = np.where(tied, tiebreak, -np.inf).argmax(axis=1)
        return decision, counts / n_members
    if probas is None:
        raise SautiError(
            f"ENSEMBLE.method {method} needs class probabilities, and a member has none",
            hint="use majority_voting",
        )
    probas = np.asarray(probas, dtype=float)
    n_members, n, _ = probas.shape
    if method == "mean":
        combined = probas.mean(axis=0)
    elif method in ("sum", "max"):
        combined = _rows_to_one(probas.sum(axis=0) if method == "sum" else probas.max(axis=0))
    elif method == "max_class":
        who = probas.max(axis=2).argmax(axis=0)
        combined = probas[who, np.arange(n)]
    elif method == "uncertainty_threshold":
        u = uncertainty(probas)
        keep = u <= float(threshold) + _TOLERANCE
        none = ~keep.any(axis=0)
        keep[u.argmin(axis=0)[none], np.arange(n)[none]] = True
        combined = _weighted(probas, keep.astype(float))
    elif method == "uncertainty_weighted":
        combined = _weighted(probas, 1.0 - uncertainty(probas))
    elif method == "confidence_weighted":
        combined = _weighted(probas, probas.max(axis=2))
    else:  # performance_weighted
        w = _member_weights(weights, n_members)
        combined = _weighted(probas, np.repeat(w[:, None], n, axis=1))
    return combined.argmax(axis=1), combined


def combine_regression(method: str, values: np.ndarray, weights=None) -> np.ndarray:
    """mean, or the performance-weighted mean, of (M, N) member predictions."""
    values = np.asarray(values, dtype=float)
    if method == "mean":
        return values.mean(axis=0)
    if method == "performance_weighted":
        w = _member_weights(weights, values.shape[0])
        return (values * w[:, None]).sum(axis=0)
    raise SautiError(
        f"ENSEMBLE.method {method!r} needs class probabilities; regression members support "
        f"{' and '.join(REGRESSION_METHODS)}"
    )


def _member_weights(weights, n_members: int) -> np.ndarray:
    if weights is None or len(weights) != n_members:
        raise SautiError("performance_weighted needs one weight per member")
    w = np.asarray(weights, dtype=float)
    if w.sum() <= 0:
        raise SautiError(
            "performance_weighted: every member's dev score is 0, nothing to weight by"
        )
    return w / w.sum()


def _weighted(probas: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_m w_m P_m / sum_m w_m per sample; samples where all weights are 0 get the mean."""
    weights = np.asarray(weights, dtype=float)
    total = weights.sum(axis=0)
    weights = np.where(total > 0, weights, 1.0)
    return (probas * weights[..., None]).sum(axis=0) / weights.sum(axis=0)[:, None]


def _rows_to_one(values: np.ndarray) -> np.ndarray:
    total = values.sum(axis=1, keepdims=True)
    return np.divide(
        values, total, out=np.full_like(values, 1.0 / values.shape[1]), where=total > 0
    )


# --------------------------------------------------------------------------- joining members


def _keys(rows: pd.DataFrame) -> list[str]:
    """Sample id as text; start/end rounded to microseconds so float noise cannot split a sample."""
    return [
        f"{f}|{float(s):.6f}|{float(e):.6f}"
        for f, s, e in zip(rows["file"], rows["start"], rows["end"], strict=True)
    ]


def _describe(key: str) -> str:
    file, start, end = key.rsplit("|", 2)
    return f"{file} [{float(start):.2f}-{float(end):.2f} s]"


def align(tables: dict[str, pd.DataFrame], split: str) -> dict[str, pd.DataFrame]:
    """Each member's rows of `split` (run 0), re-ordered to one common sample order (by id).

    Raises SautiError when the members' sample sets differ, when a member lists a sample twice,
    or when members disagree on a sample's truth.
    """
    keyed = {}
    for name, table in tables.items():
        rows = table
        if "run" in rows:
            rows = rows[rows["run"] == 0]
        if "split" in rows:
            rows = rows[rows["split"] == split]
        rows = rows.sort_values(ID, kind="stable").reset_index(drop=True)
        keys = pd.Index(_keys(rows))
        if keys.has_duplicates:
            raise SautiError(
                f"ensemble member {name}: {_describe(keys[keys.duplicated()][0])} occurs twice in its {split} predictions"
            )
        keyed[name] = rows.set_axis(keys)
    names = list(keyed)
    first = names[0]
    for other in names[1:]:
        a, b = set(keyed[first].index), set(keyed[other].index)
        if a != b:
            counts = ", ".join(f"{n} {len(keyed[n])}" for n in names)
            only_a, only_b = sorted(a - b), sorted(b - a)
            example, owner = (only_a[0], first) if only_a else (only_b[0], other)
            raise SautiError(
                f"ensemble members' {split} sets differ ({counts} samples): {len(only_a)} of "
                f"{first}'s are not in {other} and {len(only_b)} of {other}'s not in {first}, "
                f"e.g. {_describe(example)} (only in {owner})",
                hint="members must share DATA (databases, target, labels, filters) and the "
                "split settings (split_strategy, test_size, random_seed, traindevtest)",
            )
    order = keyed[first].index
    aligned = {n: keyed[n].loc[order] for n in names}
    truth = aligned[first]["truth"]
    for other in names[1:]:
        differ = ~_same(truth, aligned[other]["truth"])
        if differ.any():
            key = order[np.flatnonzero(differ)[0]]
            raise SautiError(
                f"ensemble members disagree on the truth of {int(differ.sum())} {split} samples, "
                f"e.g. {_describe(key)}: {first} has {truth[key]!r}, {other} has "
                f"{aligned[other]['truth'][key]!r}",
                hint="members must predict the same target with the same label mapping",
            )
    return {n: t.reset_index(drop=True) for n, t in aligned.items()}


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    try:
        return np.isclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float))
    except (TypeError, ValueError):
        return a.astype(str).to_numpy() == b.astype(str).to_numpy()


# --------------------------------------------------------------------------- the ensemble


def _check_members(infos: dict[str, dict]) -> tuple[str, list | None, str]:
    names = list(infos)
    first = infos[names[0]]
    for name in names[1:]:
        info = infos[name]
        for key in ("type", "target"):
            if info[key] != first[key]:
                raise SautiError(
                    f"ensemble members differ in their {key}: {names[0]} has {first[key]!r}, {name} has {info[key]!r}"
                )
        if first["type"] == "classification" and list(info["labels"]) != list(first["labels"]):
            raise SautiError(
                f"ensemble members have different labels: {names[0]} {first['labels']}, {name} {info['labels']}",
                hint="set the same DATA.labels in every member",
            )
    return first["type"], first["labels"], first["target"]


def run_ensemble(
    tables: dict[str, pd.DataFrame], infos: dict[str, dict], method: str, threshold: float = 1.0
) -> dict:
    """Combine members (name -> train-stage predictions and info.json) on test (and dev).

    Returns {"predictions": table in the predictions.csv contract, "metrics": metrics.json
    contract plus an "ensemble" block, "comparison": members and ensemble side by side}.
    """
    if len(tables) < 2:
        raise SautiError("an ensemble needs at least 2 members")
    task, labels, target = _check_members(infos)
    if task == "regression" and method not in REGRESSION_METHODS:
        raise SautiError(
            f"ENSEMBLE.method {method!r} needs class probabilities; regression members support "
            f"{' and '.join(REGRESSION_METHODS)}"
        )
    have_dev = [n for n, t in tables.items() if (t["split"] == "dev").any()]
    splits = ["test"] + (["dev"] if len(have_dev) == len(tables) else [])
    key = "uar" if task == "classification" else "ccc"
    if method == "performance_weighted" and "dev" not in splits:
        missing = [n for n in tables if n not in have_dev]
        raise SautiError(
            f"ENSEMBLE.method performance_weighted weights members by their dev {key.upper()}, "
            f"but {', '.join(missing)} has no dev predictions",
            hint="set EXP.traindevtest = True in every member",
        )
    aligned = {split: align(tables, split) for split in splits}
    weights = None
    if method == "performance_weighted":
        dev = aligned["dev"]
        member_scores = [scores(dev[n], task, labels)[key] for n in tables]
        weights = [max(0.0, float(s)) for s in member_scores]
    parts = []
    for split in splits:
        members = aligned[split]
        base = next(iter(members.values()))
        table = base[[c for c in (*ID, "speaker", "truth") if c in base]].copy()
        if task == "classification":
            decision, proba = _combine_members(members, labels, method, threshold, weights)
            table["prediction"] = np.asarray(labels, dtype=object)[decision]
            for i, label in enumerate(labels):
                table[f"proba_{label}"] = proba[:, i]
        else:
            values = np.stack([m["prediction"].to_numpy(dtype=float) for m in members.values()])
            table["prediction"] = combine_regression(method, values, weights)
        table["split"] = split
        parts.append(table)
    predictions = pd.concat(parts, ignore_index=True)
    metrics = {"target": target, "type": task, "labels": labels}
    for split in splits:
        metrics[split] = scores(predictions[predictions["split"] == split], task, labels)
    metrics["ensemble"] = {
        "method": method,
        "description": DESCRIPTIONS[method],
        "members": list(tables),
        **({"threshold": float(threshold)} if method == "uncertainty_threshold" else {}),
        **(
            {"weights": dict(zip(tables, np.asarray(weights) / sum(weights), strict=True))}
            if weights is not None and sum(weights) > 0
            else {}
        ),
    }
    comparison = _comparison(aligned, metrics, task, labels, method)
    return {"predictions": predictions, "metrics": metrics, "comparison": comparison}


def _combine_members(members: dict, labels, method, threshold, weights):
    proba_columns = [f"proba_{label}" for label in labels]
    tables = list(members.values())
    has_proba = all(all(c in t.columns for c in proba_columns) for t in tables)
    probas = (
        np.stack([t[proba_columns].to_numpy(dtype=float) for t in tables]) if has_proba else None
    )
    index = {str(label): i for i, label in enumerate(labels)}
    votes = np.stack([[index.get(str(p), -1) for p in t["prediction"]] for t in tables])
    return combine(method, probas, votes, threshold, weights, n_labels=len(labels))


def _comparison(aligned: dict, metrics: dict, task: str, labels, method: str) -> pd.DataFrame:
    """Members and the ensemble on the same (aligned) test samples; dev headline when present."""
    key = SCORES[task][0]
    rows = []
    for name in aligned["test"]:
        result = scores(aligned["test"][name], task, labels)
        row = {"experiment": name, "role": "member", **{s: result[s] for s in SCORES[task]}}
        row["n"] = result["n"]
        if "dev" in aligned:
            row[f"dev_{key}"] = scores(aligned["dev"][name], task, labels)[key]
        rows.append(row)
    row = {"experiment": f"ensemble ({method})", "role": "ensemble"}
    row.update({s: metrics["test"][s] for s in SCORES[task]})
    row["n"] = metrics["test"]["n"]
    if "dev" in metrics:
        row[f"dev_{key}"] = metrics["dev"][key]
    rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- stages


def ensemble_stage(
    prediction_paths: list[str], info_paths: list[str], params: dict, out_dir: str
) -> dict:
    """The keyed ensemble stage: metrics.json, predictions.parquet, comparison.csv, plots."""
    from sauti.ml import plots  # heavy: matplotlib

    names = params["members"]
    tables = {n: read_table(p) for n, p in zip(names, prediction_paths, strict=True)}
    infos = {n: read_json(p) for n, p in zip(names, info_paths, strict=True)}
    result = run_ensemble(tables, infos, params["method"], params.get("threshold", 1.0))
    out = Path(out_dir)
    metrics, comparison = result["metrics"], result["comparison"]
    key = "uar" if metrics["type"] == "classification" else "ccc"
    images = []
    bar_plot(
        comparison["experiment"],
        comparison[key],
        out / "comparison.png",
        f"test {key.upper()}: members and ensemble",
        key,
        highlight=len(comparison) - 1,
    )
    images.append(
        {
            "file": "comparison.png",
            "caption": f"Test {key.upper()} of each member and of the ensemble (orange).",
        }
    )
    test = result["predictions"][result["predictions"]["split"] == "test"]
    if metrics["type"] == "classification":
        plots.confusion_matrix_plot(
            metrics["test"]["confusion"],
            metrics["labels"],
            out / "confusion_test.png",
            f"ensemble ({params['method']}): test\nUAR {metrics['test']['uar']:.3f}",
        )
        images.append(
            {
                "file": "confusion_test.png",
                "caption": "Confusion matrix of the ensemble on test (row percentages = recall).",
            }
        )
    else:
        plots.regression_scatter_plot(
            test["truth"],
            test["prediction"],
            out / "scatter_test.png",
            f"ensemble ({params['method']}): test",
        )
        images.append(
            {"file": "scatter_test.png", "caption": "Ensemble prediction against truth on test."}
        )
    write_table(out / "predictions.parquet", result["predictions"])
    write_table(out / "comparison.csv", comparison)
    write_json(out / "images.json", images)
    write_json(out / "metrics.json", metrics)
    log.info("ensemble %s of %s: test %s %.3f", params["method"], names, key, metrics["test"][key])
    return result


def ensemble_report_stage(inputs: dict, params: dict, outputs: dict) -> None:
    """<root>/<name>/: metrics.json, predictions.csv, comparison.csv/.md, images/, report.html."""
    import shutil

    metrics = read_json(inputs["metrics"])
    comparison = read_table(inputs["comparison"])
    predictions = read_table(inputs["predictions"])
    images = read_json(inputs["images"])
    folder = Path(outputs["report"]).parent
    image_dir = folder / "images"
    if image_dir.exists():
        shutil.rmtree(image_dir)
    published = publish_images(images, Path(inputs["metrics"]).parent, image_dir)
    copied = [(Path(image["path"]), image["caption"]) for image in published]
    write_table(outputs["predictions"], predictions)
    write_json(outputs["metrics"], metrics)
    write_table(outputs["comparison"], comparison)
    info = metrics["ensemble"]
    name = params["name"]
    intro = (
        f"Ensemble of {len(info['members'])} experiments by {info['method']}: {info['description']}"
        + (f" (threshold {info['threshold']})" if "threshold" in info else "")
        + ". Members are joined by sample id (file, start, end)."
    )
    write_text(
        outputs["markdown"],
        f"# {name}\n\n{intro}\n\n" + markdown_table(comparison),
    )
    tables = [("Test results: members and ensemble", comparison)]
    if "weights" in info:
        tables.append(
            (
                "Member weights (dev score, normalised)",
                pd.DataFrame(
                    {"experiment": list(info["weights"]), "weight": list(info["weights"].values())}
                ),
            )
        )
    details = [
        ("members", ", ".join(f"{m} ({params['sources'].get(m, '?')})" for m in info["members"]))
    ]
    details.append(("ensemble cache key", params["key"]))
    render_page(f"{name}: ensemble", [intro], tables, copied, outputs["report"], details)


SPEC = StageSpec("ensemble", (ENSEMBLE,))
