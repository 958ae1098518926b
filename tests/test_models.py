"""Model, scaler and balancing factories on small synthetic feature matrices."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight

from sauti.core.errors import SautiError
from sauti.ml.metrics import ccc
from sauti.ml.models import (
    CLASSIFIERS,
    REGRESSORS,
    LabelEncodedClassifier,
    balance,
    fit_model,
    make_model,
    make_scaler,
    predict_proba,
)

LABELS = np.array(["angry", "happy", "neutral"])


def model_cfg(kind: str, **overrides) -> dict:
    """A MODEL section with Nkululeko's defaults, as the config loader will hand it over."""
    cfg = {
        "type": kind,
        "C_val": 1.0,
        "kernel": "rbf",
        "gamma": "scale",
        "K_val": 5,
        "knn_weights": "uniform",
        "n_estimators": 100,
        "max_depth": 6,
        "class_weight": False,
        "GMM_components": 4,
        "GMM_covariance_type": "diag",
        "learning_rate": 0.0001,
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="module")
def separable():
    """Three well-separated classes with string labels, split 2:1 into train and test."""
    X, codes = make_classification(
        n_samples=180,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=3.0,
        random_state=0,
    )
    y = LABELS[codes]
    return X[:120], y[:120], X[120:], y[120:]


@pytest.fixture(scope="module")
def imbalanced():
    """Two overlapping classes, 90 % vs 10 %: a model without weighting favours the majority."""
    X, codes = make_classification(
        n_samples=200,
        n_features=4,
        n_informative=2,
        n_redundant=0,
        weights=[0.9, 0.1],
        class_sep=0.5,
        flip_y=0,
        random_state=1,
    )
    return X, np.array(["major", "minor"])[codes]


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4))
    y = X @ np.array([1.0, -0.5, 0.3, 0.0]) + rng.normal(scale=0.1, size=200)
    return X[:140], y[:140], X[140:], y[140:]


# ------------------------------------------------------------------------------- classifiers


@pytest.mark.parametrize("kind", CLASSIFIERS)
def test_classifier_beats_chance_with_label_ordered_probabilities(kind, separable):
    X_train, y_train, X_test, y_test = separable
    model = fit_model(
        make_model(model_cfg(kind), "classification", seed=0, n_classes=3),
        X_train,
        y_train,
        class_weight=False,
    )
    pred = model.predict(X_test)
    assert set(pred) <= set(LABELS)
    assert np.mean(pred == y_test) > 0.8  # chance is 1/3

    proba = model.predict_proba(X_test)
    assert list(model.classes_) == sorted(LABELS)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    # columns follow classes_: the most probable column is the predicted label
    assert np.mean(model.classes_[proba.argmax(axis=1)] == pred) > 0.95


def test_predict_proba_reorders_columns_and_fills_unseen_labels(separable):
    X_train, y_train, X_test, _ = separable
    model = fit_model(make_model(model_cfg("bayes"), "classification", 0), X_train, y_train, False)
    raw = model.predict_proba(X_test)
    wanted = ["neutral", "surprised", "angry", "happy"]
    aligned = predict_proba(model, X_test, wanted)
    np.testing.assert_allclose(aligned[:, 0], raw[:, 2])
    np.testing.assert_allclose(aligned[:, 1], 0.0)
    np.testing.assert_allclose(aligned[:, 2], raw[:, 0])
    np.testing.assert_allclose(aligned[:, 3], raw[:, 1])


def test_class_weight_moves_svm_decisions_towards_the_minority(imbalanced):
    X, y = imbalanced
    plain = fit_model(make_model(model_cfg("svm"), "classification", 0), X, y, False)
    weighted_cfg = model_cfg("svm", class_weight=True)
    weighted = fit_model(make_model(weighted_cfg, "classification", 0), X, y, True)
    plain_minor = np.sum(plain.predict(X) == "minor")
    weighted_minor = np.sum(weighted.predict(X) == "minor")
    assert weighted_minor > plain_minor
    # recall of the minority class improves, which is what UAR rewards
    minority = y == "minor"
    assert np.mean(weighted.predict(X[minority]) == "minor") > np.mean(
        plain.predict(X[minority]) == "minor"
    )


