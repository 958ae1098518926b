"""The experiment's HTML report: one self-contained file a user can open from disk or mail.

Why self-contained: reports are read on laptops without the cluster's file system, attached to
e-mails and archived next to papers. So the page pulls nothing from the network (no CDN, no web
fonts, no external CSS/JS) and every figure is embedded as a base64 data URI.

Why a "view" is built here instead of handing raw dicts to the template: metrics.json, the data
summary and the config come in several tolerated shapes (DataFrame or dict, missing dev split,
NaN metrics, ...). Normalising and formatting them in Python keeps the template a plain layout
file, lets it run under StrictUndefined (a typo in the template fails loudly instead of
rendering an empty cell), and keeps the number formatting (3 decimals for metrics, percentages
for shares) in one place.
"""

from __future__ import annotations

import base64
import math
import statistics
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sauti import __version__
from sauti.core.errors import SautiError
from sauti.core.fileio import write_text
from sauti.ml.drops import Drop

TEMPLATE_NAME = "report.html.j2"

# The template ships inside the package (package data), so the default works for editable and
# regular installs alike; resources/report/README.md points here.
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"

# Headline metrics per task type, in display order: (key in metrics.json, label on the page).
HEADLINE = {
    "classification": [("uar", "UAR"), ("accuracy", "Accuracy"), ("f1_macro", "Macro-F1")],
    "regression": [("ccc", "CCC"), ("pcc", "PCC"), ("mae", "MAE"), ("mse", "MSE")],
}

# Splits are shown in pipeline order first; anything else (e.g. "all") follows as given.
SPLIT_ORDER = ("train", "dev", "test")

IMAGE_MIME = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


def render_report(
    context: dict, out_path: str | Path, template_dir: str | Path | None = None
) -> None:
    """Render the experiment report to `out_path` (a single HTML file, written atomically).

    `context` keys (only "name" and "metrics" are required; every other section of the page is
    rendered only when its data is present):

    - "name": experiment name, shown in the header bar and the page title.
    - "version": sauti version string; defaults to the installed `sauti.__version__`.
    - "config": the resolved config dict, shown as YAML (``yaml.safe_dump(sort_keys=False)``).
      The model type and feature types in the summary are read from it (``model.type``,
      ``features.type``/``types``) unless "model_type"/"feature_types" are given explicitly.
    - "metrics": the metrics.json dict::

          {"target": str, "type": "classification" | "regression", "labels": [...],
           "test": {"uar", "accuracy", "f1_macro", "n", "confusion",
                    "per_class": {label: {"precision", "recall", "f1", "support"}}},
           "dev": {...same shape...},                                   # optional
           "runs": {"n": int, "test": [per-run metric dicts],
                    "uar_mean", "uar_std", ...},                         # optional
           "cv": {"method": str, "folds": [{"fold": i, "uar": ...}, ...],
                  "mean": {...}}}                                        # optional

      Regression dicts carry "ccc", "pcc", "mae", "mse", "n" instead.
    - "data_summary": ``{"per_split_label": DataFrame or {split: {label: count}},
      "speakers": {split: int}, "duration_s": {split: float}, "databases": {db: n_files}}``.
      A wide DataFrame has rows = labels and columns = splits (what ``pd.DataFrame`` makes of
      the dict form); a long one with "split" and "label" columns (plus "count"/"n", or one row
      per sample) is pivoted.
    - "images": ``[{"path": PNG/SVG file, "caption": str}, ...]``, embedded as data URIs; a
      missing or unreadable file becomes a visible note on the page instead of an error, since
      a lost plot should not cost the user the whole report.
    - "keys": ``{stage: cache key}`` so the user can find each stage's cached folder.
    - "drops": sauti.ml.drops entries (rows or files a stage left out, and why), a Data table.
    - "generated_at": optional timestamp string (defaults to now, local time).

    `template_dir` overrides the folder holding ``report.html.j2`` (default: the copy shipped in
    ``sauti/templates``). Raises SautiError when a required key or the template is missing.
    """
    for key in ("name", "metrics"):
        if not context.get(key):
            raise SautiError(
                f"report context has no {key!r}", hint="pass the experiment name and metrics.json"
            )
    template = _load_template(template_dir)
    html = template.render(**build_view(context))
    write_text(out_path, html)


