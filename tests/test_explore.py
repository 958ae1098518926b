"""Explore stage library: the bias check flags confounds and not independent columns; plots."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sauti.core.errors import SautiError
from sauti.ml.features import extract
from sauti.stages import explore


@pytest.fixture(scope="module")
def table(demo_table) -> pd.DataFrame:
    """The demo corpus with a column built to go with gender and one that is independent of it."""
    data = demo_table.copy()
    data["split"] = "train"
    data["duration"] = data["end"] - data["start"]
    rng = np.random.default_rng(1)
    female = (data["gender"] == "female").to_numpy()
    data["site"] = np.where(female, rng.choice(["a", "b"], len(data), p=[0.85, 0.15]),
                            rng.choice(["a", "b"], len(data), p=[0.15, 0.85]))  # fmt: skip
    data["coin"] = rng.choice(["heads", "tails"], len(data))
    data["loudness"] = np.where(female, 1.0, 0.0) + rng.normal(scale=0.5, size=len(data))
    data["noise"] = rng.normal(size=len(data))
    return data


def test_bias_check_flags_a_confound_and_not_an_independent_column(table):
    result = explore.bias_table(table, "gender", "classification").set_index("column")
    assert result.loc["site", "test"] == "chi-squared" and result.loc["site", "flagged"]
    assert result.loc["site", "effect_size"] > 0.5
    assert not result.loc["coin", "flagged"] and result.loc["coin", "effect_size"] < 0.15
    assert result.loc["loudness", "test"] == "Kruskal-Wallis" and result.loc["loudness", "flagged"]
    assert not result.loc["noise", "flagged"]
    assert "file" not in result.index and "split" not in result.index
    assert "speaker" not in result.index  # speaker-level targets always "depend" on the speaker


def test_numeric_target_uses_correlation(table):
    data = table.assign(
        score=table["loudness"] * 2 + np.random.default_rng(2).normal(scale=0.3, size=len(table))
    )
    result = explore.bias_table(
        data, "score", "regression", ["loudness", "noise", "site"]
    ).set_index("column")
    assert result.loc["loudness", "test"] == "Pearson" and result.loc["loudness", "flagged"]
    assert abs(result.loc["noise", "statistic"]) < 0.15 and not result.loc["noise", "flagged"]
    assert result.loc["site", "test"] == "Kruskal-Wallis"


def test_cramers_v_and_cohens_d_by_hand():
    assert explore.cramers_v(np.array([[10, 0], [0, 10]])) == pytest.approx(1.0)
    assert explore.cramers_v(np.array([[5, 5], [5, 5]])) == pytest.approx(0.0)
    assert explore.cohens_d(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])) == 0.0
    assert explore.cohens_d(np.array([2.0, 3, 4]), np.array([1.0, 2, 3])) == pytest.approx(1.0)


def test_unknown_column_is_one_clear_error(table):
    with pytest.raises(SautiError, match="no column 'sitee'"):
        explore.bias_table(table, "gender", "classification", ["sitee"])


def test_run_writes_manifest_plots_and_ranks_pitch_like_features(tmp_path, table):
    rows = table.groupby("speaker").head(4).reset_index(drop=True)
    features = extract("praat", rows[["file", "start", "end"]], {}, progress=False)
    params = {
        "target": "gender", "type": "classification", "random_seed": 42, "name": "t",
        "PLOT": {"kind": "violin", "format": "png"}, "sample_selection": "all",
        "value_counts": [["gender"], ["language", "gender"]], "feature_distributions": True,
        "max_feats": 3, "model": ["log_reg", "tree"], "permutation": False, "scatter": ["pca", "tsne"],
        "plot_tree": True, "shap": False,
    }  # fmt: skip
    manifest = explore.run(rows, features, params, tmp_path)
    assert manifest == json.loads((tmp_path / "explore.json").read_text())
    assert manifest["stats"]["speakers"] == rows["speaker"].nunique()
    for image in manifest["images"]:
        assert (tmp_path / image["file"]).read_bytes()[:4] == b"\x89PNG", image
    names = {image["file"] for image in manifest["images"]}
    assert {"counts_0_sample.png", "counts_1_speaker.png", "bias_overview.png", "bias_site.png",
            "scatter_pca_gender.png", "scatter_tsne_speaker.png", "tree.png"} <= names  # fmt: skip
    top = list(manifest["importance"]["tree"])
    assert len(top) == 3 and any(  # e.g. praat_meanF0Hz, praat_stdevF0Hz
        "f0" in name.lower() for name in top + list(manifest["importance"]["log_reg"])
    )
    assert pd.read_csv(tmp_path / "bias.csv").set_index("column").loc["site", "flagged"]


def test_sample_selection_restricts_to_one_split(tmp_path, table):
    data = table.assign(split=np.where(table.index % 4 == 0, "test", "train"))
    params = {"target": "gender", "type": "classification", "random_seed": 1, "name": "t",
              "PLOT": {"kind": "box", "format": "png"}, "sample_selection": "test"}  # fmt: skip
    manifest = explore.run(data, None, params, tmp_path)
    assert manifest["stats"]["samples"] == int((data["split"] == "test").sum())


def test_shap_ranks_the_feature_that_decides_the_label_first(tmp_path, table):
    """Real praat features of real speech plus one column that alone decides the label (binary)
    and three classes (multi-class plot): SHAP must put that column first both times."""
    rows = table.groupby("speaker").head(3).reset_index(drop=True)
    features = extract("praat", rows[["file", "start", "end"]], {}, progress=False)
    rng = np.random.default_rng(0)
    params = {"target": "label", "type": "classification", "random_seed": 42, "name": "t",
              "PLOT": {"kind": "box", "format": "png"}, "sample_selection": "all", "bias": False,
              "max_feats": 5, "shap": True}  # fmt: skip
    for classes in (["a", "b"], ["a", "b", "c"]):
        label = rng.choice(classes, size=len(rows))
        data = rows.assign(label=label)
        decisive = features.assign(decisive=pd.Series(label).map({"a": -1.0, "b": 0.0, "c": 1.0}))
        out = tmp_path / str(len(classes))
        manifest = explore.run(data, decisive, params, out)
        assert list(manifest["shap"])[0] == "decisive" and len(manifest["shap"]) == 5
        assert (out / "shap.png").read_bytes()[:4] == b"\x89PNG"
        assert "shap.png" in {image["file"] for image in manifest["images"]}
