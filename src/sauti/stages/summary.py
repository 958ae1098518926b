"""Comparisons over several experiments: grid / list summaries and the multidb matrix, plus
the small table, plot and HTML helpers that ensembles and OPTIM share.

Why the summaries read each member's evaluate metrics.json (a keyed cache) rather than the
user-facing results/<name>/ copies: those are the outputs Snakemake tracks, so a summary is
re-made exactly when a member's result changes, and it never reads a half-updated report folder.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sauti import __version__
from sauti.core.fileio import read_json, write_table, write_text
from sauti.stages.base import StageSpec

#: Scores shown per task, in order; the first is the headline the comparisons rank by.
SCORES = {
    "classification": ("uar", "accuracy", "f1_macro"),
    "regression": ("ccc", "pcc", "mae", "mse"),
}
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"


def headline(task: str) -> str:
    return SCORES[task][0]


# --------------------------------------------------------------------------- small helpers


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured markdown table; floats with `digits` decimals, NaN as an empty cell."""

    def cell(value) -> str:
        if isinstance(value, float | np.floating):
            return "" if math.isnan(value) else f"{value:.{digits}f}"
        return str(value).replace("|", "\\|")

    header = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def flat_scores(metrics: dict) -> dict:
    """Flat scores of one metrics.json: test scores, dev headline, runs mean ± std, CV mean."""
    task = metrics["type"]
    key = headline(task)
    row = {"type": task}
    test = metrics.get("test") or {}
    for name in SCORES[task]:
        row[name] = test.get(name, np.nan)
    row["n_test"] = test.get("n", np.nan)
    if metrics.get("dev"):
        row[f"dev_{key}"] = metrics["dev"].get(key, np.nan)
    if metrics.get("runs"):
        row[f"{key}_runs_mean"] = metrics["runs"].get(f"{key}_mean", np.nan)
        row[f"{key}_runs_std"] = metrics["runs"].get(f"{key}_std", np.nan)
    if metrics.get("cv"):
        row[f"cv_{key}"] = (metrics["cv"].get("mean") or {}).get(key, np.nan)
    return row


def rank(values, lower_is_better: bool = False) -> list[int]:
    """1 = best; ties share the better rank; NaN ranks last."""
    series = pd.Series(values, dtype=float)
    ranks = series.rank(ascending=lower_is_better, method="min", na_option="bottom")
    return [int(r) for r in ranks]


# --------------------------------------------------------------------------- plots


def bar_plot(
    names,
    values,
    path,
    title: str,
    metric: str,
    errors=None,
    highlight: int | None = None,
) -> Path:
    """Horizontal bars, one per entry in the given order, the value printed at each bar's end;
    `highlight` (the best setting, or the ensemble) is drawn in another colour."""
    from sauti.ml.plots import new_figure, save_figure  # heavy: matplotlib

    values = np.asarray(values, dtype=float)
    n = len(values)
    fig, ax = new_figure((7.5, max(2.2, 0.42 * n + 1.4)))
    colours = ["tab:orange" if i == highlight else "tab:blue" for i in range(n)]
    positions = np.arange(n)[::-1]
    ax.barh(
        positions,
        np.nan_to_num(values),
        xerr=None if errors is None else np.nan_to_num(np.asarray(errors, dtype=float)),
        color=colours,
        capsize=3,
    )
    for pos, value in zip(positions, values, strict=True):
        if not math.isnan(value):
            ax.text(value, pos, f" {value:.3f}", va="center", fontsize=8)
    ax.set_yticks(positions, labels=[str(x) for x in names], fontsize=8)
    upper = np.nanmax(values) if n and not np.isnan(values).all() else 1.0
    ax.set_xlim(min(0.0, float(np.nanmin(values)) if n else 0.0), max(1.0, float(upper) * 1.15))
    ax.set_xlabel(metric)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path, "png")


def heatmap_plot(matrix: pd.DataFrame, path, title: str, metric: str) -> Path:
    """Train database (rows) x test database (columns), each cell annotated with its score."""
    from sauti.ml.plots import new_figure, save_figure  # heavy: matplotlib

    values = matrix.to_numpy(dtype=float)
    size = max(4.0, 1.1 * max(values.shape) + 2.0)
    fig, ax = new_figure((size, size * 0.85))
    image = ax.imshow(values, cmap="viridis", vmin=np.nanmin([0.0, np.nanmin(values)]), vmax=1.0)
    for row in range(values.shape[0]):
        for col in range(values.shape[1]):
            text = "" if np.isnan(values[row, col]) else f"{values[row, col]:.3f}"
            colour = "black" if values[row, col] > 0.6 else "white"
            ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=10)
    ax.set_xticks(range(values.shape[1]), labels=list(matrix.columns), rotation=30, ha="right")
    ax.set_yticks(range(values.shape[0]), labels=list(matrix.index))
    ax.set_xlabel("test database")
    ax.set_ylabel("train database")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label=metric, shrink=0.8)
    return save_figure(fig, path, "png")


