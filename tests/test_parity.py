"""Parity with Nkululeko: every classic MODEL.type predicts what Nkululeko's estimator predicts.

Users compare sauti with Nkululeko on the same INI, so for each classic model type the test
predictions on real audio (eGeMAPS functionals of the demo corpus, speaker-independent split,
standard scaling fitted on train) must equal those of the scikit-learn/xgboost estimator built
with Nkululeko 1.14.1's defaults for that type (read from its nkululeko/models/model_<type>.py),
or the test names the documented reason why not (docs/benchmarks.md, "Parity with Nkululeko"). sauti's side is
its real training path (config defaults from the schema -> training.fit_pipeline ->
training.predict_rows); the reference side is the bare estimator as Nkululeko builds it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error
from sklearn.mixture import GaussianMixture
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from xgboost import XGBClassifier, XGBRegressor

from sauti.config.resolve import resolve
from sauti.ml.features import extract
from sauti.ml.metrics import classification_metrics
from sauti.ml.training import fit_pipeline, predict_rows

SEED = 42  # EXP.random_seed's default, and the random_state Nkululeko hard-codes


# Nkululeko's SVC(probability=True): scikit-learn 1.9 deprecates the parameter (sauti uses the
# CalibratedClassifierCV it recommends); SVC.predict still decides by the decision function.
pytestmark = pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")

#: Nkululeko 1.14.1's estimator per type with the defaults of its MODEL keys.
NKULULEKO = {
    "svm": lambda: SVC(kernel="rbf", C=1.0, gamma="scale", probability=True, random_state=SEED),
    "xgb": lambda: XGBClassifier(
        n_estimators=100, max_depth=6, learning_rate=0.3, subsample=1.0, random_state=SEED
    ),
    "knn": lambda: KNeighborsClassifier(n_neighbors=5, weights="uniform"),
    "tree": lambda: DecisionTreeClassifier(random_state=SEED),
    "bayes": GaussianNB,
    "gmm": lambda: GaussianMixture(n_components=4, covariance_type="full", random_state=SEED),
    "svr": lambda: SVR(kernel="rbf", C=0.001),
    "xgr": XGBRegressor,
    "knn_reg": lambda: KNeighborsRegressor(n_neighbors=5, weights="uniform"),
    "tree_reg": DecisionTreeRegressor,  # unseeded in Nkululeko
    "lin_reg": LinearRegression,
}
CLASSIFIERS_EQUAL = ("svm", "xgb", "knn", "tree", "bayes")
REGRESSORS_EQUAL = ("xgr", "knn_reg", "lin_reg")


@pytest.fixture(scope="module")
def demo_features(demo_table) -> pd.DataFrame:
    """eGeMAPS functionals of every demo recording (real and espeak speech)."""
    return extract("os", demo_table, {"set": "eGeMAPSv02", "level": "functionals"}, False)


def speaker_split(table: pd.DataFrame) -> np.ndarray:
    """True for test rows: every fourth speaker in sorted order, so no speaker is in both."""
    speakers = sorted(table["speaker"].unique())
    return table["speaker"].isin(speakers[::4]).to_numpy()


def task_data(demo_table, demo_features, task: str):
    """(X_train, y_train, speakers_train, X_test, y_test) for gender or speaking rate."""
    if task == "classification":
        rows = np.ones(len(demo_table), dtype=bool)
        y = demo_table["gender"].astype(str).to_numpy()
    else:  # espeak clips carry the words-per-minute they were synthesised at
        rows = demo_table["rate"].notna().to_numpy()
        y = demo_table["rate"].to_numpy(dtype=float)
    table, X, y = demo_table[rows], demo_features[rows], y[rows]
    test = speaker_split(table)
    return X[~test], y[~test], table["speaker"].to_numpy()[~test], X[test], y[test]


def sauti_predict(data, kind: str, task: str, **model_keys) -> np.ndarray:
    """Test predictions of sauti's training path with the config defaults for `kind`."""
    X_train, y_train, speakers, X_test, _ = data
    raw = {
        "EXP": {"name": "parity", "type": task},
        "DATA": {"databases": ["demo"], "demo": {"path": "demo.csv"}, "target": "gender"},
        "FEATS": {"type": ["os"]},
        "MODEL": {"type": kind, **model_keys},
    }
    cfg = resolve(raw)
    params = {
        "type": task,
        "scale": cfg["FEATS"]["scale"],
        "balancing": cfg["FEATS"].get("balancing"),
        "MODEL": cfg["MODEL"],
    }
    labels = sorted(set(y_train)) if task == "classification" else None
    seed = cfg["EXP"]["random_seed"]
    scaler, model = fit_pipeline(X_train, y_train, speakers, params, seed, labels)
    return predict_rows(scaler, model, X_test, None, params, labels)[0]


