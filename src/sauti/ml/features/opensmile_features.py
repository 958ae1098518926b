"""openSMILE features (kind "os"): the standard eGeMAPS/GeMAPS/ComParE parameter sets.

Why these sets: they are the de-facto baselines for paralinguistics, so results are comparable
with the literature. Audio comes from sauti.core.audio.read (not opensmile's own file reader) so
that start/end slicing and resampling are identical to every other kind of feature.

At the "lld" level the frame-wise descriptors are pooled per sample as mean and std: a
classifier needs one fixed-length vector per sample, whatever the sample's duration.

Why not `Smile.process_signal` per sample: it initializes a new openSMILE instance for every
call (reading and linking the set's configuration) and frees it afterwards, a third of the cost
of a short clip. openSMILE's API can reset an instance after a run instead (`smile_reset`), so
`_Engines` keeps initialized instances, one per thread in use, and resets each after a sample;
the values equal process_signal's exactly (tests/test_features.py compares them on real clips).
"""

from __future__ import annotations

import os
import threading

import numpy as np
import opensmile
from opensmile.core.config import config as smile_config

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
    """A signal -> {name: value} function; safe to call from several threads at once."""
    smile, pooled = _smile(params)
    engines = _Engines(smile)
    if pooled:
        return lambda signal: _pooled_llds(smile.feature_names, engines.frames(signal))
    return lambda signal: _functionals(smile.feature_names, engines.frames(signal))


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


class _Engines:
    """Initialized openSMILE instances for one Smile configuration at SAMPLE_RATE, lent to one
    sample at a time (so threads never share one) and reset after each run."""

    def __init__(self, smile: opensmile.Smile):
        self.smile = smile
        self.idle: list = []
        self.lock = threading.Lock()

    def _new_engine(self):
        # the options process_signal passes for external 16-bit input (opensmile.core.smile)
        options = self.smile._options()  # noqa: SLF001
        options["source"] = os.path.join(
            self.smile.default_config_root, smile_config.EXTERNAL_INPUT_CONFIG
        )
        options["sampleRate"] = SAMPLE_RATE
        options["nBits"] = 16
        return self.smile._smile(options=options)  # noqa: SLF001

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """(frames, features) float64 for a mono signal; one all-NaN row when openSMILE gives
        nothing (input too short), as process_signal does."""
        with self.lock:
            engine = self.idle.pop() if self.idle else None
        if engine is None:
            engine = self._new_engine()
        rows: list[np.ndarray] = []
        try:
            # callbacks do not survive a reset: registered for every run
            engine.external_sink_set_callback_ex(
                smile_config.EXTERNAL_OUTPUT_COMPONENT, lambda data, _meta: rows.append(data.copy())
            )
            pcm = (signal * 32768).astype(np.int16)  # as process_signal converts it
            engine.external_audio_source_write_data(
                smile_config.EXTERNAL_SOURCE_COMPONENT, bytes(pcm)
            )
            engine.external_audio_source_set_eoi(smile_config.EXTERNAL_SOURCE_COMPONENT)
            engine.run()
            engine.reset()
        except BaseException:
            engine.free()  # in an unknown state: not lent again
            raise
        with self.lock:
            self.idle.append(engine)
        if not rows:
            return np.full((1, len(self.smile.feature_names)), np.nan)
        return np.vstack(rows).astype(np.float64)

    def __del__(self):
        for engine in self.idle:
            engine.free()


def _functionals(names: list[str], frames: np.ndarray) -> dict[str, float]:
    return dict(zip(names, frames[0], strict=True))


def _pooled_llds(names: list[str], frames: np.ndarray) -> dict[str, float]:
    """Mean and population std (ddof=0, so a single frame gives 0, not NaN) of each LLD."""
    # Too-short input comes back as one all-NaN frame; the NaN propagates and the caller reports it.
    stats = {"mean": frames.mean(axis=0), "std": frames.std(axis=0)}
    return {
        f"{name}_{stat}": float(stats[stat][i]) for stat in POOLING for i, name in enumerate(names)
    }