# --------------------------------------------------------------------------- HTML


def render_page(
    title: str, paragraphs: list[str], tables: list, images: list, out_path, details=None
) -> None:
    """A small self-contained HTML page: text, tables [(caption, DataFrame)], embedded images
    [(path, caption)] and optional details [(label, value)]; written atomically."""
    import jinja2  # heavy: only summary jobs render, not the DAG build

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    view_tables = []
    for caption, table in tables:
        rows = [
            [
                ""
                if isinstance(v, float) and math.isnan(v)
                else f"{v:.3f}"
                if isinstance(v, float | np.floating)
                else str(v)
                for v in row
            ]
            for row in table.itertuples(index=False)
        ]
        view_tables.append(
            {"caption": caption, "columns": list(map(str, table.columns)), "rows": rows}
        )
    view_images = [
        {
            "src": "data:image/png;base64," + base64.b64encode(Path(p).read_bytes()).decode(),
            "caption": caption,
        }
        for p, caption in images
    ]
    html = env.get_template("summary.html.j2").render(
        title=title,
        paragraphs=paragraphs,
        tables=view_tables,
        images=view_images,
        details=details or [],
        version=__version__,
    )
    write_text(out_path, html)


# --------------------------------------------------------------------------- grid / list


def grid_table(metrics: list[dict], params: dict) -> pd.DataFrame:
    """One row per member experiment: name, grid values, test scores (dev, runs and CV when
    present) and rank (1 = best test headline: UAR, or CCC for regression), best first (ties
    keep the grid's order), so the table reads as a leaderboard."""
    rows = []
    for name, result in zip(params["members"], metrics, strict=True):
        row = {"experiment": name}
        for axis, value in zip(params["axes"], params["values"].get(name, []), strict=False):
            row[axis] = value
        row.update(flat_scores(result))
        rows.append(row)
    table = pd.DataFrame(rows)
    score = [row[headline(row["type"])] for row in rows]
    table["rank"] = rank(score)
    return table.sort_values("rank", kind="stable").reset_index(drop=True)


def grid_summary_stage(metrics_paths: list[str], params: dict, outputs: dict) -> pd.DataFrame:
    """summary.csv, summary.md and summary.png comparing a grid's (or a list's) experiments."""
    metrics = [read_json(p) for p in metrics_paths]
    table = grid_table(metrics, params)
    write_table(outputs["table"], table)
    best = table.loc[table["rank"].idxmin()]
    key = headline(best["type"])
    what = (
        "grid over " + ", ".join(f"`{a}`" for a in params["axes"])
        if params["axes"]
        else "listed experiments"
    )
    text = [
        f"# {params['name']}: {len(table)} experiments ({what})",
        "",
        f"Best: **{best['experiment']}** (test {key} {best[key]:.3f}). `rank` orders by the "
        "test headline score (UAR, or CCC for regression).",
        "",
        markdown_table(table.drop(columns=["type"])),
    ]
    write_text(outputs["markdown"], "\n".join(text))
    spread = f"{key}_runs_std"
    bar_plot(
        table["experiment"],
        [row[headline(row["type"])] for _, row in table.iterrows()],
        outputs["plot"],
        f"{params['name']}: test {key} per experiment"
        + (" (error bars: std over runs)" if spread in table else ""),
        key,
        errors=table[spread] if spread in table else None,
        highlight=int(table["rank"].idxmin()),
    )
    return table


# --------------------------------------------------------------------------- multidb


def multidb_summary_stage(metrics_paths: list[str], params: dict, outputs: dict) -> pd.DataFrame:
    """matrix.csv/.md (train db rows x test db columns, test headline score), cells.csv and
    heatmap.png."""
    dbs = params["databases"]
    cells = []
    for (train, test, name), path in zip(params["cells"], metrics_paths, strict=True):
        cells.append(
            {"train": train, "test": test, "experiment": name, **flat_scores(read_json(path))}
        )
    table = pd.DataFrame(cells)
    key = headline(table["type"].iloc[0])
    matrix = table.pivot(index="train", columns="test", values=key).reindex(index=dbs, columns=dbs)
    matrix.index.name = "train"
    write_table(outputs["cells"], table)
    write_table(outputs["matrix"], matrix.reset_index())
    shown = matrix.reset_index().rename(columns={"train": "train \\ test"})
    write_text(
        outputs["markdown"],
        f"# {params['name']}: test {key} per train (rows) and test (columns) database\n\n"
        "Off the diagonal the model is trained on the whole train database and tested on the "
        "whole test database; on the diagonal the database is split by its own split_strategy.\n\n"
        + markdown_table(shown),
    )
    heatmap_plot(matrix, outputs["plot"], f"{params['name']}: test {key}", key)
    return matrix


SPEC = StageSpec("summary")