@pytest.mark.parametrize("class_weight", [False, True])
def test_svm_predicts_like_svc_and_keeps_calibrated_probabilities(imbalanced, class_weight):
    """Labels come from the SVC's decision function (as SVC.predict and Nkululeko), fitted with
    the same balanced weights; probabilities stay Platt-calibrated rows summing to 1."""
    X, y = imbalanced
    cfg = model_cfg("svm", class_weight=class_weight)
    model = fit_model(make_model(cfg, "classification", 0), X, y, class_weight)
    weights = compute_sample_weight("balanced", y) if class_weight else None
    svc = SVC(C=1.0, kernel="rbf", gamma="scale").fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(model.predict(X), svc.predict(X))
    np.testing.assert_allclose(model.decision_function(X), svc.decision_function(X))
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == ["major", "minor"]
    # the probabilities order the samples like the margin does (Platt's sigmoid is monotone)
    order = np.argsort(model.decision_function(X))
    assert np.all(np.diff(proba[order, 1]) >= -1e-12)


def test_svm_bundle_pickled_and_loaded_predicts_the_same(tmp_path, separable):
    """Model bundles are joblib pickles: a loaded svm predicts and scores as the fitted one."""
    X, y, X_test, _ = separable
    model = fit_model(make_model(model_cfg("svm"), "classification", 0), X, y, False)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))


class _WeightSpy(ClassifierMixin, BaseEstimator):
    """Records the sample weights it was fitted with (stands in for XGBClassifier)."""

    def fit(self, X, y, sample_weight=None):
        self.sample_weight_ = sample_weight
        self.y_ = np.asarray(y)
        self.classes_ = np.unique(y)
        return self


def test_fit_model_gives_estimators_without_class_weight_balanced_sample_weights(imbalanced):
    X, y = imbalanced
    model = fit_model(LabelEncodedClassifier(_WeightSpy()), X, y, class_weight=True)
    weights = model.estimator_.sample_weight_
    codes = model.estimator_.y_
    assert set(codes) == {0, 1}  # xgb sees integer codes, not strings
    assert weights is not None
    # "balanced": every class carries the same total weight
    assert weights[codes == 0].sum() == pytest.approx(weights[codes == 1].sum())
    unweighted = fit_model(LabelEncodedClassifier(_WeightSpy()), X, y, class_weight=False)
    assert unweighted.estimator_.sample_weight_ is None


def test_xgb_with_class_weight_predicts_more_minority(imbalanced):
    X, y = imbalanced
    cfg = model_cfg("xgb", n_estimators=30, max_depth=2)
    plain = fit_model(make_model(cfg, "classification", 0), X, y, False)
    weighted = fit_model(make_model(cfg, "classification", 0), X, y, True)
    assert np.sum(weighted.predict(X) == "minor") > np.sum(plain.predict(X) == "minor")


def test_gmm_class_weight_uses_uniform_priors(imbalanced):
    X, y = imbalanced
    model = fit_model(
        make_model(model_cfg("gmm", class_weight=True), "classification", 0), X, y, True
    )
    np.testing.assert_allclose(np.exp(model.log_priors_), [0.5, 0.5])
    plain = fit_model(make_model(model_cfg("gmm"), "classification", 0), X, y, False)
    assert np.exp(plain.log_priors_)[0] == pytest.approx(np.mean(y == "major"))


def test_gmm_copes_with_a_class_smaller_than_its_components():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (30, 3)), rng.normal(6, 1, (2, 3))])
    y = np.array(["a"] * 30 + ["b"] * 2)
    model = fit_model(make_model(model_cfg("gmm"), "classification", 0), X, y, False)
    assert model.mixtures_[1].n_components == 2
    assert list(model.predict(X[30:])) == ["b", "b"]
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)


def test_model_parameters_come_from_config_and_learning_rate_stays_out_of_xgb():
    xgb = make_model(model_cfg("xgb", n_estimators="50", max_depth=3), "classification", 7)
    params = xgb.estimator.get_params()
    assert (params["n_estimators"], params["max_depth"]) == (50, 3)
    assert params["learning_rate"] is None
    assert (params["random_state"], params["n_jobs"], params["tree_method"]) == (7, 1, "hist")

    knn = make_model(model_cfg("knn", K_val="3", knn_weights="distance"), "classification", 0)
    assert (knn.n_neighbors, knn.weights) == (3, "distance")
    svm = make_model(
        model_cfg("svm", C_val="10", kernel="linear", class_weight="True"), "classification", 0
    )
    assert (svm.C, svm.kernel, svm.class_weight) == (10.0, "linear", "balanced")


