"""Metrics against hand-computed values, and the result plots as real files."""

from __future__ import annotations

import json
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from sauti.core.errors import SautiError
from sauti.ml.metrics import (
    ccc,
    classification_metrics,
    combine_per_speaker,
    mean_std,
    regression_metrics,
)
from sauti.ml.plots import confusion_matrix_plot, cv_folds_plot, regression_scatter_plot, runs_plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# ---------------------------------------------------------------------------- classification


def test_classification_metrics_match_hand_computed_values():
    result = classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    assert set(result) == {"uar", "accuracy", "f1_macro", "per_class", "n", "confusion"}
    assert result["uar"] == pytest.approx(0.75)  # recalls 1/2 and 2/2
    assert result["accuracy"] == pytest.approx(0.75)
    # a: precision 1, recall 1/2, f1 2/3; b: precision 2/3, recall 1, f1 4/5
    assert result["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    )
    assert result["per_class"]["b"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    )
    assert result["f1_macro"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert result["confusion"] == [[1, 1], [0, 2]]
    assert result["n"] == 4
    json.dumps(result)  # plain Python types only


def test_uar_differs_from_accuracy_on_imbalanced_truth():
    result = classification_metrics(["a", "a", "a", "b"], ["a", "a", "a", "a"], ["a", "b"])
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["uar"] == pytest.approx(0.5)
    assert result["per_class"]["b"]["precision"] == 0.0  # never predicted: 0, not NaN


def test_label_missing_from_truth_has_zero_support_and_is_left_out_of_uar():
    result = classification_metrics(["a", "b"], ["a", "c"], ["a", "b", "c"])
    assert result["per_class"]["c"]["support"] == 0
    assert result["uar"] == pytest.approx(0.5)  # mean of a (1.0) and b (0.0) only
    assert result["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_labels_are_compared_as_strings():
    result = classification_metrics([0, 1, 1], ["0", "1", "0"], ["0", "1"])
    assert result["accuracy"] == pytest.approx(2 / 3)


def test_truth_label_outside_the_label_list_is_an_error():
    with pytest.raises(SautiError, match="not among the experiment's labels"):
        classification_metrics(["a", "x"], ["a", "a"], ["a", "b"])


def test_empty_test_set_is_an_error():
    with pytest.raises(SautiError, match="empty"):
        classification_metrics([], [], ["a"])


# -------------------------------------------------------------------------------- regression


def test_ccc_of_identical_vectors_is_one():
    values = [0.1, 0.5, 0.9, 0.3]
    assert ccc(values, values) == pytest.approx(1.0)


def test_ccc_penalises_a_shift_that_pearson_ignores():
    truth = np.array([1.0, 2.0, 3.0])
    shifted = truth + 1.0
    # cov 2/3, variances 2/3 each, mean difference 1: 2*(2/3) / (4/3 + 1) = 4/7
    assert ccc(truth, shifted) == pytest.approx(4 / 7)
    result = regression_metrics(truth, shifted)
    assert result["pcc"] == pytest.approx(1.0)
    assert result["ccc"] < 1.0
    assert result["mae"] == pytest.approx(1.0) and result["mse"] == pytest.approx(1.0)
    assert result["n"] == 3


def test_regression_metrics_hand_values():
    result = regression_metrics([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 5.0])
    assert result["mae"] == pytest.approx(0.5)
    assert result["mse"] == pytest.approx(1.0)
    assert set(result) == {"ccc", "pcc", "mae", "mse", "n"}


def test_constant_input_gives_zero_correlations_not_nan():
    result = regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert result["pcc"] == 0.0 and result["ccc"] == 0.0
    assert ccc([5.0, 5.0], [5.0, 5.0]) == 0.0
    json.dumps(result)


# ---------------------------------------------------------------------------------- mean/std


def test_mean_std_over_runs_covers_top_level_scalars_only():
    runs = [
        {"uar": 0.5, "accuracy": 0.6, "per_class": {"a": {}}, "confusion": [[1]], "n": 10},
        {"uar": 0.7, "accuracy": 0.8, "per_class": {"a": {}}, "confusion": [[1]], "n": 10},
    ]
    summary = mean_std(runs)
    assert summary["uar_mean"] == pytest.approx(0.6)
    assert summary["uar_std"] == pytest.approx(0.1)  # population std of 0.5, 0.7
    assert summary["accuracy_mean"] == pytest.approx(0.7)
    assert summary["n_mean"] == 10 and summary["n_std"] == 0
    assert not any(key.startswith(("per_class", "confusion")) for key in summary)
    assert mean_std([]) == {}


# ------------------------------------------------------------------------------- per speaker


@pytest.fixture
def speaker_table() -> pd.DataFrame:
    """s1's majority vote says 'a' but its mean probability says 'b'; s2 is plainly 'b'."""
    return pd.DataFrame(
        {
            "speaker": ["s1", "s1", "s1", "s2", "s2"],
            "truth": ["a", "a", "a", "b", "b"],
            "prediction": ["a", "a", "b", "b", "b"],
            "proba_a": [0.6, 0.6, 0.0, 0.2, 0.1],
            "proba_b": [0.4, 0.4, 1.0, 0.8, 0.9],
        }
    )


def test_combine_per_speaker_by_majority_vote(speaker_table):
    combined = combine_per_speaker(speaker_table, "mode", "classification")
    assert list(combined.columns) == ["speaker", "truth", "prediction"]
    assert combined.to_dict("records") == [
        {"speaker": "s1", "truth": "a", "prediction": "a"},
        {"speaker": "s2", "truth": "b", "prediction": "b"},
    ]


def test_combine_per_speaker_by_mean_probability(speaker_table):
    combined = combine_per_speaker(speaker_table, "mean", "classification")
    # s1: mean proba_a = 0.4 < mean proba_b = 0.6
    assert combined["prediction"].tolist() == ["b", "b"]
    assert combined["truth"].tolist() == ["a", "b"]


def test_combine_per_speaker_regression_means():
    table = pd.DataFrame(
        {
            "speaker": ["y", "x", "x", "y"],
            "truth": [30.0, 20.0, 20.0, 30.0],
            "prediction": [26.0, 18.0, 24.0, 30.0],
        }
    )
    combined = combine_per_speaker(table, "mean", "regression")
    assert combined.to_dict("records") == [
        {"speaker": "x", "truth": 20.0, "prediction": 21.0},
        {"speaker": "y", "truth": 30.0, "prediction": 28.0},
    ]
    with pytest.raises(SautiError, match="use 'mean'"):
        combine_per_speaker(table, "mode", "regression")


def test_combine_per_speaker_mean_without_probabilities_is_an_error(speaker_table):
    with pytest.raises(SautiError, match="proba_"):
        combine_per_speaker(
            speaker_table[["speaker", "truth", "prediction"]], "mean", "classification"
        )


# ------------------------------------------------------------------------------------- plots


def _assert_clean_png(path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert not [name for name in os.listdir(path.parent) if name.endswith(".part")]
    assert plt.get_fignums() == []  # figure closed after saving


def test_confusion_matrix_plot_writes_a_png(tmp_path):
    path = tmp_path / "plots" / "confusion.png"
    written = confusion_matrix_plot([[5, 1], [0, 4]], ["a", "b"], path, "svm: UAR 0.900")
    assert written == path
    _assert_clean_png(path)


def test_confusion_matrix_plot_copes_with_an_empty_row(tmp_path):
    path = tmp_path / "confusion.png"
    confusion_matrix_plot([[2, 0, 1], [0, 0, 0], [1, 0, 3]], ["a", "b", "c"], path, "t")
    _assert_clean_png(path)


def test_regression_scatter_plot_writes_a_png(tmp_path):
    path = tmp_path / "scatter.png"
    regression_scatter_plot([1.0, 2.0, 3.0, 4.0], [1.2, 1.9, 3.3, 3.8], path, "age")
    _assert_clean_png(path)


def test_runs_and_folds_plots_write_pngs(tmp_path):
    runs_plot([0.61, 0.64, 0.58], tmp_path / "runs.png", "runs", metric="uar")
    cv_folds_plot([0.5, 0.7, 0.6, 0.65], tmp_path / "folds.png", "folds")
    _assert_clean_png(tmp_path / "runs.png")
    _assert_clean_png(tmp_path / "folds.png")


def test_plots_in_other_formats(tmp_path):
    confusion_matrix_plot([[1, 0], [0, 1]], ["a", "b"], tmp_path / "c.pdf", "t", fmt="pdf")
    regression_scatter_plot([1.0, 2.0], [1.0, 2.5], tmp_path / "s.svg", "t", fmt="svg")
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (tmp_path / "s.svg").read_bytes()[:2000]


def test_unknown_plot_format_is_refused_and_leaves_nothing(tmp_path):
    with pytest.raises(SautiError, match=r"PLOT\.format"):
        runs_plot([0.5], tmp_path / "r.gif", "t", fmt="gif")
    assert os.listdir(tmp_path) == []
    assert plt.get_fignums() == []
