"""Ensemble methods on tiny hand-written probability tables with answers worked out by hand,
and the join of member tables by sample id (never by row position)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sauti.config.sections.ensemble import METHODS
from sauti.core.errors import SautiError
from sauti.stages.ensemble import combine, combine_regression, run_ensemble, uncertainty

# Three members, two samples, labels [f, m]; rows are P(f), P(m).
P = np.array(
    [
        [[0.9, 0.1], [0.6, 0.4]],  # member 1
        [[0.4, 0.6], [0.3, 0.7]],  # member 2
        [[0.5, 0.5], [0.2, 0.8]],  # member 3
    ]
)
F, M = 0, 1


def bits(p: float) -> float:
    """Binary entropy in bits = entropy / ln 2, the normalised uncertainty for two labels."""
    return 0.0 if p in (0.0, 1.0) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def test_uncertainty_is_normalised_entropy():
    u = uncertainty(P)
    assert u[0, 0] == pytest.approx(bits(0.9))  # 0.469
    assert u[2, 0] == pytest.approx(1.0)  # uniform: most uncertain
    assert uncertainty(np.array([1.0, 0.0, 0.0])) == 0.0  # one-hot: certain
    assert uncertainty(np.array([1 / 3, 1 / 3, 1 / 3])) == pytest.approx(1.0)


def test_mean():
    decision, proba = combine("mean", P)
    # sample 0: (0.9 + 0.4 + 0.5) / 3 = 0.6 for f; sample 1: (0.6 + 0.3 + 0.2) / 3 = 0.367 for f
    assert proba[:, F] == pytest.approx([0.6, 1.1 / 3])
    assert decision.tolist() == [F, M]


def test_sum_renormalises_and_decides_like_mean():
    decision, proba = combine("sum", P)
    # sums: sample 0 (1.8, 1.2) -> 0.6 / 0.4
    assert proba[0] == pytest.approx([0.6, 0.4])
    assert decision.tolist() == combine("mean", P)[0].tolist()


def test_max_takes_each_labels_largest_probability():
    decision, proba = combine("max", P)
    # sample 0: max f = 0.9, max m = 0.6 -> 0.9/1.5 = 0.6; sample 1: f 0.6, m 0.8 -> 0.6/1.4
    assert proba[0] == pytest.approx([0.6, 0.4])
    assert proba[1] == pytest.approx([0.6 / 1.4, 0.8 / 1.4])
    assert decision.tolist() == [F, M]


def test_max_differs_from_mean_when_one_member_is_sure():
    # labels a b c; mean says a (0.4), but member 2 gives c 0.7, the largest single probability
    p = np.array([[[0.6, 0.3, 0.1]], [[0.1, 0.2, 0.7]], [[0.5, 0.4, 0.1]]])
    assert combine("mean", p)[0].tolist() == [0]
    assert combine("max", p)[0].tolist() == [2]
    assert combine("max_class", p)[0].tolist() == [2]


def test_max_class_uses_the_most_confident_member():
    decision, proba = combine("max_class", P)
    # sample 0: top probabilities 0.9, 0.6, 0.5 -> member 1; sample 1: 0.6, 0.7, 0.8 -> member 3
    assert proba[0] == pytest.approx([0.9, 0.1])
    assert proba[1] == pytest.approx([0.2, 0.8])
    assert decision.tolist() == [F, M]


def test_majority_voting_counts_votes():
    votes = np.array([[F, F], [M, M], [M, M]])
    decision, share = combine("majority_voting", P, votes)
    assert decision.tolist() == [M, M]
    assert share[0] == pytest.approx([1 / 3, 2 / 3])


def test_majority_voting_tie_goes_to_the_higher_mean_probability():
    # two members: one votes f, one m; mean P(f) sample 0 = (0.9 + 0.4)/2 = 0.65 -> f,
    # sample 1 = (0.6 + 0.3)/2 = 0.45 -> m
    votes = np.array([[F, F], [M, M]])
    decision, share = combine("majority_voting", P[:2], votes)
    assert decision.tolist() == [F, M]
    assert share.tolist() == [[0.5, 0.5], [0.5, 0.5]]


def test_majority_voting_uses_the_members_own_labels_not_their_argmax():
    votes = np.array([[M, M], [M, M], [F, F]])  # member 1 predicts m although P(f) = 0.9
    assert combine("majority_voting", P, votes)[0].tolist() == [M, M]


def test_uncertainty_threshold():
    # u: member 1 (0.469, 0.971), member 2 (0.971, 0.881), member 3 (1.0, 0.722)
    decision, proba = combine("uncertainty_threshold", P, threshold=0.5)
    assert proba[0] == pytest.approx([0.9, 0.1])  # only member 1 is certain enough
    assert proba[1] == pytest.approx([0.2, 0.8])  # none is: the least uncertain (member 3)
    decision, proba = combine("uncertainty_threshold", P, threshold=0.9)
    assert proba[0] == pytest.approx([0.9, 0.1])
    assert proba[1] == pytest.approx([0.25, 0.75])  # members 2 and 3
    # the default threshold 1.0 keeps every member: plain mean
    _, proba = combine("uncertainty_threshold", P, threshold=1.0)
    assert proba == pytest.approx(combine("mean", P)[1])


def test_uncertainty_weighted():
    decision, proba = combine("uncertainty_weighted", P)
    w = [1 - bits(0.9), 1 - bits(0.6), 1 - bits(0.5)]  # 0.531, 0.029, 0.0
    expected = (w[0] * 0.9 + w[1] * 0.4 + w[2] * 0.5) / sum(w)
    assert proba[0, F] == pytest.approx(expected)  # 0.879: member 3 (uniform) has no say
    assert decision[0] == F
    uniform = np.full((2, 1, 2), 0.5)
    assert combine("uncertainty_weighted", uniform)[1] == pytest.approx(np.array([[0.5, 0.5]]))


def test_confidence_weighted():
    decision, proba = combine("confidence_weighted", P)
    # sample 0: weights 0.9, 0.6, 0.5 -> (0.81 + 0.24 + 0.25) / 2.0 = 0.65
    # sample 1: weights 0.6, 0.7, 0.8 -> (0.36 + 0.21 + 0.16) / 2.1 = 0.3476
    assert proba[:, F] == pytest.approx([0.65, 0.73 / 2.1])
    assert decision.tolist() == [F, M]


def test_performance_weighted():
    decision, proba = combine("performance_weighted", P, weights=[5, 3, 2])
    # weights 0.5, 0.3, 0.2: sample 0 0.45 + 0.12 + 0.10 = 0.67; sample 1 0.30 + 0.09 + 0.04
    assert proba[:, F] == pytest.approx([0.67, 0.43])
    assert decision.tolist() == [F, M]
    # all weight on member 1 follows it, also where the mean disagrees (sample 1)
    assert combine("performance_weighted", P, weights=[1, 0, 0])[0].tolist() == [F, F]
    with pytest.raises(SautiError, match="dev score is 0"):
        combine("performance_weighted", P, weights=[0, 0, 0])


def test_regression_methods():
    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
    assert combine_regression("mean", values).tolist() == [3.0, 5.0]
    assert combine_regression("performance_weighted", values, [1, 1, 0]).tolist() == [2.0, 3.0]
    with pytest.raises(
        SautiError, match="regression members support mean and performance_weighted"
    ):
        combine_regression("max_class", values)


def test_unknown_method():
    with pytest.raises(SautiError, match="unknown method 'median'"):
        combine("median", P)


# --------------------------------------------------------------------------- member tables


def member_table(probas_f, truth, order=None, dev=None) -> pd.DataFrame:
    files = [f"/data/s{i}.wav" for i in range(len(probas_f))]
    table = pd.DataFrame(
        {
            "run": 0,
            "split": "test",
            "file": files,
            "start": 0.0,
            "end": [1.0 + i / 10 for i in range(len(files))],
            "speaker": [f"spk{i}" for i in range(len(files))],
            "truth": truth,
            "prediction": ["f" if p >= 0.5 else "m" for p in probas_f],
            "proba_f": probas_f,
            "proba_m": [1 - p for p in probas_f],
        }
    )
    if dev is not None:
        dev_table = table.copy()
        dev_table["split"] = "dev"
        dev_table["file"] = [f.replace("/s", "/dev") for f in files]
        dev_table["proba_f"] = dev
        dev_table["proba_m"] = [1 - p for p in dev]
        dev_table["prediction"] = ["f" if p >= 0.5 else "m" for p in dev]
        table = pd.concat([table, dev_table], ignore_index=True)
    return table if order is None else table.iloc[order].reset_index(drop=True)


INFO = {"type": "classification", "labels": ["f", "m"], "target": "gender"}
TRUTH = ["f", "f", "m", "m"]


def test_members_are_joined_by_sample_id_not_row_position():
    a = member_table([0.9, 0.8, 0.3, 0.2], TRUTH)
    b = member_table([0.7, 0.6, 0.45, 0.1], TRUTH)
    reversed_b = b.iloc[::-1].reset_index(drop=True)
    straight = run_ensemble({"a": a, "b": b}, {"a": INFO, "b": INFO}, "mean")
    shuffled = run_ensemble({"a": a, "b": reversed_b}, {"a": INFO, "b": INFO}, "mean")
    pd.testing.assert_frame_equal(straight["predictions"], shuffled["predictions"])
    row = straight["predictions"].set_index("file").loc["/data/s2.wav"]
    assert row["proba_f"] == pytest.approx((0.3 + 0.45) / 2)
    assert straight["metrics"]["test"]["uar"] == 1.0
    # a row-position join of the reversed table would have paired s0 with s3 and erred
    assert list(straight["comparison"]["experiment"]) == ["a", "b", "ensemble (mean)"]


def test_predictions_follow_the_contract():
    a = member_table([0.9, 0.8, 0.3, 0.2], TRUTH)
    result = run_ensemble({"a": a, "b": a.copy()}, {"a": INFO, "b": INFO}, "max_class")
    assert list(result["predictions"].columns) == [
        *["file", "start", "end", "speaker", "truth", "prediction", "proba_f", "proba_m", "split"]
    ]
    metrics = result["metrics"]
    assert set(metrics) >= {"target", "type", "labels", "test", "ensemble"}
    assert metrics["ensemble"]["method"] == "max_class"


def test_member_test_sets_that_differ_stop_with_one_line():
    a = member_table([0.9, 0.8, 0.3, 0.2], TRUTH)
    b = member_table([0.9, 0.8, 0.3], TRUTH[:3])
    with pytest.raises(SautiError) as err:
        run_ensemble({"a": a, "b": b}, {"a": INFO, "b": INFO}, "mean")
    text = str(err.value)
    assert "\n" not in text
    assert "test sets differ (a 4, b 3 samples)" in text
    assert "1 of a's are not in b" in text and "e.g. /data/s3.wav [0.00-1.30 s] (only in a)" in text


def test_members_that_disagree_on_the_truth_stop():
    a = member_table([0.9, 0.8, 0.3, 0.2], TRUTH)
    b = member_table([0.9, 0.8, 0.3, 0.2], ["f", "m", "m", "m"])
    with pytest.raises(
        SautiError, match="disagree on the truth of 1 test samples, e.g. /data/s1.wav"
    ):
        run_ensemble({"a": a, "b": b}, {"a": INFO, "b": INFO}, "mean")


def test_performance_weighted_uses_dev_uar_and_needs_a_dev_split():
    # a is perfect on dev (UAR 1.0), b always says f on dev (UAR 0.5): weights 2/3, 1/3
    a = member_table([0.9, 0.8, 0.3, 0.2], TRUTH, dev=[0.9, 0.9, 0.1, 0.1])
    b = member_table([0.4, 0.4, 0.8, 0.8], TRUTH, dev=[0.9, 0.9, 0.9, 0.9])
    result = run_ensemble({"a": a, "b": b}, {"a": INFO, "b": INFO}, "performance_weighted")
    weights = result["metrics"]["ensemble"]["weights"]
    assert weights == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    test = result["predictions"].query("split == 'test'").set_index("file")
    assert test.loc["/data/s0.wav", "proba_f"] == pytest.approx(2 / 3 * 0.9 + 1 / 3 * 0.4)
    assert result["metrics"]["test"]["uar"] == 1.0  # the mean would have been fooled on s2, s3
    assert (
        run_ensemble({"a": a, "b": b}, {"a": INFO, "b": INFO}, "mean")["metrics"]["test"]["uar"]
        < 1.0
    )
    no_dev = member_table([0.9, 0.8, 0.3, 0.2], TRUTH)
    with pytest.raises(SautiError, match="b has no dev predictions.*traindevtest"):
        run_ensemble({"a": a, "b": no_dev}, {"a": INFO, "b": INFO}, "performance_weighted")


def test_regression_members():
    info = {"type": "regression", "labels": None, "target": "rate"}
    a = member_table([0.0] * 4, [100.0, 120.0, 140.0, 160.0]).drop(columns=["proba_f", "proba_m"])
    b = a.copy()
    a["prediction"] = [110.0, 120.0, 130.0, 170.0]
    b["prediction"] = [90.0, 140.0, 150.0, 150.0]
    result = run_ensemble({"a": a, "b": b}, {"a": info, "b": info}, "mean")
    assert result["predictions"]["prediction"].tolist() == [100.0, 130.0, 140.0, 160.0]
    assert set(result["metrics"]["test"]) >= {"ccc", "pcc", "mae", "mse"}
    with pytest.raises(SautiError, match="needs class probabilities"):
        run_ensemble({"a": a, "b": b}, {"a": info, "b": info}, "max")


def test_members_with_other_labels_stop():
    other = {**INFO, "labels": ["f", "m", "x"]}
    a = member_table([0.9, 0.8, 0.3, 0.2], TRUTH)
    with pytest.raises(SautiError, match="different labels"):
        run_ensemble({"a": a, "b": a.copy()}, {"a": INFO, "b": other}, "mean")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_probabilities_that_sum_to_one(method):
    votes = np.array([[F, M], [M, M], [F, M]])
    decision, proba = combine(method, P, votes, weights=[1, 2, 3])
    assert proba.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert set(decision.tolist()) <= {F, M}
