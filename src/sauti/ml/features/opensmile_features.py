"""openSMILE features (kind "os"): the standard eGeMAPS/GeMAPS/ComParE parameter sets.

Why these sets: they are the de-facto baselines for paralinguistics, so results are comparable
with the literature. Audio comes from sauti.core.audio.read (not opensmile's own file reader) so
that start/end slicing and resampling are identical to every other kind of feature.

At the "lld" level the frame-wise descriptors are pooled per sample as mean and std: a
classifier needs one fixed-length vector per sample, whatever the sample's duration.
"""

from __future__ import annotations

import numpy as np
import opensmile

from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError

# Canonical set names plus shorthands. We map the shorthands ourselves on purpose:
# opensmile.FeatureSet.eGeMAPS/GeMAPS are the deprecated v01a sets, not the current ones.
SETS = {
    "eGeMAPSv02": opensmile.FeatureSet.eGeMAPSv02,
    "eGeMAPS": opensmile.FeatureSet.eGeMAPSv02,
    "GeMAPSv01b": opensmile.FeatureSet.GeMAPSv01b,
    "GeMAPS": opensmile.FeatureSet.GeMAPSv01b,
    "ComParE_2016": opensmile.FeatureSet.ComParE_2016,
    "ComParE": opensmile.FeatureSet.ComParE_2016,
}
LEVELS = {
    "functionals": opensmile.FeatureLevel.Functionals,
    "lld": opensmile.FeatureLevel.LowLevelDescriptors,
}
DEFAULT_SET = "eGeMAPSv02"
DEFAULT_LEVEL = "functionals"
POOLING = ("mean", "std")


def make_extractor(params: dict):
    """Create the Smile object once and return a signal -> {name: value} function."""
    smile, pooled = _smile(params)
    if pooled:
        return lambda signal: _pooled_llds(smile, signal)
    return lambda signal: _functionals(smile, signal)


def feature_names(params: dict) -> list[str]:
    """The unprefixed names `make_extractor(params)` produces, in order, without any audio."""
    smile, pooled = _smile(params)
    if pooled:
        return [f"{name}_{stat}" for stat in POOLING for name in smile.feature_names]
    return list(smile.feature_names)


def _smile(params: dict) -> tuple[opensmile.Smile, bool]:
    """The configured Smile object and whether its frame-level output must be pooled."""
    feature_set = _lookup(params.get("set", DEFAULT_SET), SETS, "FEATS.set")
    level = _lookup(params.get("level", DEFAULT_LEVEL), LEVELS, "FEATS.level")
    smile = opensmile.Smile(feature_set=feature_set, feature_level=level)
    return smile, level == opensmile.FeatureLevel.LowLevelDescriptors


def _lookup(value, table: dict, key: str):
    """Case-insensitive lookup, so "egemaps" works as well as "eGeMAPS"."""
    by_lower = {name.lower(): item for name, item in table.items()}
    try:
        return by_lower[str(value).lower()]
    except KeyError:
        raise SautiError(
            f"{key}: unknown value {value!r} for openSMILE features",
            hint=f"use one of {', '.join(table)}",
        ) from None


def _functionals(smile: opensmile.Smile, signal: np.ndarray) -> dict[str, float]:
    frame = smile.process_signal(signal, SAMPLE_RATE)
    return dict(zip(smile.feature_names, frame.to_numpy(dtype=np.float64)[0], strict=True))


def _pooled_llds(smile: opensmile.Smile, signal: np.ndarray) -> dict[str, float]:
    """Mean and population std (ddof=0, so a single frame gives 0, not NaN) of each LLD."""
    frames = smile.process_signal(signal, SAMPLE_RATE).to_numpy(dtype=np.float64)
    # Too-short input comes back as one all-NaN frame; the NaN propagates and the caller reports it.
    stats = {"mean": frames.mean(axis=0), "std": frames.std(axis=0)}
    return {
        f"{name}_{stat}": float(stats[stat][i])
        for stat in POOLING
        for i, name in enumerate(smile.feature_names)
    }
