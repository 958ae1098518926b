"""Model, scaler and balancing factories for the classic (non-neural) pipeline.

Why one module: the config speaks Nkululeko (MODEL.type = svm, FEATS.scale = speaker, ...), and
every rule that trains or predicts must turn those words into the *same* estimator. Keeping the
translation here means the train and test rules cannot drift apart, and every bad value ends in
one SautiError line naming the config key instead of a scikit-learn traceback.

Conventions that callers can rely on:
* every classifier accepts string labels, predicts the same strings and exposes `classes_`
  (sorted) plus `predict_proba` with columns in `classes_` order; `predict_proba(model, X,
  labels)` re-orders them to any label list;
* `fit_model` is the only place that turns MODEL.class_weight into sample weights, so estimators
  without a `class_weight` parameter (xgb, bayes) are balanced the same way as svm or tree;
* `FeatureScaler` has one interface for all FEATS.scale kinds (the caller passes speakers always);
* `balance` is for training data only: resampling a test set would change what is measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LinearRegression
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import has_fit_parameter

from sauti.core.errors import SautiError
from sauti.core.model_names import CLASSIFIERS, NEURAL_CLASSIFIERS, NEURAL_REGRESSORS, REGRESSORS
from sauti.core.suggest import closest
from sauti.ml.deep import cnn, mlp

TASKS = ("classification", "regression")
SCALERS = ("none", "standard", "robust", "minmax", "speaker")
BALANCING = ("none", "ros", "rus", "smote", "adasyn", "borderlinesmote")

_KERNELS = ("linear", "poly", "rbf", "sigmoid")
_KNN_WEIGHTS = ("uniform", "distance")
_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# Platt scaling needs held-out decision values; 5 folds is what libsvm's probability=True used.
_SVM_CALIBRATION_FOLDS = 5


# --------------------------------------------------------------------------------------------
# estimators sauti adds on top of scikit-learn
# --------------------------------------------------------------------------------------------


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Let an estimator that only understands 0..k-1 (XGBClassifier) take and return any labels.

    Why: the rest of sauti passes the label strings straight from the table; hiding the encoding
    here keeps xgb interchangeable with the scikit-learn classifiers.
    """

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y, sample_weight=None):
        self.encoder_ = LabelEncoder().fit(np.asarray(y))
        self.classes_ = self.encoder_.classes_
        self.estimator_ = clone(self.estimator)
        codes = self.encoder_.transform(np.asarray(y))
        if sample_weight is None:
            self.estimator_.fit(X, codes)
        else:
            self.estimator_.fit(X, codes, sample_weight=sample_weight)
        return self

    def predict(self, X):
        return self.encoder_.inverse_transform(np.asarray(self.estimator_.predict(X), dtype=int))

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)


class SVMClassifier(ClassifierMixin, BaseEstimator):
    """An SVC that predicts with its decision function and has Platt-scaled probabilities.

    Why predict with the decision function (what SVC.predict and Nkululeko do) and not with
    the argmax of the probabilities: the sigmoids are fitted on cross-validated decision values
    of the training domain, so on a test set from another domain their threshold moves away
    from the SVC's margin; the argmax then lost 0.08 UAR on a cross-language test (issue 16).
    The probabilities still feed the proba_<label> columns, ensembles, per-speaker means and
    uncertainty, so for a sample near the margin the predicted label can differ from the
    argmax of its probabilities (the same holds for Nkululeko's SVC(probability=True)).

    Why not SVC(probability=True): scikit-learn 1.9 deprecates it in favour of
    CalibratedClassifierCV(SVC(), ensemble=False), which is the same method (sigmoid fitted on
    cross-validated decision values, final SVC refitted on all data). That wrapper fails when a
    class has fewer members than folds, so the number of folds is chosen at fit time here.
    Its final SVC is the one that predicts, so no second SVC is fitted and bundles saved before
    this change load and predict the same way. class_weight="balanced" is applied as balanced
    sample weights to BOTH the SVC and the sigmoid, so the probabilities keep the balancing too.
    """

    def __init__(self, C=1.0, kernel="rbf", gamma="scale", class_weight=None, random_state=None):
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            rare = str(self.classes_[counts.argmin()])
            raise SautiError(
                f"MODEL.type: 'svm' needs at least 2 training samples per class for its "
                f"probabilities; class {rare!r} has 1",
                hint="add data, drop the class, or use MODEL.type = xgb",
            )
        svc = SVC(C=self.C, kernel=self.kernel, gamma=self.gamma, random_state=self.random_state)
        folds = StratifiedKFold(
            n_splits=min(_SVM_CALIBRATION_FOLDS, int(counts.min())),
            shuffle=True,
            random_state=self.random_state,
        )
        self.calibrated_ = CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)
        weights = compute_sample_weight(self.class_weight, y) if self.class_weight else None
        self.calibrated_.fit(X, y, sample_weight=weights)
        return self

    @property
    def svc_(self) -> SVC:
        """The SVC fitted on all training rows (inside the calibration wrapper)."""
        return self.calibrated_.calibrated_classifiers_[0].estimator

    def decision_function(self, X):
        return self.svc_.decision_function(X)

    def predict(self, X):
        return self.svc_.predict(X)

    def predict_proba(self, X):
        return self.calibrated_.predict_proba(X)


