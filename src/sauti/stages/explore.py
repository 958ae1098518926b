"""Data exploration and bias checks: what is in a database, and is the target confounded?

The bias check tests every column (given or predicted, e.g. gender, language, est_snr) against
the target with the test that fits the pair of types, because a classifier that "detects
depression" may really detect the recording site if the two go together:

- categorical vs categorical: chi-squared test of independence, effect size Cramér's V
- categorical vs numeric: Kruskal-Wallis H (rank-based: no normality assumption), effect size
  epsilon-squared; one-way ANOVA F is reported beside it
- numeric vs numeric: Pearson r and Spearman rho

Effect sizes matter more than p-values here: with thousands of samples everything is
"significant". A column is flagged when its effect is at least medium (Cohen's conventions,
see EFFECT_FLAG) and p < 0.05.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core.errors import SautiError
from sauti.core.fileio import atomic_path, read_table, write_json, write_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.stages.base import StageSpec
from sauti.stages.features import feature_matrix

#: shap's summary plot uses pyplot's global figure; explore jobs run as threads of one process
_PYPLOT = threading.Lock()

log = logging.getLogger("sauti.explore")

#: 2: EXPL.shap draws a SHAP summary (was a note)
EXPLORE = Keyed("explore", 2, "explore.json", ("stages/explore.py", "ml/explore_plots.py"))


#: Columns that describe a sample's identity or bookkeeping, not tested for bias by default.
#: `speaker` is left out because any speaker-level label (gender, age) trivially "depends" on
#: it; speaker-independent splits are sauti's answer to that. List it in EXPL.bias_columns to
#: test it anyway.
NOT_TESTED = {"file", "start", "end", "split", "db", "speaker", "augmented_from", "duration_s",
              "source_start", "source_end", "separated_from", "separated_from_start",
              "separated_from_end"}  # fmt: skip
#: Pair plots are drawn for columns with at most this many categories (the table has them all).
MAX_PLOTTED_CATEGORIES = 20
#: "medium" effect thresholds: Cramér's V (df=1; scaled below), epsilon², |r|.
EFFECT_FLAG = {"cramers_v": 0.3, "epsilon_squared": 0.06, "pearson_r": 0.3}
#: A numeric column with at most this many distinct values is treated as categorical.
MAX_CATEGORIES = 12


def is_categorical(values: pd.Series) -> bool:
    values = values.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return True
    return values.nunique() <= min(MAX_CATEGORIES, max(2, len(values) // 10))


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table (0 = independent, 1 = one determines the other)."""
    from scipy import stats  # 0.5 s to import: explore jobs only, not the DAG build

    chi2 = stats.chi2_contingency(table, correction=False)[0]
    n = table.sum()
    k = min(table.shape) - 1
    return float(np.sqrt(chi2 / (n * k))) if n and k else 0.0


def test_pair(column: pd.Series, target: pd.Series, target_categorical: bool) -> dict | None:
    """The right test for (column, target); None when the column cannot be tested."""
    from scipy import stats  # 0.5 s to import: explore jobs only, not the DAG build

    both = pd.DataFrame({"x": column, "y": target}).dropna()
    if len(both) < 3 or both["x"].nunique() < 2 or both["y"].nunique() < 2:
        return None
    x_cat = is_categorical(both["x"])
    if x_cat and target_categorical:
        table = pd.crosstab(both["x"].astype(str), both["y"].astype(str)).to_numpy()
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
        return {"test": "chi-squared", "statistic": float(chi2), "p": float(p),
                "effect": "cramers_v", "effect_size": cramers_v(table), "dof": int(dof)}  # fmt: skip
    if x_cat != target_categorical:
        groups_of, values = (both["x"], both["y"]) if x_cat else (both["y"], both["x"])
        groups = [
            values[groups_of.astype(str) == g].astype(float).to_numpy()
            for g in sorted(groups_of.astype(str).unique())
        ]
        groups = [g for g in groups if len(g)]
        if len(groups) < 2:
            return None
        h, p = stats.kruskal(*groups)
        f, p_anova = stats.f_oneway(*groups)
        n = sum(len(g) for g in groups)
        epsilon2 = (
            max(0.0, float((h - len(groups) + 1) / (n - len(groups)))) if n > len(groups) else 0.0
        )
        return {"test": "Kruskal-Wallis", "statistic": float(h), "p": float(p), "effect": "epsilon_squared",
                "effect_size": epsilon2, "anova_f": float(f), "anova_p": float(p_anova)}  # fmt: skip
    r, p = stats.pearsonr(both["x"].astype(float), both["y"].astype(float))
    rho, p_rho = stats.spearmanr(both["x"].astype(float), both["y"].astype(float))
    return {"test": "Pearson", "statistic": float(r), "p": float(p), "effect": "pearson_r",
            "effect_size": abs(float(r)), "spearman_rho": float(rho), "spearman_p": float(p_rho)}  # fmt: skip


