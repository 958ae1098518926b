"""MFCC summary features (kind "mfcc") via librosa.

Why: MFCCs and their deltas are the classic spectral-envelope baseline; summarising each
coefficient by mean and std over frames gives one fixed-length vector per sample regardless of
duration (4 * n_mfcc values: mean/std of the MFCCs, mean/std of their deltas).
"""

from __future__ import annotations

import librosa
import numpy as np

from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError

DEFAULT_N_MFCC = 13
WIN_LENGTH = 400  # 25 ms at 16 kHz
HOP_LENGTH = 160  # 10 ms at 16 kHz
N_FFT = 512  # next power of two above the window
N_MELS = 40  # more mel bands than this leaves empty filters with a 512-point FFT
DELTA_WIDTH = 9  # frames; librosa's default regression window


def make_extractor(params: dict):
    """Return a signal -> {name: value} function for the configured number of coefficients."""
    n_mfcc = _n_mfcc(params)
    return lambda signal: mfcc_features(signal, n_mfcc)


def feature_names(n_mfcc: int) -> list[str]:
    """Unprefixed names in output order, e.g. c0_mean ... c12_std, delta_c0_mean ..."""
    return [
        f"{prefix}c{i}_{stat}"
        for prefix in ("", "delta_")
        for stat in ("mean", "std")
        for i in range(n_mfcc)
    ]


def mfcc_features(signal: np.ndarray, n_mfcc: int) -> dict[str, float]:
    """Per-coefficient mean and std of MFCCs and their deltas for one 16 kHz signal."""
    mfcc = librosa.feature.mfcc(
        y=signal,
        sr=SAMPLE_RATE,
        n_mfcc=n_mfcc,
        n_fft=N_FFT,
        win_length=WIN_LENGTH,
        hop_length=HOP_LENGTH,
        n_mels=N_MELS,
    ).astype(np.float64)
    # mode="nearest" (instead of "interp") also works for clips shorter than DELTA_WIDTH frames.
    delta = librosa.feature.delta(mfcc, width=DELTA_WIDTH, mode="nearest")
    stats = np.concatenate(
        [mfcc.mean(axis=1), mfcc.std(axis=1), delta.mean(axis=1), delta.std(axis=1)]
    )
    return dict(zip(feature_names(n_mfcc), stats.tolist(), strict=True))


def _n_mfcc(params: dict) -> int:
    """n_mfcc from params; accepts 13, 13.0 or "13" (config overrides may arrive as text)."""
    value = params.get("n_mfcc", DEFAULT_N_MFCC)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    n_mfcc = int(number) if number.is_integer() else 0
    if isinstance(value, bool) or not 1 <= n_mfcc <= N_MELS:
        raise SautiError(
            f"FEATS.n_mfcc: {value!r} is not a whole number between 1 and {N_MELS}",
            hint=f"the default is {DEFAULT_N_MFCC}",
        )
    return n_mfcc