# -------------------------------------------------------------------------------- regressors


@pytest.mark.parametrize("kind", REGRESSORS)
def test_regressor_tracks_a_linear_target(kind, linear):
    X_train, y_train, X_test, y_test = linear
    model = fit_model(
        make_model(model_cfg(kind, n_estimators=50), "regression", 0),
        X_train,
        y_train,
        class_weight=True,
    )  # ignored for regression
    assert ccc(y_test, model.predict(X_test)) > 0.5


# ---------------------------------------------------------------------------- config errors


def test_unknown_model_type_suggests_the_closest_name():
    with pytest.raises(
        SautiError, match=r"MODEL\.type: unknown model 'svn' \(did you mean 'svm'\?\)"
    ):
        make_model(model_cfg("svn"), "classification", 0)


def test_unknown_model_suggestion_follows_the_task():
    with pytest.raises(SautiError, match=r"did you mean 'svr'"):
        make_model(model_cfg("svn"), "regression", 0)
    with pytest.raises(SautiError, match=r"unknown model 'forest'; use one of svm, xgb"):
        make_model(model_cfg("forest"), "classification", 0)


def test_classifier_in_a_regression_experiment_is_refused():
    with pytest.raises(SautiError) as err:
        make_model(model_cfg("svm"), "regression", 0)
    message = str(err.value)
    assert "MODEL.type: 'svm' is a classifier but EXP.type is regression" in message
    assert "svr, xgr" in message


def test_regressor_in_a_classification_experiment_is_refused():
    with pytest.raises(SautiError, match="'xgr' is a regressor but EXP.type is classification"):
        make_model(model_cfg("xgr"), "classification", 0)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"C_val": "abc"}, "MODEL.C_val"),
        ({"C_val": -1}, "MODEL.C_val"),
        ({"kernel": "rbff"}, "MODEL.kernel"),
        ({"gamma": "sometimes"}, "MODEL.gamma"),
        ({"class_weight": "maybe"}, "MODEL.class_weight"),
    ],
)
def test_bad_model_values_name_their_key(overrides, key):
    with pytest.raises(SautiError, match=key.replace(".", r"\.")):
        make_model(model_cfg("svm", **overrides), "classification", 0)


def test_svm_with_a_single_sample_class_is_a_clear_error():
    X = np.arange(10, dtype=float).reshape(5, 2)
    model = make_model(model_cfg("svm"), "classification", 0)
    with pytest.raises(SautiError, match=r"'svm' needs at least 2 .* class 'b' has 1"):
        fit_model(model, X, np.array(["a", "a", "a", "a", "b"]), class_weight=False)


def test_single_class_training_data_is_refused():
    with pytest.raises(SautiError, match="at least 2 classes"):
        make_model(model_cfg("svm"), "classification", 0, n_classes=1)


# ----------------------------------------------------------------------------------- scaling