def bias_table(
    data: pd.DataFrame, target: str, task: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """One row per tested column: test, statistic, p, effect size, flagged (medium+ and p<0.05)."""
    if target not in data.columns:
        raise SautiError(f"DATA.target: no column '{target}' to check for bias")
    target_categorical = task == "classification"
    candidates = columns or [c for c in data.columns if c not in NOT_TESTED and c != target]
    rows = []
    for column in candidates:
        if column not in data.columns:
            raise SautiError(
                f"EXPL: no column '{column}' in the data (columns: {', '.join(map(str, data.columns))})"
            )
        if data[column].nunique(dropna=True) >= 0.9 * len(data) and is_categorical(data[column]):
            continue  # identifiers (e.g. a file name column) say nothing about bias
        result = test_pair(data[column], data[target], target_categorical)
        if result is None:
            continue
        flagged = result["p"] < 0.05 and result["effect_size"] >= EFFECT_FLAG[result["effect"]]
        rows.append({"column": column, **result, "flagged": bool(flagged)})
    columns_out = ["column", "test", "statistic", "p", "effect", "effect_size", "flagged"]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=columns_out)
    extra = [c for c in table.columns if c not in columns_out]
    return (
        table[columns_out + extra]
        .sort_values("effect_size", ascending=False)
        .reset_index(drop=True)
    )


