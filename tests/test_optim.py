"""OPTIM: the settings a search tries, and speaker-grouped CV on real praat features."""

from __future__ import annotations

import numpy as np
import pytest

from sauti.config.sections.optim import normalise_section
from sauti.core.errors import SautiError
from sauti.ml.data import ID
from sauti.stages.optim import best_row, cv_search, folds, settings


def test_grid_settings_are_every_combination():
    found = settings({"C_val": [0.1, 1], "kernel": ["rbf", "linear"]}, "grid")
    assert len(found) == 4
    assert {(s["C_val"], s["kernel"]) for s in found} == {
        (0.1, "rbf"),
        (0.1, "linear"),
        (1, "rbf"),
        (1, "linear"),
    }


def test_ranges_in_a_grid():
    (log,) = [settings({"C_val": {"min": 0.01, "max": 100, "log": True, "num": 5}})]
    assert [s["C_val"] for s in log] == pytest.approx([0.01, 0.1, 1, 10, 100])
    ints = settings({"K_val": {"min": 1, "max": 9, "int": True, "num": 5}})
    assert [s["K_val"] for s in ints] == [1, 3, 5, 7, 9]
    assert all(isinstance(s["K_val"], int) for s in ints)


def test_random_settings_are_seeded_and_in_range():
    spec = {
        "C_val": {"min": 0.001, "max": 10, "log": True},
        "K_val": {"min": 1, "max": 20, "int": True},
    }
    a = settings(spec, "random", n_iter=6, seed=1)
    assert a == settings(spec, "random", n_iter=6, seed=1)
    assert a != settings(spec, "random", n_iter=6, seed=2)
    assert len(a) == 6
    assert all(0.001 <= s["C_val"] <= 10 and 1 <= s["K_val"] <= 20 for s in a)
    assert all(isinstance(s["K_val"], int) for s in a)


def test_random_search_over_lists_never_repeats():
    found = settings({"C_val": [0.1, 1, 10]}, "random", n_iter=10, seed=0)
    assert sorted(s["C_val"] for s in found) == [0.1, 1, 10]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({}, "OPTIM.params is empty"),
        ({"C_val": {"min": 10, "max": 1}}, "min .* must be below max"),
        ({"C_val": {"min": 0, "max": 1, "log": True}}, "log range needs min > 0"),
    ],
)
def test_bad_settings(spec, message):
    with pytest.raises(SautiError, match=message):
        settings(spec)


def test_nkululeko_flat_section():
    section = normalise_section({"model": "svm", "search_strategy": "grid", "C_val": [1, 2]})
    assert section == {"model": "svm", "search": "grid", "params": {"C_val": [1, 2]}}


#: 16 speakers (8 female, 8 male; real and espeak): enough voices for 3 speaker-grouped folds.
SPEAKERS = [
    *["allison", "june", "carlo", "menardi", "gcin_m", "gcin_f", "codec2_m", "codec2_f"],
    *["espeak_en-us_f1", "espeak_en-us_f2", "espeak_en-us_m1", "espeak_en-us_m2"],
    *["espeak_de_f3", "espeak_de_f4", "espeak_de_m3", "espeak_de_m4"],
]


@pytest.fixture(scope="module")
def praat_data(demo_table):
    from sauti.ml.features import extract

    rows = demo_table[demo_table["speaker"].isin(SPEAKERS)].groupby("speaker").head(5)
    rows = rows.reset_index(drop=True)
    X = extract("praat", rows[ID], {}).reset_index(drop=True)
    return X, rows["gender"].astype(str).to_numpy(), rows["speaker"].astype(str).to_numpy()


PARAMS = {
    "type": "classification",
    "scale": "standard",
    "balancing": None,
    "MODEL": {"type": "svm", "C_val": 1.0, "kernel": "rbf"},
}


def test_folds_never_split_a_speaker(praat_data):
    X, y, groups = praat_data
    for train, held_out in folds(y, groups, "classification", 4, 42):
        assert not set(groups[train]) & set(groups[held_out])


def test_cv_search_on_real_features_picks_the_best_setting(praat_data):
    X, y, groups = praat_data
    candidates = [{"C_val": 1e-4}, {"C_val": 1.0}, {"C_val": 10.0}]
    labels = sorted(set(y))
    table = cv_search(X, y, groups, PARAMS, labels, candidates, "uar", 3, 42)
    assert list(table["C_val"]) == [1e-4, 1.0, 10.0]
    assert {"cv_mean", "cv_std", "fold_0", "fold_2"} <= set(table.columns)
    fold_scores = table[[f"fold_{i}" for i in range(3)]]
    assert np.allclose(fold_scores.mean(axis=1), table["cv_mean"])
    assert np.allclose(fold_scores.std(axis=1, ddof=0), table["cv_std"])
    best = best_row(table, "uar")
    assert table.loc[best, "cv_mean"] == table["cv_mean"].max()
    # C = 1e-4 barely fits anything: a deliberately bad setting, clearly below the best
    assert best != 0
    assert table.loc[best, "cv_mean"] > table.loc[0, "cv_mean"] + 0.05
    # the same folds for every setting: re-running one setting alone gives the same score
    again = cv_search(X, y, groups, PARAMS, labels, [candidates[best]], "uar", 3, 42)
    assert again.loc[0, "cv_mean"] == table.loc[best, "cv_mean"]


def test_lower_is_better_metrics_pick_the_minimum():
    import pandas as pd

    table = pd.DataFrame({"cv_mean": [3.0, 1.0, 2.0]})
    assert best_row(table, "mae") == 1 and best_row(table, "ccc") == 0
