"""Plots of the explore stage (seaborn on matplotlib's Agg backend, saved atomically).

Why seaborn here and not in sauti.ml.plots: distribution plots by group (violin, box, counts) are
what seaborn does well, and only exploration needs them. Every figure comes from
sauti.ml.plots.new_figure (matplotlib's object API, no pyplot state), so explore jobs can run
as threads of Snakemake's process next to each other and to the evaluate jobs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from sauti.ml.plots import new_figure, save_figure  # noqa: E402

KINDS = ("violin", "box", "bar", "strip")


def value_counts_plot(
    data: pd.DataFrame, columns: list[str], path: Path, title: str, per_speaker: bool, fmt: str
) -> Path:
    """Counts of one column (bars) or of a pair of columns (grouped bars), per sample or per speaker."""
    table = data.drop_duplicates("speaker") if per_speaker and "speaker" in data else data
    fig, ax = new_figure((7, 4))
    x = table[columns[0]].astype(str)
    hue = table[columns[1]].astype(str) if len(columns) > 1 else None
    sns.countplot(x=x, hue=hue, ax=ax, order=sorted(x.unique()))
    ax.set_xlabel(columns[0])
    ax.set_ylabel("speakers" if per_speaker else "samples")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return save_figure(fig, path, fmt)


def bias_overview_plot(table: pd.DataFrame, path: Path, title: str, fmt: str) -> Path:
    """Effect size of every tested column; flagged ones (medium+ effect, p < 0.05) in red."""
    fig, ax = new_figure((7, max(2.5, 0.45 * len(table) + 1.2)))
    colours = ["tab:red" if f else "tab:blue" for f in table["flagged"]]
    labels = [
        f"{c} ({e.replace('_', ' ')})"
        for c, e in zip(table["column"], table["effect"], strict=True)
    ]
    ax.barh(labels[::-1], table["effect_size"].to_numpy()[::-1], color=colours[::-1])
    ax.set_xlabel("effect size (Cramér's V, ε², or |r|)")
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path, fmt)


def bias_pair_plot(data: pd.DataFrame, column: str, target: str, x_categorical: bool, y_categorical: bool,
                   path: Path, title: str, kind: str, fmt: str) -> Path:  # fmt: skip
    """The shape of one column-target relation: stacked shares, distributions by group, or a scatter."""
    fig, ax = new_figure((7, 4.5))
    frame = data[[column, target]].dropna()
    if x_categorical and y_categorical:
        shares = pd.crosstab(
            frame[column].astype(str), frame[target].astype(str), normalize="index"
        )
        shares.plot(kind="bar", stacked=True, ax=ax, colormap="tab20")
        ax.set_ylabel(f"share of {target}")
        ax.legend(title=target, bbox_to_anchor=(1.01, 1), loc="upper left")
    elif x_categorical or y_categorical:
        group, value = (column, target) if x_categorical else (target, column)
        _distribution(frame, group, value, ax, kind)
    else:
        sns.regplot(x=frame[column].astype(float), y=frame[target].astype(float), ax=ax,
                    scatter_kws={"s": 10, "alpha": 0.5}, line_kws={"color": "tab:red"})  # fmt: skip
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return save_figure(fig, path, fmt)


def _distribution(frame: pd.DataFrame, group: str, value: str, ax, kind: str) -> None:
    x, y = frame[group].astype(str), frame[value].astype(float)
    order = sorted(x.unique())
    if kind == "box":
        sns.boxplot(x=x, y=y, ax=ax, order=order)
    elif kind == "bar":
        sns.barplot(x=x, y=y, ax=ax, order=order, errorbar="sd")
    elif kind == "strip":
        sns.stripplot(x=x, y=y, ax=ax, order=order, size=3, alpha=0.6)
    else:
        sns.violinplot(x=x, y=y, ax=ax, order=order, cut=0, inner="quartile")
    ax.set_xlabel(group)
    ax.set_ylabel(value)


def feature_plot(values: pd.Series, target: pd.Series, path: Path, title: str, kind: str, classification: bool,
                 fmt: str) -> Path:  # fmt: skip
    """One feature against the target (distribution per class, or a scatter for regression)."""
    fig, ax = new_figure((6, 4))
    frame = pd.DataFrame({"feature": values.to_numpy(float), "target": target.to_numpy()})
    if classification:
        _distribution(frame, "target", "feature", ax, kind)
    else:
        sns.regplot(x=frame["target"].astype(float), y=frame["feature"], ax=ax,
                    scatter_kws={"s": 10, "alpha": 0.5}, line_kws={"color": "tab:red"})  # fmt: skip
    ax.set_ylabel(str(values.name))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, fmt)


def scatter_plot(
    coords: np.ndarray, colour_by: pd.Series, path: Path, title: str, fmt: str
) -> Path:
    """2-D projection coloured by a column (the target, or the speaker)."""
    fig, ax = new_figure((6.5, 5))
    values = colour_by.astype(str).to_numpy()
    categories = sorted(set(values))
    if len(categories) <= 20:
        sns.scatterplot(
            x=coords[:, 0],
            y=coords[:, 1],
            hue=values,
            hue_order=categories,
            s=14,
            ax=ax,
            linewidth=0,
        )
        ax.legend(title=colour_by.name, bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
    else:  # many speakers: colours without a legend
        codes = pd.Series(values).astype("category").cat.codes
        ax.scatter(coords[:, 0], coords[:, 1], c=codes, cmap="nipy_spectral", s=12)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path, fmt)


def tree_plot(
    estimator, feature_names: list[str], class_names, path: Path, title: str, fmt: str
) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from sklearn.tree import plot_tree

    fig, ax = new_figure((14, 7))
    FigureCanvasAgg(fig)  # plot_tree measures its boxes with the canvas's renderer
    plot_tree(estimator, max_depth=3, feature_names=feature_names, class_names=class_names, filled=True,
              fontsize=7, ax=ax, impurity=False)  # fmt: skip
    ax.set_title(title)
    return save_figure(fig, path, fmt)