def build_view(context: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the loose report context into the fully formatted structure the template expects.

    Public so callers (and tests) can inspect what a report will show without parsing HTML.
    """
    metrics = context["metrics"]
    config = context.get("config") or {}
    task = metrics.get("type") or "classification"
    labels = _labels(metrics)
    return {
        "name": str(context["name"]),
        "title": str(context.get("title") or context["name"]),
        "author": context.get("author"),
        "version": str(context.get("version") or __version__),
        "generated_at": context.get("generated_at")
        or datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip(),
        "summary": _summary(context, metrics, config, task, labels),
        "runs": _runs(metrics.get("runs"), task),
        "cv": _cv(metrics.get("cv"), task),
        "augmentation": _augmentation(metrics.get("augmentation"), task),
        "data": _data(context.get("data_summary"), labels),
        "drops": _drops(context.get("drops")),
        "per_class": _per_class(metrics, labels),
        "confusion": _confusions(metrics, labels),
        "images": [_image(item) for item in context.get("images") or []],
        "config_yaml": _config_yaml(config) if config else None,
        "keys": [(str(k), str(v)) for k, v in (context.get("keys") or {}).items()],
        "provenance": _provenance(context.get("provenance")),
        "tests": _tests(context.get("tests")),
        "explore": _explore(context.get("explore")),
        "sections": [_section(item) for item in context.get("sections") or []],
    }


# --- formatting -------------------------------------------------------------------------------


def _provenance(record: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(what, value) rows of sauti.core.provenance.record: code, lock, libraries, data digests."""
    if not record:
        return []
    sauti = record.get("sauti") or {}
    rows = [("sauti", f"{sauti.get('version')} (commit {sauti.get('commit') or 'unknown'})")]
    rows.append(("lock files", record.get("lock") or "none found"))
    rows += [(name, str(v)) for name, v in (record.get("libraries") or {}).items()]
    for name, digests in (record.get("inputs") or {}).items():
        rows += [(f"database {name}: {k}", str(v)) for k, v in digests.items()]
    return rows


def fmt_metric(value: Any) -> str:
    """Three decimals for metrics; "n/a" for absent or NaN (e.g. PCC of constant predictions)."""
    number = _number(value)
    return "n/a" if number is None else f"{number:.3f}"


def fmt_share(part: float, whole: float) -> str:
    """A share as a percentage with one decimal; empty when the whole is zero."""
    return f"{100.0 * part / whole:.1f}%" if whole else ""


def fmt_duration(seconds: Any) -> str:
    """Hours and minutes for corpus sizes; seconds only for very small (test) sets."""
    number = _number(seconds)
    if number is None:
        return "n/a"
    if number < 59.95:  # would round to "60.0 s"
        return f"{number:.1f} s"
    seconds = round(number)
    if seconds >= 3600:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours} h {minutes:02d} min"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _count(value: Any) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{int(round(number)):,}"


# --- sections ---------------------------------------------------------------------------------


def _labels(metrics: Mapping[str, Any]) -> list[str]:
    """Class labels in the metrics' order; falls back to the per-class table's keys."""
    labels = metrics.get("labels")
    if not labels:
        per_class = (metrics.get("test") or {}).get("per_class") or {}
        labels = list(per_class)
    return [str(label) for label in labels or []]


def _headline(task: str) -> list[tuple[str, str]]:
    return HEADLINE.get(task, HEADLINE["classification"])