def dataset_stats(data: pd.DataFrame, target: str, task: str) -> dict:
    """print_stats: files, speakers, hours, per label and per split."""
    out = {
        "samples": int(len(data)),
        "files": int(data["file"].nunique()),
        "speakers": int(data["speaker"].nunique()) if "speaker" in data else None,
        "hours": round(float(data["duration"].sum()) / 3600, 4) if "duration" in data else None,
        "per_split": data["split"].value_counts().to_dict() if "split" in data else {},
    }
    if task == "classification":
        out["per_label"] = data[target].astype(str).value_counts().to_dict()
        if "speaker" in data:
            out["speakers_per_label"] = (
                data.groupby(data[target].astype(str))["speaker"].nunique().to_dict()
            )
    else:
        out["target"] = {k: float(v) for k, v in data[target].astype(float).describe().items()}
    return out


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """Standardised mean difference with the pooled standard deviation."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return 0.0
    pooled = np.sqrt(
        ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)
    )
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else 0.0


def feature_importance(features: pd.DataFrame, y: np.ndarray, model: str, task: str, seed: int,
                       permutation: bool = False) -> pd.Series:  # fmt: skip
    """Importance of each feature for predicting y: |coefficients| (log_reg/lin_reg), impurity
    (tree, xgb), or permutation importance with any of them. Sorted, highest first."""
    from sklearn.inspection import permutation_importance
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(features.to_numpy(float))
    classification = task == "classification"
    if model == "log_reg":
        from sklearn.linear_model import LinearRegression, LogisticRegression

        estimator = LogisticRegression(max_iter=2000) if classification else LinearRegression()
    elif model == "tree":
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        estimator = (DecisionTreeClassifier if classification else DecisionTreeRegressor)(
            max_depth=6, random_state=seed
        )
    elif model == "xgb":
        import xgboost

        estimator = (xgboost.XGBClassifier if classification else xgboost.XGBRegressor)(
            n_estimators=100, max_depth=4, random_state=seed, n_jobs=1)  # fmt: skip
        if classification:
            y = pd.Series(y).astype("category").cat.codes.to_numpy()
    else:
        raise SautiError(f"EXPL.model: unknown model {model!r}; use log_reg, tree or xgb")
    estimator.fit(X, y)
    if permutation:
        values = permutation_importance(
            estimator, X, y, n_repeats=5, random_state=seed
        ).importances_mean
    elif hasattr(estimator, "coef_"):
        values = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
    else:
        values = estimator.feature_importances_
    return pd.Series(values, index=features.columns).sort_values(ascending=False)


#: SHAP values of at most this many (seeded) rows: TreeExplainer is exact but costs per row.
SHAP_ROWS = 500


def shap_importance(features: pd.DataFrame, y: np.ndarray, task: str, seed: int, path: Path,
                    title: str, max_display: int, fmt: str) -> pd.Series:  # fmt: skip
    """Mean |SHAP value| per feature of a gradient-boosted tree model, and its summary plot.

    Why trees: shap's TreeExplainer gives exact SHAP values for xgboost in milliseconds, where
    model-agnostic explainers need thousands of model calls. For a binary or regression target
    the plot is the beeswarm (each dot a sample: which way a feature pushes the prediction);
    with more classes it is the per-class bar chart. Sorted, highest first.
    """
    try:
        import shap
    except ImportError as exc:
        raise SautiError(
            "EXPL.shap needs the shap package, which is not installed", hint="pip install shap"
        ) from exc
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xgboost

    classification = task == "classification"
    X = features.to_numpy(float)
    target = pd.Series(y).astype("category") if classification else None
    model = (xgboost.XGBClassifier if classification else xgboost.XGBRegressor)(
        n_estimators=100, max_depth=4, random_state=seed, n_jobs=1)  # fmt: skip
    model.fit(X, target.cat.codes.to_numpy() if classification else y)
    rows = np.random.default_rng(seed).permutation(len(X))[:SHAP_ROWS]
    values = shap.TreeExplainer(model).shap_values(X[rows])
    per_class = np.asarray(values)
    if per_class.ndim == 3:  # (rows, features, classes) for multi-class targets
        importance = np.abs(per_class).mean(axis=(0, 2))
        plot_values = [per_class[:, :, k] for k in range(per_class.shape[2])]
        class_names = [str(c) for c in target.cat.categories]
    else:
        importance = np.abs(per_class).mean(axis=0)
        plot_values, class_names = per_class, None
    with _PYPLOT:  # shap draws on pyplot's current figure: one explore job at a time here
        plt.figure()
        shap.summary_plot(plot_values, X[rows], feature_names=list(features.columns),
                          max_display=max_display, show=False, class_names=class_names)  # fmt: skip
        plt.title(title)
        with atomic_path(path) as tmp:
            plt.gcf().savefig(tmp, format=fmt, bbox_inches="tight")
        plt.close("all")
    return pd.Series(importance, index=features.columns).sort_values(ascending=False)


def projection(features: pd.DataFrame, method: str, seed: int) -> np.ndarray:
    """2-D embedding of the (standardised) feature space: pca, tsne, or umap when installed."""
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(features.to_numpy(float))
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(X)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(X) - 1) // 3)))
        return TSNE(
            n_components=2, random_state=seed, perplexity=perplexity, init="pca"
        ).fit_transform(X)
    if method == "umap":
        try:
            import umap
        except ImportError as exc:
            raise SautiError(
                "EXPL.scatter: umap needs the umap-learn package",
                hint="pip install umap-learn, or use tsne/pca",
            ) from exc
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(X)
    raise SautiError(f"EXPL.scatter: unknown method {method!r}; use tsne, umap or pca")


def ensure_dir(path: str | Path) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(
    data: pd.DataFrame, features: pd.DataFrame | None, params: dict, out_dir: str | Path
) -> dict:
    """The explore stage: statistics, value counts, bias check, feature distributions, scatter.

    params: the EXPL section plus target, type, random_seed and PLOT {kind, format} (no
    experiment name: the members of a grid or list that share a split share one explore job).
    Writes images, bias.csv and explore.json (the manifest the report reads) into out_dir.
    """
    from sauti.ml import explore_plots as P  # heavy: matplotlib

    out = ensure_dir(out_dir)
    target, task, seed = params["target"], params["type"], int(params["random_seed"])
    kind, fmt = params["PLOT"]["kind"], params["PLOT"]["format"]
    classification = task == "classification"
    selection = params.get("sample_selection", "all")
    if selection != "all":
        keep = (data["split"] == selection).to_numpy()
        data = data[keep].reset_index(drop=True)
        features = features[keep].reset_index(drop=True) if features is not None else None
    if data.empty:
        raise SautiError(f"EXPL.sample_selection: the {selection} split is empty")
    images: list[dict] = []

    def add(path: Path, caption: str) -> None:
        images.append({"file": path.name, "caption": caption})

    manifest: dict = {"selection": selection, "stats": dataset_stats(data, target, task)}
    for i, columns in enumerate(params.get("value_counts") or []):
        columns = [columns] if isinstance(columns, str) else list(columns)
        missing = [c for c in columns if c not in data]
        if missing:
            raise SautiError(
                f"EXPL.value_counts: no column '{missing[0]}' (columns: {', '.join(map(str, data.columns))})"
            )
        label = " × ".join(columns)
        for per_speaker in (False, True):
            if per_speaker and "speaker" not in data:
                continue
            unit = "speaker" if per_speaker else "sample"
            path = P.value_counts_plot(
                data,
                columns,
                out / f"counts_{i}_{unit}.{fmt}",
                f"{label} per {unit}",
                per_speaker,
                fmt,
            )
            add(path, f"Distribution of {label}, counted per {unit}.")
    table = bias_table(data, target, task, params.get("bias_columns") or None)
    write_table(out / "bias.csv", table)
    manifest["bias"] = json.loads(table.to_json(orient="records"))  # NaN -> null
    if not table.empty:
        add(P.bias_overview_plot(table, out / f"bias_overview.{fmt}", f"Association with {target}", fmt),
            "Effect size of each column's association with the target; red = flagged (at least a medium effect, p < 0.05).")  # fmt: skip
        for _, row in table.iterrows():
            column = row["column"]
            if is_categorical(data[column]) and data[column].nunique() > MAX_PLOTTED_CATEGORIES:
                continue
            path = P.bias_pair_plot(data, column, target, is_categorical(data[column]), classification,
                                    out / f"bias_{_safe(column)}.{fmt}", f"{column} vs {target}: {row['test']} p={row['p']:.2g}, "
                                    f"{row['effect'].replace('_', ' ')} {row['effect_size']:.2f}", kind, fmt)  # fmt: skip
            add(
                path,
                f"{column} against {target} ({'flagged' if row['flagged'] else 'not flagged'}).",
            )
    needs_features = (
        params.get("feature_distributions")
        or params.get("scatter")
        or params.get("plot_tree")
        or params.get("shap")
    )
    if needs_features:
        if features is None or features.empty:
            raise SautiError(
                "EXPL.feature_distributions/scatter/plot_tree/shap need features (FEATS.type)"
            )
        y = (
            data[target].astype(str).to_numpy()
            if classification
            else data[target].astype(float).to_numpy()
        )
        if params.get("feature_distributions"):
            manifest["importance"] = {}
            for model in params.get("model") or ["log_reg"]:
                ranking = feature_importance(
                    features, y, model, task, seed, bool(params.get("permutation"))
                )
                top = ranking.head(int(params["max_feats"]))
                manifest["importance"][model] = {k: float(v) for k, v in top.items()}
                for rank, name in enumerate(top.index):
                    title = f"{name} ({model} rank {rank + 1})"
                    if classification and data[target].nunique() == 2:
                        a, b = sorted(set(y))
                        title += f", Cohen's d {cohens_d(features[name][y == a], features[name][y == b]):.2f}"
                    path = P.feature_plot(features[name], data[target], out / f"feature_{model}_{rank + 1}.{fmt}",
                                          title, kind, classification, fmt)  # fmt: skip
                    add(path, f"Feature {name}: rank {rank + 1} by {model} importance.")
        for method in params.get("scatter") or []:
            coords = projection(features, method, seed)
            add(P.scatter_plot(coords, data[target].rename(target), out / f"scatter_{method}_{target}.{fmt}",
                               f"{method.upper()} coloured by {target}", fmt),
                f"{method.upper()} projection of the feature space coloured by {target}.")  # fmt: skip
            if "speaker" in data:
                add(P.scatter_plot(coords, data["speaker"].rename("speaker"), out / f"scatter_{method}_speaker.{fmt}",
                                   f"{method.upper()} coloured by speaker", fmt),
                    f"{method.upper()} projection coloured by speaker: clusters here mean features carry speaker identity.")  # fmt: skip
        if params.get("plot_tree"):
            from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

            tree = (DecisionTreeClassifier if classification else DecisionTreeRegressor)(
                max_depth=3, random_state=seed
            )
            tree.fit(features.to_numpy(float), y)
            names = sorted(set(y)) if classification else None
            add(P.tree_plot(tree, list(features.columns), names, out / f"tree.{fmt}", f"Decision tree for {target}", fmt),
                "A depth-3 decision tree on the features: the top splits are the most telling features.")  # fmt: skip
        if params.get("shap"):
            ranking = shap_importance(features, y, task, seed, out / f"shap.{fmt}",
                                      f"SHAP values for {target}", int(params["max_feats"]), fmt)  # fmt: skip
            top = ranking.head(int(params["max_feats"]))
            manifest["shap"] = {k: float(v) for k, v in top.items()}
            add(out / f"shap.{fmt}", "SHAP summary of a gradient-boosted tree model: how much, and "
                "which way, each of the top features moves the prediction.")  # fmt: skip
    manifest["images"] = images
    write_json(out / "explore.json", manifest)
    return manifest


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))


#: EXPL keys whose work needs the feature tables (the rest needs only the split table).
EXPLORE_FEATURE_KEYS = ("feature_distributions", "scatter", "plot_tree", "shap")
#: EXPL keys that request an explore stage at all.
EXPLORE_KEYS = ("bias", "value_counts", "print_stats", *EXPLORE_FEATURE_KEYS)


def plan_explore(cfg: dict, split: Stage, features: list[Stage]) -> Stage | None:
    """The explore stage when EXPL asks for anything; it reads features only when needed, so
    a FEATS change re-runs it only for feature plots."""
    expl = cfg["EXPL"]
    if not any(expl.get(k) for k in EXPLORE_KEYS):
        return None
    needs_features = any(expl.get(k) for k in EXPLORE_FEATURE_KEYS)
    params = {
        **expl,
        "target": cfg["DATA"]["target"], "type": cfg["EXP"]["type"],
        "random_seed": cfg["EXP"]["random_seed"],
        "PLOT": {"kind": cfg["PLOT"]["kind"], "format": cfg["PLOT"]["format"]},
        "feature_types": cfg["FEATS"]["type"] if needs_features else [],
    }  # fmt: skip
    return make_stage(EXPLORE, params, (split, *(features if needs_features else [])))


def explore_stage(split_path: str, feature_paths: list[str], params: dict, out_dir) -> None:
    """EXPL: statistics, bias check and plots on the split table (and features when asked)."""
    data = read_table(split_path)
    features = (
        feature_matrix(data, feature_paths, params["feature_types"]) if feature_paths else None
    )
    manifest = run(data, features, params, out_dir)
    if params.get("print_stats"):
        log.info("dataset: %s", manifest["stats"])
    flagged = [row["column"] for row in manifest["bias"] if row["flagged"]]
    log.info("bias check: %d columns tested, flagged: %s", len(manifest["bias"]), flagged or "none")


class Rules:
    """What workflow/rules/explore.smk asks the registry (REG.spec("explore"))."""

    def __init__(self, registry):
        self.registry = registry

    def inputs(self, w) -> dict:
        upstream = self.registry.stage("explore", w.key).upstream
        return {
            "split": self.registry.path_of(upstream[0]),
            "features": [self.registry.path_of(u) for u in upstream[1:]],
        }


SPEC = StageSpec("explore", (EXPLORE,), rules=Rules)
