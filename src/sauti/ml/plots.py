"""Result plots: confusion matrix, regression scatter, spread over runs and over CV folds.

Why these choices: the Agg backend is forced because rules run headless on clusters; every file
goes through atomic_path so an interrupted job never leaves a truncated image that Snakemake
would treat as done. Figures are made with matplotlib's object API (`new_figure`), never
pyplot: the light rules run as threads inside the Snakemake process (`run:` blocks), and
pyplot's current-figure registry is global state that two plotting jobs at once would share;
a `Figure` nobody registered is freed like any object (no close needed, nothing kept alive).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402  (must follow the backend choice)

from sauti.core.errors import SautiError  # noqa: E402
from sauti.core.fileio import atomic_path  # noqa: E402
from sauti.ml.metrics import ccc  # noqa: E402

FORMATS = ("png", "pdf", "svg")
_DPI = 150


def new_figure(figsize: tuple[float, float]):
    """(figure, axes) outside pyplot's registry, safe to draw in several threads at once."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def confusion_matrix_plot(
    confusion, labels: Sequence[str], path, title: str, fmt: str = "png"
) -> Path:
    """Heat map of counts (rows = truth, columns = prediction) annotated with row percentages.

    Row percentages are per-class recall, so the diagonal reads directly as what UAR averages;
    the caller puts the UAR itself into `title`.
    """
    counts = np.asarray(confusion, dtype=int)
    row_totals = counts.sum(axis=1, keepdims=True)
    percent = np.divide(
        100.0 * counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0
    )
    size = max(4.0, 0.9 * len(labels) + 2.0)
    fig, ax = new_figure((size, size))
    ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for row in range(counts.shape[0]):
        for col in range(counts.shape[1]):
            colour = "white" if percent[row, col] > 50 else "black"
            text = f"{counts[row, col]}\n{percent[row, col]:.1f}%"
            ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=9)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels=[str(label) for label in labels], rotation=45, ha="right")
    ax.set_yticks(ticks, labels=[str(label) for label in labels])
    ax.set_xlabel("prediction")
    ax.set_ylabel("truth")
    ax.set_title(title)
    return save_figure(fig, path, fmt)


def regression_scatter_plot(truth, pred, path, title: str, fmt: str = "png") -> Path:
    """Prediction against truth with the identity line; the CCC is appended to `title`.

    The identity line (not a fitted line) is drawn because CCC measures agreement with it.
    """
    truth = np.asarray(truth, dtype=float)
    pred = np.asarray(pred, dtype=float)
    fig, ax = new_figure((5, 5))
    ax.scatter(truth, pred, s=12, alpha=0.6)
    low = float(min(truth.min(), pred.min()))
    high = float(max(truth.max(), pred.max()))
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("truth")
    ax.set_ylabel("prediction")
    ax.set_title(f"{title} (CCC {ccc(truth, pred):.3f})")
    return save_figure(fig, path, fmt)


def runs_plot(
    values: Sequence[float], path, title: str, metric: str = "uar", fmt: str = "png"
) -> Path:
    """Box plot with every run's value as a point, to show the seed-to-seed spread (runs > 1)."""
    values = np.asarray(values, dtype=float)
    fig, ax = new_figure((3.5, 4.5))
    ax.boxplot(values, widths=0.5)
    jitter = np.random.default_rng(0).uniform(-0.08, 0.08, size=len(values))
    ax.scatter(1 + jitter, values, s=18, zorder=3)
    ax.set_xticks([1], labels=[f"{len(values)} runs"])
    ax.set_ylabel(metric)
    ax.set_title(f"{title}\nmean {values.mean():.3f} ± {values.std():.3f}")
    return save_figure(fig, path, fmt)


def cv_folds_plot(fold_values: Sequence[float], path, title: str, fmt: str = "png") -> Path:
    """One bar per cross-validation fold and a line at their mean, to spot an outlier fold."""
    values = np.asarray(fold_values, dtype=float)
    folds = np.arange(1, len(values) + 1)
    fig, ax = new_figure((max(4.0, 0.5 * len(values) + 2.0), 4))
    ax.bar(folds, values, color="tab:blue")
    ax.axhline(values.mean(), color="tab:red", linestyle="--", label=f"mean {values.mean():.3f}")
    ax.set_xticks(folds)
    ax.set_xlabel("fold")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return save_figure(fig, path, fmt)


def save_figure(fig, path, fmt: str) -> Path:
    """Write `fig` atomically in `fmt` and close it, also when writing fails."""
    try:
        if fmt not in FORMATS:
            raise SautiError(
                f"PLOT.format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}"
            )
        path = Path(path)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=_DPI)
        return path
    finally:
        if fig.canvas.manager is not None:  # a pyplot figure (explore_plots): drop it from pyplot
            import matplotlib.pyplot as plt

            plt.close(fig)