def _summary(context, metrics, config, task, labels) -> dict[str, Any]:
    facts = [
        ("Target", metrics.get("target") or _lookup(config, ("data", "target"), ("target",))),
        ("Task", task),
        ("Model", context.get("model_type") or _lookup(config, ("model", "type"), ("model",))),
        (
            "Features",
            context.get("feature_types")
            or _lookup(
                config,
                ("features", "types"),
                ("features", "type"),
                ("feats", "type"),
                ("features",),
            ),
        ),
    ]
    if task == "classification" and labels:
        facts.append(("Labels", labels))
    facts = [(name, _as_text(value)) for name, value in facts if value not in (None, "", [])]

    runs = metrics.get("runs") or {}
    chance = 1.0 / len(labels) if task == "classification" and labels else None
    splits = []
    for split in ("test", "dev", "test_per_speaker"):
        values = metrics.get(split)
        if not values:
            continue
        cards = []
        for key, title in _headline(task):
            if key not in values:
                continue
            notes = []
            if key == "uar" and chance is not None:
                notes.append(f"chance level {fmt_metric(chance)}")
            if split == "test" and f"{key}_mean" in runs:
                notes.append(f"{_mean_std(runs, key)} over {_n_runs(runs)}")
            cards.append({"title": title, "value": fmt_metric(values[key]), "notes": notes})
        if cards:
            n = values.get("n")
            per_speaker = split == "test_per_speaker"
            splits.append(
                {
                    "split": "test, one decision per speaker" if per_speaker else split,
                    "n": _count(n) if n is not None else None,
                    "unit": "speakers" if per_speaker else "samples",
                    "cards": cards,
                }
            )
    return {"facts": facts, "splits": splits}


def _lookup(config: Mapping[str, Any], *paths: tuple[str, ...]) -> Any:
    """First value found along any of the dotted `paths`; tolerant because configs evolve."""
    for path in paths:
        node: Any = config
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None and not isinstance(node, Mapping):
            return node
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _n_runs(runs: Mapping[str, Any]) -> str:
    n = runs.get("n") or len(runs.get("test") or [])
    return f"{n} runs"


def _mean_std(stats: Mapping[str, Any], key: str) -> str:
    return f"{fmt_metric(stats.get(f'{key}_mean'))} ± {fmt_metric(stats.get(f'{key}_std'))}"


def _metric_columns(rows: Iterable[Mapping[str, Any]], task: str) -> list[tuple[str, str]]:
    """The headline metrics that at least one row actually has, in display order."""
    rows = list(rows)
    return [(key, title) for key, title in _headline(task) if any(key in row for row in rows)]


def _mean_and_std(values: list[Any]) -> tuple[float | None, float | None]:
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    if not numbers:
        return None, None
    std = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    return statistics.fmean(numbers), std


def _runs(runs: Mapping[str, Any] | None, task: str) -> dict[str, Any] | None:
    """Per-run test metrics plus mean ± std; only worth a table when there are several runs."""
    per_run = list((runs or {}).get("test") or [])
    if len(per_run) < 2:
        return None
    columns = _metric_columns(per_run, task)
    rows = [
        [str(i + 1)] + [fmt_metric(run.get(key)) for key, _ in columns]
        for i, run in enumerate(per_run)
    ]
    summary = ["mean ± std"]
    for key, _ in columns:
        if f"{key}_mean" in runs:
            summary.append(_mean_std(runs, key))
        else:
            mean, std = _mean_and_std([run.get(key) for run in per_run])
            summary.append(f"{fmt_metric(mean)} ± {fmt_metric(std)}")
    return {
        "n": runs.get("n") or len(per_run),
        "header": ["Run"] + [title for _, title in columns],
        "rows": rows,
        "footer": summary,
    }