class GMMClassifier(ClassifierMixin, BaseEstimator):
    """One Gaussian mixture per class; predict the class with the highest posterior.

    Why: Nkululeko's `gmm` model is a generative classifier, which scikit-learn lacks. Each
    class mixture gets min(n_components, class size) components so tiny classes still fit.
    class_weight="balanced" replaces the class-frequency prior by a uniform one, which is the
    generative counterpart of re-weighting the samples.
    """

    def __init__(
        self, n_components=4, covariance_type="diag", class_weight=None, random_state=None
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.mixtures_ = [self._fit_class(X[y == label]) for label in self.classes_]
        if self.class_weight == "balanced":
            priors = np.full(len(self.classes_), 1.0 / len(self.classes_))
        else:
            priors = counts / counts.sum()
        self.log_priors_ = np.log(priors)
        return self

    def _fit_class(self, rows: np.ndarray) -> GaussianMixture:
        mixture = GaussianMixture(
            n_components=min(self.n_components, len(rows)),
            covariance_type=self.covariance_type,
            random_state=self.random_state,
        )
        return mixture.fit(rows)

    def _joint_log_likelihood(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        scores = np.column_stack([m.score_samples(X) for m in self.mixtures_])
        return scores + self.log_priors_

    def predict(self, X):
        return self.classes_[self._joint_log_likelihood(X).argmax(axis=1)]

    def predict_proba(self, X):
        joint = self._joint_log_likelihood(X)
        return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


def make_model(cfg: dict, task: str, seed: int, n_classes: int | None = None):
    """Build the unfitted estimator named by MODEL.type from the MODEL section `cfg`.

    `task` is EXP.type ("classification" or "regression"); asking for a classifier in a
    regression experiment (or vice versa) is a SautiError, because it would otherwise fail
    deep inside scikit-learn or silently treat numbers as classes. `n_classes`, when given,
    must be at least 2 for classification. Keys that a model does not use are ignored, and
    MODEL.learning_rate is never passed to xgboost: its default belongs to the neural models.
    """
    if task not in TASKS:
        raise SautiError(f"EXP.type: unknown task {task!r}; use one of {', '.join(TASKS)}")
    kind = str(cfg.get("type", "")).strip().lower()
    _check_model_type(kind, task)
    if task == "classification" and n_classes is not None and n_classes < 2:
        raise SautiError(
            f"MODEL.type: classification needs at least 2 classes in the training data, got "
            f"{n_classes}",
            hint="check the target column and the train/test split",
        )
    return _BUILDERS[kind](_ModelConfig(cfg), seed)


def fit_model(model, X, y, class_weight: bool):
    """Fit `model` on (X, y), balancing classes when MODEL.class_weight is true.

    Estimators built with a `class_weight` parameter already carry "balanced" from make_model;
    the others (xgb, bayes) get balanced sample weights here. Estimators that accept neither
    (knn) are fitted unweighted: there is no faithful way to weight a nearest-neighbour vote.
    Regressors ignore class_weight. Returns the fitted model.
    """
    if class_weight and is_classifier(model) and _needs_sample_weight(model):
        model.fit(X, y, sample_weight=compute_sample_weight("balanced", np.asarray(y)))
    else:
        model.fit(X, y)
    return model


def predict_proba(model, X, labels: Sequence[str]) -> np.ndarray:
    """Class probabilities with columns in `labels` order (0.0 for classes unseen in training).

    Why: the training fold may lack a class that the experiment knows about; reports and
    per-speaker averaging need a fixed column layout regardless.
    """
    raw = np.asarray(model.predict_proba(X), dtype=float)
    known = {str(label): column for column, label in enumerate(model.classes_)}
    out = np.zeros((raw.shape[0], len(labels)))
    for column, label in enumerate(labels):
        if str(label) in known:
            out[:, column] = raw[:, known[str(label)]]
    return out


def _needs_sample_weight(model) -> bool:
    params = model.get_params(deep=False)
    return "class_weight" not in params and has_fit_parameter(model, "sample_weight")


def _check_model_type(kind: str, task: str) -> None:
    wanted, other = (
        (CLASSIFIERS + NEURAL_CLASSIFIERS, REGRESSORS + NEURAL_REGRESSORS)
        if task == "classification"
        else (REGRESSORS + NEURAL_REGRESSORS, CLASSIFIERS + NEURAL_CLASSIFIERS)
    )
    if kind in wanted:
        return
    if kind in other:
        role = "classifier" if kind in CLASSIFIERS + NEURAL_CLASSIFIERS else "regressor"
        raise SautiError(
            f"MODEL.type: {kind!r} is a {role} but EXP.type is {task}; use one of "
            f"{', '.join(wanted)}"
        )
    # suggest from the experiment's own task first: 'svn' in a classification run means 'svm'
    raise SautiError(_unknown_message("MODEL.type", "model", kind, wanted, also=other))


class _ModelConfig:
    """Typed, validated access to MODEL keys; values may arrive as strings from an INI file."""

    def __init__(self, cfg: dict):
        self._cfg = cfg

    def get(self, key: str, default, convert: Callable, expected: str):
        value = self._cfg.get(key, default)
        if value is None:
            value = default
        try:
            return convert(value)
        except (TypeError, ValueError) as exc:
            raise SautiError(f"MODEL.{key}: expected {expected}, got {value!r}") from exc

    def positive_float(self, key: str, default: float) -> float:
        return self.get(key, default, _positive(float), "a positive number")

    def positive_int(self, key: str, default: int) -> int:
        return self.get(key, default, _positive(_strict_int), "a positive whole number")

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = str(self._cfg.get(key, default) or default).strip().lower()
        if value not in allowed:
            raise SautiError(_unknown_message(f"MODEL.{key}", "value", value, allowed))
        return value

    def gamma(self) -> str | float:
        value = str(self._cfg.get("gamma", "scale") or "scale").strip().lower()
        if value in ("scale", "auto"):
            return value
        return self.get("gamma", "scale", _positive(float), "'scale', 'auto' or a positive number")

    def class_weight(self) -> str | None:
        flag = self.get("class_weight", False, _as_bool, "True or False")
        return "balanced" if flag else None


def _strict_int(value) -> int:
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def _positive(convert: Callable) -> Callable:
    def checked(value):
        number = convert(value)
        if not number > 0:
            raise ValueError(value)
        return number

    return checked


def _as_bool(value) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "balanced"):
        return True
    if text in ("false", "0", "no", "none", ""):
        return False
    raise ValueError(value)


def _xgb_params(cfg: _ModelConfig, seed: int) -> dict:
    return {
        "n_estimators": cfg.positive_int("n_estimators", 100),
        "max_depth": cfg.positive_int("max_depth", 6),
        "random_state": seed,
        "n_jobs": 1,
        "tree_method": "hist",
    }


def _build_svm(cfg: _ModelConfig, seed: int):
    return SVMClassifier(
        C=cfg.positive_float("C_val", 1.0),
        kernel=cfg.choice("kernel", "rbf", _KERNELS),
        gamma=cfg.gamma(),
        class_weight=cfg.class_weight(),
        random_state=seed,
    )


def _build_xgb(cfg: _ModelConfig, seed: int):
    from xgboost import XGBClassifier  # imported lazily: xgboost is slow to import

    return LabelEncodedClassifier(XGBClassifier(**_xgb_params(cfg, seed)))


def _build_knn(cfg: _ModelConfig, seed: int):
    return KNeighborsClassifier(
        n_neighbors=cfg.positive_int("K_val", 5),
        weights=cfg.choice("knn_weights", "uniform", _KNN_WEIGHTS),
    )


def _build_tree(cfg: _ModelConfig, seed: int):
    return DecisionTreeClassifier(class_weight=cfg.class_weight(), random_state=seed)


def _build_bayes(cfg: _ModelConfig, seed: int):
    return GaussianNB()


def _build_gmm(cfg: _ModelConfig, seed: int):
    return GMMClassifier(
        n_components=cfg.positive_int("GMM_components", 4),
        covariance_type=cfg.choice("GMM_covariance_type", "diag", _COVARIANCE_TYPES),
        class_weight=cfg.class_weight(),
        random_state=seed,
    )


def _build_svr(cfg: _ModelConfig, seed: int):
    return SVR(
        C=cfg.positive_float("C_val", 1.0),
        kernel=cfg.choice("kernel", "rbf", _KERNELS),
        gamma=cfg.gamma(),
    )


def _build_xgr(cfg: _ModelConfig, seed: int):
    from xgboost import XGBRegressor

    return XGBRegressor(**_xgb_params(cfg, seed))


def _build_knn_reg(cfg: _ModelConfig, seed: int):
    return KNeighborsRegressor(
        n_neighbors=cfg.positive_int("K_val", 5),
        weights=cfg.choice("knn_weights", "uniform", _KNN_WEIGHTS),
    )


def _build_tree_reg(cfg: _ModelConfig, seed: int):
    return DecisionTreeRegressor(random_state=seed)


def _build_lin_reg(cfg: _ModelConfig, seed: int):
    return LinearRegression()


def _build_mlp(cfg: _ModelConfig, seed: int):
    return mlp.build(cfg, "classification", seed)


def _build_cnn(cfg: _ModelConfig, seed: int):
    return cnn.build(cfg, "classification", seed)


def _build_mlp_reg(cfg: _ModelConfig, seed: int):
    return mlp.build(cfg, "regression", seed)


_BUILDERS: dict[str, Callable] = {
    "svm": _build_svm,
    "xgb": _build_xgb,
    "knn": _build_knn,
    "tree": _build_tree,
    "bayes": _build_bayes,
    "gmm": _build_gmm,
    "svr": _build_svr,
    "xgr": _build_xgr,
    "knn_reg": _build_knn_reg,
    "tree_reg": _build_tree_reg,
    "lin_reg": _build_lin_reg,
    "mlp": _build_mlp,
    "mlp_reg": _build_mlp_reg,
    "cnn": _build_cnn,
}


def _unknown_message(
    key: str, what: str, value: str, allowed: Sequence[str], also: Sequence[str] = ()
) -> str:
    """One-line "unknown value" message; suggests the closest of `allowed`, then of `also`."""
    close = closest(value, allowed) or closest(value, also)
    suggestion = f" (did you mean {close!r}?)" if close else f"; use one of {', '.join(allowed)}"
    return f"{key}: unknown {what} {value!r}{suggestion}"


# --------------------------------------------------------------------------------------------
# scaling
# --------------------------------------------------------------------------------------------


class SpeakerScaler:
    """Z-normalise each speaker's rows with that speaker's own mean and standard deviation.

    Why stateless: Nkululeko's `speaker` scaling normalises test speakers with their own
    statistics too (they are unseen in training, so no training statistics exist for them).
    This removes speaker identity cues (voice pitch level, loudness) that a model could
    otherwise memorise. A feature that is constant for a speaker gets std 1, i.e. is centred.
    """

    def fit(self, X, speakers):
        return self

    def transform(self, X, speakers) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        speakers = np.asarray(speakers)
        out = np.empty_like(X)
        for speaker in pd.unique(speakers):
            rows = speakers == speaker
            mean = np.nanmean(X[rows], axis=0)
            std = np.nanstd(X[rows], axis=0)
            std[~(std > 0)] = 1.0
            out[rows] = (X[rows] - mean) / std
        return out


class _NoScaler:
    def fit(self, X):
        return self

    def transform(self, X) -> np.ndarray:
        return np.array(X, dtype=float)


class FeatureScaler:
    """One fit/transform interface for every FEATS.scale kind, so callers never special-case.

    `speakers` is passed always and used only by the "speaker" kind. For the other kinds the
    statistics come from `fit` (the training data) only, so test data never leaks into them.
    A DataFrame comes back as a DataFrame with the same index and columns.
    """

    def __init__(self, kind: str):
        self.kind = kind
        if kind == "speaker":
            self._scaler = SpeakerScaler()
        else:
            self._scaler = {
                "none": _NoScaler,
                "standard": StandardScaler,
                "robust": RobustScaler,
                "minmax": MinMaxScaler,
            }[kind]()

    def fit(self, X, speakers=None) -> FeatureScaler:
        if self.kind == "speaker":
            self._scaler.fit(X, self._check_speakers(X, speakers))
        else:
            self._scaler.fit(np.asarray(X, dtype=float))
        return self

    def transform(self, X, speakers=None):
        values = np.asarray(X, dtype=float)
        if self.kind == "speaker":
            scaled = self._scaler.transform(values, self._check_speakers(X, speakers))
        else:
            scaled = self._scaler.transform(values)
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(scaled, index=X.index, columns=X.columns)
        return scaled

    def fit_transform(self, X, speakers=None):
        return self.fit(X, speakers).transform(X, speakers)

    @staticmethod
    def _check_speakers(X, speakers):
        if speakers is None:
            raise SautiError(
                "FEATS.scale: 'speaker' scaling needs a speaker for every sample",
                hint="add a speaker column to the data or choose another FEATS.scale",
            )
        if len(speakers) != len(X):
            raise ValueError(f"{len(speakers)} speakers for {len(X)} feature rows")
        return speakers


def make_scaler(kind: str | bool | None) -> FeatureScaler:
    """FeatureScaler for FEATS.scale; None, False, "" or "none" mean no scaling."""
    name = "none" if kind is None or kind is False else str(kind).strip().lower() or "none"
    if name in ("false", "no"):
        name = "none"
    if name not in SCALERS:
        raise SautiError(_unknown_message("FEATS.scale", "scaler", name, SCALERS))
    return FeatureScaler(name)


# --------------------------------------------------------------------------------------------
# balancing
# --------------------------------------------------------------------------------------------


def balance(X, y, method: str | None, seed: int):
    """Resample (X, y) with FEATS.balancing and return the new (X, y).

    Apply this to TRAINING data only: oversampling a test set would invent test samples and
    undersampling would discard them, so the reported scores would no longer describe the real
    test data. Apply it after scaling, because synthetic samples (smote, adasyn) are
    interpolated in feature space and resampled rows no longer belong to a speaker.
    Neighbour counts of the SMOTE family are reduced automatically for small classes.
    """
    name = "none" if method is None or method is False else str(method).strip().lower() or "none"
    if name in ("false", "no"):
        name = "none"
    if name not in BALANCING:
        raise SautiError(_unknown_message("FEATS.balancing", "method", name, BALANCING))
    if name == "none":
        return X, y
    sampler = _make_sampler(name, np.asarray(y), seed)
    try:
        return sampler.fit_resample(X, y)
    except (ValueError, RuntimeError) as exc:
        raise SautiError(
            f"FEATS.balancing: {name!r} failed on the training data ({exc})",
            hint="try FEATS.balancing = ros",
        ) from exc


def _make_sampler(name: str, y: np.ndarray, seed: int):
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    if name == "ros":
        return RandomOverSampler(random_state=seed)
    if name == "rus":
        return RandomUnderSampler(random_state=seed)
    labels, counts = np.unique(y, return_counts=True)
    smallest = int(counts.min()) if len(counts) else 0
    if smallest < 2:
        rare = str(labels[counts.argmin()]) if len(counts) else None
        raise SautiError(
            f"FEATS.balancing: {name!r} needs at least 2 training samples per class; "
            f"class {rare!r} has {smallest}",
            hint="use FEATS.balancing = ros",
        )
    neighbours = min(5, smallest - 1)
    if name == "smote":
        return SMOTE(k_neighbors=neighbours, random_state=seed)
    if name == "adasyn":
        return ADASYN(n_neighbors=neighbours, random_state=seed)
    return BorderlineSMOTE(
        k_neighbors=neighbours, m_neighbors=min(10, len(y) - 1), random_state=seed
    )
