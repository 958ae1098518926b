"""FEATS spectra options (window, hop, bands, duration) and MODEL.type = cnn at config time.

Why in config: `settings` validates the four options and fills their defaults for the spectra
extractor and the cnn (sauti.ml.features.spectra, sauti.ml.deep.cnn), and the same validation
must stop `sauti check`, not a train job later.
"""

from __future__ import annotations

import math

from sauti.config.schema import ConfigError
from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError

DEFAULTS = {"fft_win_dur": 25, "fft_hop_dur": 10, "fft_nbands": 64, "max_duration": 2.0}


def settings(params: dict) -> dict:
    """The four options, validated, with defaults filled (values may arrive as text from INI)."""
    out = {}
    for key, default in DEFAULTS.items():
        value = params.get(key, default)
        if value is None:
            value = default
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not number > 0:
            raise SautiError(
                f"FEATS.{key}: {value!r} is not a positive number", hint=f"the default is {default}"
            )
        out[key] = int(number) if key == "fft_nbands" else number
    win, hop = ms_to_samples(out["fft_win_dur"]), ms_to_samples(out["fft_hop_dur"])
    if hop > win:
        raise SautiError(
            f"FEATS.fft_hop_dur ({out['fft_hop_dur']} ms) is longer than FEATS.fft_win_dur "
            f"({out['fft_win_dur']} ms)",
            hint="frames would skip audio; use a hop at most as long as the window",
        )
    n_fft = fft_size(win)
    if out["fft_nbands"] > n_fft // 2:
        raise SautiError(
            f"FEATS.fft_nbands = {out['fft_nbands']} is more than the {n_fft // 2} FFT bins of a "
            f"{out['fft_win_dur']} ms window",
            hint="use fewer bands or a longer FEATS.fft_win_dur",
        )
    return out


def ms_to_samples(ms: float) -> int:
    """Samples in `ms` milliseconds at 16 kHz (at least one)."""
    return max(1, int(round(float(ms) * SAMPLE_RATE / 1000)))


def fft_size(win: int) -> int:
    """The next power of two at or above the window (512 for 25 ms at 16 kHz)."""
    return 1 << (win - 1).bit_length()


def check_config(cfg: dict, source: str) -> None:
    """Config-time checks of the cnn and spectra keys (torch-free, no scikit-learn import), so
    `sauti check` stops a run that would otherwise fail only in its train job."""
    try:
        _check(cfg)
    except SautiError as err:
        raise ConfigError(f"{source}: {err}") from err


def _check(cfg: dict) -> None:
    feats, model = cfg["FEATS"], cfg["MODEL"]
    if "spectra" in feats["type"]:
        settings(feats)
    if model["type"] != "cnn":
        return
    if list(feats["type"]) != ["spectra"]:
        raise SautiError(
            f"MODEL.type = cnn reads log-mel images only, but FEATS.type = {feats['type']}",
            hint="set FEATS.type = ['spectra']",
        )
    if cfg["EXP"]["type"] != "classification":
        raise SautiError(
            "MODEL.type = cnn is a classifier but EXP.type is regression",
            hint="use mlp_reg or a classic regressor",
        )
    low, high = model["snr_range"]
    if low > high:
        raise SautiError(f"MODEL.snr_range = {model['snr_range']}: min is above max")