def _cv(cv: Mapping[str, Any] | None, task: str) -> dict[str, Any] | None:
    folds = list((cv or {}).get("folds") or [])
    if not folds:
        return None
    columns = _metric_columns(folds, task)
    show_n = any("n" in fold for fold in folds)
    header = ["Fold"] + [title for _, title in columns] + (["n"] if show_n else [])
    rows = []
    for i, fold in enumerate(folds):
        row = [str(fold.get("fold", i + 1))] + [fmt_metric(fold.get(key)) for key, _ in columns]
        if show_n:
            row.append(_count(fold.get("n")))
        rows.append(row)
    mean = cv.get("mean") or {}
    footer = ["mean"]
    for key, _ in columns:
        value = mean.get(key)
        if value is None:
            value, _std = _mean_and_std([fold.get(key) for fold in folds])
        footer.append(fmt_metric(value))
    if show_n:
        footer.append("")
    return {"method": cv.get("method"), "header": header, "rows": rows, "footer": footer}


def _augmentation(entry: Mapping[str, Any] | None, task: str) -> dict[str, Any] | None:
    """aug_train: headline metrics without and with augmentation, side by side (sauti.augment)."""
    if not entry:
        return None
    without, with_ = entry.get("without") or {}, entry.get("with") or {}
    rows = []
    for split in ("test", "dev", "test_per_speaker", "runs"):
        before, after = without.get(split) or {}, with_.get(split) or {}
        name = split.replace("_", " ")
        if split == "runs":  # mean over EXP.runs seeds
            name = f"test, mean of {after.get('n', '?')} runs"
            before = {k: before.get(f"{k}_mean") for k, _ in _headline(task)}
            after = {k: after.get(f"{k}_mean") for k, _ in _headline(task)}
        for key, title in _headline(task):
            old, new = _number(before.get(key)), _number(after.get(key))
            if old is None and new is None:
                continue
            change = "n/a" if old is None or new is None else f"{new - old:+.3f}"
            rows.append([name, title, fmt_metric(old), fmt_metric(new), change])
    described = [
        f"{item['type']} (" + ", ".join(f"{k} {v}" for k, v in item.items() if k != "type") + ")"
        for item in entry.get("augmentations") or []
    ]
    n_train = entry.get("n_train") or {}
    return {
        "header": ["Split", "Metric", "Without augmentation", "With augmentation", "Change"],
        "rows": rows,
        "augmentations": described,
        "copies": _count(entry.get("copies")),
        "selection": str(entry.get("sample_selection", "train")),
        "n_original": _count(n_train.get("original")),
        "n_augmented": _count(n_train.get("augmented")),
    }


def _order_splits(splits: Iterable[Any]) -> list[str]:
    names = list(dict.fromkeys(str(s) for s in splits))
    known = [s for s in SPLIT_ORDER if s in names]
    return known + [s for s in names if s not in known]


def _split_label_table(table: Any) -> pd.DataFrame | None:
    """Counts as a DataFrame with rows = labels and columns = splits, whatever the input shape."""
    if table is None:
        return None
    if isinstance(table, pd.DataFrame):
        frame = table
        if {"split", "label"} <= set(frame.columns):
            value = next((c for c in ("count", "n", "size") if c in frame.columns), None)
            if value is None:
                frame = frame.groupby(["label", "split"]).size().unstack("split")
            else:
                frame = frame.pivot_table(
                    index="label", columns="split", values=value, aggfunc="sum"
                )
    else:
        frame = pd.DataFrame(dict(table))
    if frame.empty:
        return None
    frame = frame.fillna(0)
    frame.index = [str(i) for i in frame.index]
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _data(summary: Mapping[str, Any] | None, labels: list[str]) -> dict[str, Any] | None:
    if not summary:
        return None
    counts = _split_label_table(summary.get("per_split_label"))
    speakers = {str(k): v for k, v in (summary.get("speakers") or {}).items()}
    durations = {str(k): v for k, v in (summary.get("duration_s") or {}).items()}
    databases = summary.get("databases") or {}

    label_table = None
    split_totals: dict[str, float] = {}
    if counts is not None:
        splits = _order_splits(counts.columns)
        rows_order = [lab for lab in labels if lab in counts.index]
        rows_order += [lab for lab in counts.index if lab not in rows_order]
        counts = counts.loc[rows_order, splits]
        split_totals = {s: float(counts[s].sum()) for s in splits}
        grand = float(counts.values.sum())
        rows = []
        for label in rows_order:
            cells = [
                {
                    "count": _count(counts.at[label, s]),
                    "share": fmt_share(counts.at[label, s], split_totals[s]),
                }
                for s in splits
            ]
            total = float(counts.loc[label].sum())
            cells.append({"count": _count(total), "share": fmt_share(total, grand)})
            rows.append({"label": label, "cells": cells})
        footer = [_count(split_totals[s]) for s in splits] + [_count(grand)]
        label_table = {"splits": splits, "rows": rows, "footer": footer}

    split_rows = []
    all_splits = _order_splits([*split_totals, *speakers, *durations])
    grand_samples = sum(split_totals.values())
    for split in all_splits:
        samples = split_totals.get(split)
        split_rows.append(
            {
                "split": split,
                "samples": _count(samples) if samples is not None else "",
                "share": fmt_share(samples, grand_samples) if samples is not None else "",
                "speakers": _count(speakers[split]) if split in speakers else "",
                "duration": fmt_duration(durations[split]) if split in durations else "",
            }
        )
    total_files = sum(_number(n) or 0 for n in databases.values())
    db_rows = [
        {"name": str(db), "files": _count(n), "share": fmt_share(_number(n) or 0, total_files)}
        for db, n in databases.items()
    ]
    if not (label_table or split_rows or db_rows):
        return None
    return {
        "labels": label_table,
        "splits": split_rows,
        "show_speakers": bool(speakers),
        "show_duration": bool(durations),
        "show_samples": bool(split_totals),
        "databases": db_rows,
    }


