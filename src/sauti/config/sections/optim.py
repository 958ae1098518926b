"""OPTIM at config time: Nkululeko's flat form, the searched keys and the metric.

Why in config: the section is normalised while the config is read (Nkululeko writes
`[OPTIM] C_val = [...]`), and a search over a key that is no MODEL hyper-parameter, or with a
metric that does not fit the task, must stop `sauti check` before any job runs. Nothing here
imports scikit-learn (the search itself is sauti.stages.optim).
"""

from __future__ import annotations

from sauti.config.schema import ConfigError, schema
from sauti.core.suggest import did_you_mean

CLASSIFICATION_METRICS = ("uar", "accuracy", "f1_macro")
REGRESSION_METRICS = ("ccc", "pcc", "mae", "mse")
#: Nkululeko's spelling of OPTIM.search.
ALIASES = {"search_strategy": "search"}
SECTION_KEYS = ("params", "model", "search", "n_iter", "cv_folds", "metric")


def normalise_section(section: dict) -> dict:
    """Nkululeko's flat form `[OPTIM] C_val = [0.1, 1]` -> `{params: {C_val: [0.1, 1]}}`.

    Keys that are MODEL keys move into `params`; anything else stays for the schema to check
    (so a typo still gets its "did you mean").
    """
    model_keys = schema()["properties"]["MODEL"]["properties"]
    out = {ALIASES.get(k, k): v for k, v in section.items()}
    params = dict(out.get("params") or {}) if isinstance(out.get("params", {}), dict) else None
    if params is None:
        return out
    for key in list(out):
        if key not in SECTION_KEYS and key in model_keys:
            params[key] = out.pop(key)
    if params or "params" in out:
        out["params"] = params
    return out


def check_config(cfg: dict, source: str) -> None:
    """OPTIM.params must name MODEL keys; the metric must fit the task (before any job runs)."""
    optim = cfg.get("OPTIM") or {}
    params = optim.get("params") or {}
    if not params:
        return
    model_keys = schema()["properties"]["MODEL"]["properties"]
    for key in params:
        if key not in model_keys or key == "type":
            raise ConfigError(
                f"{source}: [OPTIM] params: {key!r} is not a MODEL hyper-parameter{did_you_mean(key, model_keys)}",
                hint="to compare model types use OPTIM.model or a GRID over MODEL.type",
            )
    metric = optim.get("metric")
    allowed = (
        CLASSIFICATION_METRICS if cfg["EXP"]["type"] == "classification" else REGRESSION_METRICS
    )
    if metric and metric not in allowed:
        raise ConfigError(
            f"{source}: [OPTIM] metric {metric!r} does not fit a {cfg['EXP']['type']} experiment; use one of {', '.join(allowed)}"
        )