def nkululeko_predict(data, kind: str) -> np.ndarray:
    """Test predictions of Nkululeko's estimator: standard scaling, integer-encoded labels."""
    X_train, y_train, _, X_test, _ = data
    scaler = StandardScaler().fit(X_train)
    estimator = NKULULEKO[kind]()
    if not is_classifier(estimator):
        return estimator.fit(scaler.transform(X_train), y_train).predict(scaler.transform(X_test))
    encoder = LabelEncoder().fit(y_train)  # Nkululeko encodes the target column this way
    estimator.fit(scaler.transform(X_train), encoder.transform(y_train))
    return encoder.inverse_transform(estimator.predict(scaler.transform(X_test)))


@pytest.fixture(scope="module")
def gender(demo_table, demo_features):
    return task_data(demo_table, demo_features, "classification")


@pytest.fixture(scope="module")
def rate(demo_table, demo_features):
    return task_data(demo_table, demo_features, "regression")


def test_split_is_speaker_independent_and_has_both_genders(demo_table, gender, rate):
    test = speaker_split(demo_table)
    assert not set(demo_table["speaker"][test]) & set(demo_table["speaker"][~test])
    assert set(gender[4]) == {"female", "male"} and len(gender[4]) > 50
    assert len(rate[4]) > 50 and np.ptp(rate[4]) > 100  # words per minute vary widely


@pytest.mark.parametrize("kind", CLASSIFIERS_EQUAL)
def test_classifier_predicts_what_nkululeko_predicts(gender, kind):
    ours = sauti_predict(gender, kind, "classification")
    theirs = nkululeko_predict(gender, kind)
    assert list(ours) == list(theirs)
    # a real task, not a degenerate one where every model predicts one class
    assert classification_metrics(gender[4], ours, ["female", "male"])["uar"] > 0.7


@pytest.mark.parametrize("kind", REGRESSORS_EQUAL)
def test_regressor_predicts_what_nkululeko_predicts(rate, kind):
    ours = sauti_predict(rate, kind, "regression")
    theirs = nkululeko_predict(rate, kind)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3)  # xgboost predicts float32
    assert mean_absolute_error(rate[4], ours) < np.std(rate[4])  # better than the mean


def test_svm_predicts_with_the_decision_function_not_the_probabilities(gender):
    """Nkululeko (and SVC.predict) decide by the sign of the decision function; sauti's svm must
    too, while its probability columns still come from Platt scaling."""
    X_train, y_train, speakers, X_test, _ = gender
    ours = sauti_predict(gender, "svm", "classification")
    scaler = StandardScaler().fit(X_train)
    svc = SVC(kernel="rbf", C=1.0, gamma="scale").fit(scaler.transform(X_train), y_train)
    decision = svc.decision_function(scaler.transform(X_test))
    assert list(ours) == list(np.where(decision > 0, svc.classes_[1], svc.classes_[0]))


def test_svr_default_c_differs_documented_reason(rate):
    """Documented difference: Nkululeko's svr defaults to C_val = 0.001, which on real targets
    barely moves from a constant; sauti keeps scikit-learn's C = 1. With C_val = 0.001 written
    in the experiment, both predict the same."""
    ours_nk_c = sauti_predict(rate, "svr", "regression", C_val=0.001)
    np.testing.assert_allclose(ours_nk_c, nkululeko_predict(rate, "svr"), rtol=1e-9)
    ours = sauti_predict(rate, "svr", "regression")
    truth = rate[4]
    assert np.std(ours_nk_c) < 0.05 * np.std(truth)  # C = 0.001: nearly one value for all
    assert mean_absolute_error(truth, ours) < mean_absolute_error(truth, ours_nk_c)


def test_tree_reg_differs_documented_reason(rate):
    """Documented difference: Nkululeko's tree_reg is unseeded (DecisionTreeRegressor()), so its
    predictions can change from run to run; sauti seeds it with EXP.random_seed and equals the
    seeded estimator."""
    X_train, y_train, _, X_test, _ = rate
    scaler = StandardScaler().fit(X_train)
    seeded = DecisionTreeRegressor(random_state=SEED).fit(scaler.transform(X_train), y_train)
    ours = sauti_predict(rate, "tree_reg", "regression")
    np.testing.assert_allclose(ours, seeded.predict(scaler.transform(X_test)))
    np.testing.assert_array_equal(ours, sauti_predict(rate, "tree_reg", "regression"))


def test_gmm_differs_documented_reason(gender):
    """Documented difference: Nkululeko's gmm fits ONE GaussianMixture to the training features
    and ignores the labels (it predicts mixture component numbers 0..3, compared with encoded
    labels); sauti fits one mixture per class and predicts the class of highest posterior."""
    X_train, y_train, _, X_test, y_test = gender
    scaler = StandardScaler().fit(X_train)
    shuffled = np.random.default_rng(0).permutation(y_train)

    def nk_components(labels):
        estimator = NKULULEKO["gmm"]()
        return estimator.fit(scaler.transform(X_train), labels).predict(scaler.transform(X_test))

    np.testing.assert_array_equal(nk_components(y_train), nk_components(shuffled))
    ours = sauti_predict(gender, "gmm", "classification")
    assert set(ours) <= {"female", "male"}
    assert classification_metrics(y_test, ours, ["female", "male"])["uar"] > 0.7