def _drops(entries) -> list[dict[str, Any]]:
    """The Data section's "left out" table: sauti.ml.drops entries (dicts or Drop objects); a
    drop of more than 10 % of a database is flagged, as in `sauti run`'s summary."""
    rows = []
    for entry in entries or []:
        drop = entry if isinstance(entry, Drop) else Drop(**entry)
        rows.append(
            {
                "stage": drop.stage,
                "database": drop.database,
                "reason": drop.reason,
                "kind": "filter" if drop.kind == "selected" else "dropped",
                "count": f"{drop.count} of {drop.total} {drop.unit}",
                "share": fmt_share(drop.count, drop.total),
                "examples": ", ".join(drop.examples),
                "warn": drop.warn,
            }
        )
    return rows


def _per_class(metrics: Mapping[str, Any], labels: list[str]) -> list[dict[str, Any]]:
    tables = []
    for split in ("test", "dev"):
        per_class = (metrics.get(split) or {}).get("per_class") or {}
        if not per_class:
            continue
        per_class = {str(k): v for k, v in per_class.items()}
        order = [lab for lab in labels if lab in per_class]
        order += [lab for lab in per_class if lab not in order]
        rows = [
            {
                "label": label,
                "precision": fmt_metric(per_class[label].get("precision")),
                "recall": fmt_metric(per_class[label].get("recall")),
                "f1": fmt_metric(per_class[label].get("f1")),
                "support": _count(per_class[label].get("support")),
            }
            for label in order
        ]
        tables.append({"split": split, "rows": rows})
    return tables


def _confusions(metrics: Mapping[str, Any], labels: list[str]) -> list[dict[str, Any]]:
    """Confusion matrices as tables; only when the matrix is square and matches the labels."""
    tables = []
    for split in ("test", "dev"):
        matrix = (metrics.get(split) or {}).get("confusion")
        if not matrix or not labels or len(matrix) != len(labels):
            continue
        if any(len(row) != len(labels) for row in matrix):
            continue
        rows = []
        for i, (label, row) in enumerate(zip(labels, matrix, strict=True)):
            # Shares are per true class (row), i.e. the recall view of the matrix.
            total = sum(_number(v) or 0 for v in row)
            cells = [
                {"count": _count(v), "share": fmt_share(_number(v) or 0, total), "diag": i == j}
                for j, v in enumerate(row)
            ]
            rows.append({"label": label, "cells": cells})
        tables.append({"split": split, "labels": labels, "rows": rows})
    return tables