def test_speaker_scaler_normalises_each_speaker_on_its_own():
    rng = np.random.default_rng(4)
    speakers = np.repeat(["s1", "s2", "s3"], 20)
    offsets = np.repeat([[0.0, 100.0], [50.0, -3.0], [-20.0, 7.0]], 20, axis=0)
    X = rng.normal(size=(60, 2)) * 5 + offsets
    X[speakers == "s3", 1] = 7.0  # constant feature for one speaker: std 0 must not give NaN
    scaled = make_scaler("speaker").fit(X, speakers).transform(X, speakers)
    assert np.isfinite(scaled).all()
    for speaker in ("s1", "s2", "s3"):
        rows = scaled[speakers == speaker]
        np.testing.assert_allclose(rows.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(scaled[speakers == "s1"].std(axis=0), 1.0)
    np.testing.assert_allclose(scaled[speakers == "s3", 1], 0.0)


def test_speaker_scaler_uses_test_speakers_own_statistics():
    train = np.arange(12, dtype=float).reshape(6, 2)
    test = train + 1000.0  # unseen speaker, far away: still centred on itself
    scaler = make_scaler("speaker").fit(train, ["a"] * 6)
    np.testing.assert_allclose(scaler.transform(test, ["z"] * 6).mean(axis=0), 0.0, atol=1e-9)


@pytest.mark.parametrize("kind", ["standard", "robust", "minmax"])
def test_scaler_statistics_come_from_training_data_only(kind):
    rng = np.random.default_rng(5)
    train = rng.normal(size=(50, 3))
    shifted = train + 5.0
    scaler = make_scaler(kind).fit(train, speakers=None)
    on_train = scaler.transform(train)
    on_shifted = scaler.transform(shifted)
    # a scaler refitted on the test set would map the shifted copy onto on_train exactly
    assert not np.allclose(on_shifted, on_train)
    if kind == "standard":
        np.testing.assert_allclose(on_shifted.mean(axis=0), 5.0 / train.std(axis=0))


def test_scaler_keeps_dataframe_layout():
    frame = pd.DataFrame({"f0": [1.0, 2.0, 3.0], "f1": [10.0, 20.0, 60.0]}, index=["x", "y", "z"])
    scaled = make_scaler("standard").fit_transform(frame)
    assert isinstance(scaled, pd.DataFrame)
    assert list(scaled.index) == ["x", "y", "z"] and list(scaled.columns) == ["f0", "f1"]
    np.testing.assert_allclose(scaled.mean(), 0.0, atol=1e-12)


@pytest.mark.parametrize("kind", [None, False, "none", ""])
def test_no_scaling_leaves_values_alone(kind):
    X = np.array([[1.0, 200.0], [3.0, -4.0]])
    np.testing.assert_array_equal(make_scaler(kind).fit_transform(X), X)


def test_unknown_scaler_is_refused():
    with pytest.raises(
        SautiError, match=r"FEATS\.scale: unknown scaler 'standart' \(did you mean 'standard'"
    ):
        make_scaler("standart")


def test_speaker_scaling_without_speakers_is_refused():
    with pytest.raises(SautiError, match=r"FEATS\.scale: 'speaker'"):
        make_scaler("speaker").fit_transform(np.zeros((3, 2)))


# --------------------------------------------------------------------------------- balancing


def _counts(y) -> dict:
    labels, counts = np.unique(y, return_counts=True)
    return dict(zip(labels.tolist(), counts.tolist(), strict=True))


@pytest.mark.parametrize("method", ["ros", "smote"])
def test_oversampling_equalises_class_counts(method, imbalanced):
    X, y = imbalanced
    before = _counts(y)
    X_res, y_res = balance(X, y, method, seed=0)
    after = _counts(y_res)
    assert after["minor"] == after["major"] == before["major"]
    assert len(X_res) == len(y_res)


def test_undersampling_shrinks_the_majority(imbalanced):
    X, y = imbalanced
    _, y_res = balance(X, y, "rus", seed=0)
    assert _counts(y_res) == {"major": _counts(y)["minor"], "minor": _counts(y)["minor"]}


@pytest.mark.parametrize("method", ["adasyn", "borderlinesmote"])
def test_adaptive_oversamplers_add_minority_samples(method, imbalanced):
    X, y = imbalanced
    _, y_res = balance(X, y, method, seed=0)
    assert _counts(y_res)["minor"] > _counts(y)["minor"]
    assert _counts(y_res)["major"] == _counts(y)["major"]


def test_smote_reduces_neighbours_for_a_tiny_class():
    rng = np.random.default_rng(6)
    X = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(3, 1, (3, 2))])
    y = np.array(["a"] * 20 + ["b"] * 3)
    _, y_res = balance(X, y, "smote", seed=0)  # default k=5 would need 6 samples of b
    assert _counts(y_res) == {"a": 20, "b": 20}


def test_smote_with_a_single_sample_class_is_a_clear_error():
    X = np.arange(10, dtype=float).reshape(5, 2)
    with pytest.raises(SautiError, match=r"FEATS\.balancing: 'smote' needs .* class 'b' has 1"):
        balance(X, np.array(["a", "a", "a", "a", "b"]), "smote", seed=0)


def test_no_balancing_returns_the_input_unchanged(imbalanced):
    X, y = imbalanced
    X_res, y_res = balance(X, y, None, seed=0)
    assert X_res is X and y_res is y


def test_unknown_balancing_is_refused(imbalanced):
    X, y = imbalanced
    with pytest.raises(
        SautiError, match=r"FEATS\.balancing: unknown method 'smot' \(did you mean 'smote'"
    ):
        balance(X, y, "smot", seed=0)
