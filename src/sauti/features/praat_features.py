"""Praat voice-quality and prosody features (kind "praat") via parselmouth.

Why a hand-picked set: these are the measures phoneticians read and report (F0, jitter,
shimmer, HNR, formants, intensity, speech rate), so a model built on them is explainable in
their terms, which openSMILE's hundreds of functionals are not.

Robustness rule: every group of measures is computed independently and a Praat failure or an
undefined value (too short, unvoiced) gives NaN for that group only; `sauti.features.extract`
turns NaN into 0.0. Duration is always defined, so a sample never fails completely here.
"""

from __future__ import annotations

import numpy as np
import parselmouth
from parselmouth.praat import call

from ..audio import SAMPLE_RATE

PITCH_FLOOR = 75.0  # Hz; Praat's default floor, covers low male voices
PITCH_CEILING = 600.0  # Hz; covers high female and child voices
MAX_FORMANT = 5500.0  # Hz; Praat's default ceiling for five formants
TIME_STEP = 0.01  # s; frame step for HNR, formants and intensity
NUCLEUS_MIN_DIP_DB = 2.0  # dB a syllable nucleus must rise above the median and the last dip

# Praat's standard arguments for period-based measures: time range (whole sound), shortest and
# longest period (s), maximum period factor, and for shimmer maximum amplitude factor.
PERIOD_ARGS = (0, 0, 0.0001, 0.02, 1.3)
AMPLITUDE_FACTOR = 1.6

NAMES = (
    "duration_s",
    "f0_mean_hz",
    "f0_std_hz",
    "f0_min_hz",
    "f0_max_hz",
    "f0_median_hz",
    "voiced_fraction",
    "jitter_local",
    "jitter_rap",
    "shimmer_local",
    "shimmer_apq3",
    "hnr_mean_db",
    "f1_mean_hz",
    "f2_mean_hz",
    "f3_mean_hz",
    "intensity_mean_db",
    "intensity_std_db",
    "speech_rate_per_s",
)


def make_extractor(params: dict):
    """Praat features take no parameters; `params` is accepted for a uniform interface."""
    del params
    return praat_features


def praat_features(signal: np.ndarray) -> dict[str, float]:
    """All Praat measures of one 16 kHz mono signal; undefined measures are NaN."""
    sound = parselmouth.Sound(signal.astype(np.float64), SAMPLE_RATE)
    values = dict.fromkeys(NAMES, np.nan)
    values["duration_s"] = sound.duration
    pitch = _try(lambda: sound.to_pitch(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING))
    if pitch is not None:
        values.update(_pitch_stats(pitch))
        values.update(_try(lambda: _perturbation(sound, pitch)) or {})
        values.update(_try(lambda: _formant_means(sound, pitch)) or {})
    values["hnr_mean_db"] = _try(lambda: _hnr_mean(sound), np.nan)
    intensity = _try(lambda: sound.to_intensity(minimum_pitch=PITCH_FLOOR, time_step=TIME_STEP))
    if intensity is not None:
        contour = intensity.values[0]
        values["intensity_mean_db"] = float(contour.mean())  # mean of dB, not of energy
        values["intensity_std_db"] = float(contour.std())
        if pitch is not None:
            nuclei = _syllable_nuclei(intensity.xs(), contour, pitch)
            values["speech_rate_per_s"] = nuclei / sound.duration
    return values


def _try(compute, default=None):
    """Run one Praat computation; a Praat error (e.g. sound shorter than the window) -> default."""
    try:
        return compute()
    except parselmouth.PraatError:
        return default


def _voiced_f0(pitch: parselmouth.Pitch) -> np.ndarray:
    f0 = pitch.selected_array["frequency"]
    return f0[f0 > 0]  # Praat marks unvoiced frames with 0 Hz


def _pitch_stats(pitch: parselmouth.Pitch) -> dict[str, float]:
    f0 = _voiced_f0(pitch)
    stats = {"voiced_fraction": f0.size / pitch.n_frames if pitch.n_frames else np.nan}
    if f0.size:
        stats.update(
            f0_mean_hz=f0.mean(),
            f0_std_hz=f0.std(),
            f0_min_hz=f0.min(),
            f0_max_hz=f0.max(),
            f0_median_hz=np.median(f0),
        )
    return stats


def _perturbation(sound: parselmouth.Sound, pitch: parselmouth.Pitch) -> dict[str, float]:
    """Jitter and shimmer from glottal pulses; Praat returns NaN when too few periods exist."""
    pulses = call([sound, pitch], "To PointProcess (cc)")
    shimmer_args = (*PERIOD_ARGS, AMPLITUDE_FACTOR)
    return {
        "jitter_local": call(pulses, "Get jitter (local)", *PERIOD_ARGS),
        "jitter_rap": call(pulses, "Get jitter (rap)", *PERIOD_ARGS),
        "shimmer_local": call([sound, pulses], "Get shimmer (local)", *shimmer_args),
        "shimmer_apq3": call([sound, pulses], "Get shimmer (apq3)", *shimmer_args),
    }


def _hnr_mean(sound: parselmouth.Sound) -> float:
    harmonicity = sound.to_harmonicity_cc(time_step=TIME_STEP, minimum_pitch=PITCH_FLOOR)
    hnr = harmonicity.values[0]
    hnr = hnr[hnr > -200]  # Praat's code for "silent/unvoiced frame"
    return float(hnr.mean()) if hnr.size else np.nan


def _formant_means(sound: parselmouth.Sound, pitch: parselmouth.Pitch) -> dict[str, float]:
    """F1-F3 means (Burg) at voiced pitch frames only, where formants are meaningful."""
    formant = sound.to_formant_burg(
        time_step=TIME_STEP, max_number_of_formants=5, maximum_formant=MAX_FORMANT
    )
    f0 = pitch.selected_array["frequency"]
    times = pitch.xs()[f0 > 0]
    means = {}
    for number in (1, 2, 3):
        track = np.array([formant.get_value_at_time(number, t) for t in times], dtype=float)
        track = track[np.isfinite(track)]
        means[f"f{number}_mean_hz"] = float(track.mean()) if track.size else np.nan
    return means


def _syllable_nuclei(times: np.ndarray, contour: np.ndarray, pitch: parselmouth.Pitch) -> int:
    """Count syllable nuclei: voiced intensity peaks standing out from silence and each other.

    In the spirit of de Jong & Wempe (2009): a peak is a candidate if it is at least 2 dB above
    the median intensity (so background noise never counts); it counts if it rises at least
    2 dB above the lowest point since the previous candidate (so ripples within one vowel count
    once) and is voiced (pitch defined there, so fricative bursts do not count).
    """
    median = float(np.median(contour))
    # -inf padding lets the first/last frame be a peak: tightly cut clips often end mid-vowel.
    padded = np.concatenate([[-np.inf], contour, [-np.inf]])
    count, dip = 0, median
    for i, level in enumerate(contour):
        dip = min(dip, level)
        is_peak = padded[i] < level >= padded[i + 2]
        if not is_peak or level < median + NUCLEUS_MIN_DIP_DB:
            continue
        if level - dip >= NUCLEUS_MIN_DIP_DB and _is_voiced(pitch, times[i]):
            count += 1
        dip = level  # the next peak must stand out from the valley after this one
    return count


def _is_voiced(pitch: parselmouth.Pitch, time: float) -> bool:
    return bool(np.isfinite(pitch.get_value_at_time(time)))