def _tests(tests: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """DATA.tests results: headline cards, per-class table and plots per extra test database.

    `tests` items: {"name": db, "metrics": its metrics.json, "images": [{"path", "caption"}]}.
    """
    view = []
    for test in tests or []:
        metrics = test["metrics"]
        values = metrics.get("test") or {}
        task = metrics.get("type") or "classification"
        cards = [
            {"title": title, "value": fmt_metric(values[key])}
            for key, title in _headline(task)
            if key in values
        ]
        view.append(
            {
                "name": str(test["name"]),
                "n": _count(values.get("n")),
                "cards": cards,
                "per_class": _per_class(metrics, _labels(metrics)),
                "images": [_image(item) for item in test.get("images") or []],
            }
        )
    return view


def _explore(explore: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The explore stage's manifest: dataset statistics, the bias table, figures."""
    if not explore:
        return None
    stats = explore.get("stats") or {}
    facts = [
        (label, _as_text(stats.get(key)))
        for key, label in (
            ("samples", "Samples"),
            ("files", "Files"),
            ("speakers", "Speakers"),
            ("hours", "Hours"),
        )
        if stats.get(key) is not None
    ]
    bias = [
        {
            "column": row["column"],
            "test": row["test"],
            "statistic": fmt_metric(row.get("statistic")),
            "p": f"{row['p']:.2g}" if row.get("p") is not None else "n/a",
            "effect": str(row.get("effect", "")).replace("_", " "),
            "effect_size": fmt_metric(row.get("effect_size")),
            "flagged": bool(row.get("flagged")),
        }
        for row in explore.get("bias") or []
    ]
    return {
        "selection": explore.get("selection", "all"),
        "facts": facts,
        "bias": bias,
        "images": [_image(item) for item in explore.get("images") or []],
    }


def _section(item: Mapping[str, Any]) -> dict[str, Any]:
    """A data stage's section (SEGMENT, PREDICT): {id, title, note, table?, images}; numbers
    in the table are formatted like metrics."""
    table = item.get("table")
    if table:
        table = {
            "caption": str(table.get("caption") or ""),
            "header": [str(h) for h in table["header"]],
            "rows": [
                [fmt_metric(c) if isinstance(c, float) else _as_text(c) for c in row]
                for row in table["rows"]
            ],
        }
    return {
        "id": str(item["id"]),
        "title": str(item["title"]),
        "note": str(item.get("note") or ""),
        "table": table,
        "images": [_image(image) for image in item.get("images") or []],
    }


def _image(item: Mapping[str, Any]) -> dict[str, Any]:
    """Embed one figure as a data URI, or describe why it could not be embedded."""
    path = Path(str(item.get("path", "")))
    caption = str(item.get("caption") or path.stem)
    mime = IMAGE_MIME.get(path.suffix.lower())
    if mime is None:
        return {"caption": caption, "uri": None, "note": f"unsupported image type: {path}"}
    try:
        payload = path.read_bytes()
    except OSError:
        return {"caption": caption, "uri": None, "note": f"image not found: {path}"}
    encoded = base64.b64encode(payload).decode("ascii")
    return {"caption": caption, "uri": f"data:{mime};base64,{encoded}", "note": None}


def _plain(value: Any) -> Any:
    """Reduce a config to YAML-safe types (paths, numpy scalars, ... become plain values)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item"):
        return _plain(value.item())
    return str(value)


def _config_yaml(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)


def _load_template(template_dir: str | Path | None):
    import jinja2  # heavy: only report jobs render, not the DAG build

    folder = Path(template_dir) if template_dir is not None else DEFAULT_TEMPLATE_DIR
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    try:
        return env.get_template(TEMPLATE_NAME)
    except jinja2.TemplateNotFound as exc:
        raise SautiError(
            f"report template {folder / TEMPLATE_NAME} not found",
            hint="reinstall sauti so src/sauti/templates/ is included",
        ) from exc
