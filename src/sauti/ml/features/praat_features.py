"""Praat voice-quality, formant, vocal-tract and speech-timing features (kind "praat").

Why this set: these are the measures phoneticians read and report, so a model built on them is
explainable in their terms, and it is the set of Nkululeko's `praat` features (David Feinberg's
Praat scripts) so an INI with `type = ['praat']` gets what its user expects. Every value comes
from Praat's own commands through parselmouth (To Pitch, To PointProcess, Get jitter/shimmer,
To Formant (burg), To Harmonicity, To Intensity, To TextGrid (silences)).

Two definitions, FEATS.praat.definitions:
- nkululeko (the default): Nkululeko 1.14.1's 45 columns with its names, order and values
  (`nkululeko_praat_features`), so the same experiment file gives the same models. Its three
  set-fitted columns (SET_FITTED, below) are undefined for one file and so 0 in every row; they
  stay in place because tree and xgb models break ties between equally good splits by column
  position. Why the default: over 100 speaker splits of the demo corpus and 20 of the large one
  (issue 16) sauti's definitions were level with these for svm and xgb and above them for the
  tree (benchmarks/results/praat_parity*.md), yet below them on the benchmark split of both
  corpora with each model; with Nkululeko's values a Nkululeko experiment gives Nkululeko's
  results, and sauti's definitions are one key away.
- sauti (`praat_features`): 47 columns, sauti's names (NKULULEKO_NAMES maps them;
  docs/benchmarks.md shows the table), Nkululeko's 45 in its column order, then f0_median_hz and
  voiced_fraction. Per-file counterparts of the set-fitted columns, and the syllable count and
  phonation time of `_speech_timing` without Nkululeko's choices.
f0 std is Praat's `Get standard deviation` and the formants are read at the glottal pulses from a
2.5 ms track, as in Feinberg's script: on the demo corpus these columns and the six vocal-tract
columns equal Nkululeko's to rounding (praat version 4; before, from 10 ms frames and numpy's
std, they were 0.5-2.6 % apart).

Settings are Nkululeko's (Feinberg's): pitch 75-300 Hz, formants up to 5000 Hz. sauti used
75-600 Hz and 5500 Hz (Praat's defaults) until issue 16 compared the two on the demo corpus:
with a 600 Hz ceiling Praat takes octave-up candidates on adult voices (28 of 234 male clips got
an f0 maximum above 300 Hz, 19 a mean f0 more than 10 % higher), the gender AUC of f0_mean fell
from 0.998 to 0.908 and test UAR over 100 speaker splits was 0.005-0.014 below Nkululeko's for
svm, xgb and tree. The price: voices above 300 Hz (children, shouting, singing) are tracked an
octave low or not at all. 5000 Hz is Praat's recommendation for adult male voices (5500 for
female ones); no single ceiling suits both, and 5000 made the svm's UAR no worse.

Left out on purpose (they were here before issue 16 and cost accuracy there):
- f0 minimum and maximum: the extremes of a frame track grow with the clip's length (within a
  speaker their rank correlation with duration was -0.19 and +0.36, the mean's 0.01) and keep
  single-frame tracking errors; with them xgb's UAR was 0.010 below Nkululeko's over 100 splits.
- intensity mean and spread in dB: the mean is the recording level (it moves with the gain), the
  spread mostly the silence and noise floor around the speech (33 dB on espeak's clean clips, 9
  dB on the real recordings of the demo corpus): properties of the recording, not of the voice;
  with them the svm's UAR was 0.007 lower. Without them every value here is independent of the
  recording level (tested).

Every value is a property of ONE file. Nkululeko's pF (formant position) and JitterPCA /
ShimmerPCA are fitted over the set of files extracted together (z-scores and a 2-component PCA
over the train set, and separately over the test set), so a file's value depends on the other
files, test files get axes of their own, and one file alone has no value. sauti's features are
cached per file set, extracted in shards and computed for single files at inference, so the
sauti definitions use per-file counterparts (see `_vocal_tract` and `_summary`) and the
nkululeko ones leave them 0. In Nkululeko 1.14.1 those three columns are 0 for every file of a
set in which one file lacks a formant or perturbation value: pF's z-scores turn NaN, and its PCA
refuses NaN and falls back to 0 (unless the first file lacks one: then it sets every NaN to 0
first). On the demo and the large corpus that held in train and test, so there the nkululeko
definitions equal Nkululeko's in every column; on a set where every file has every measure
(e.g. sustained vowels) Nkululeko's three columns are not 0 and the two differ there.

NaN policy: a group of measures that Praat cannot compute (too short, unvoiced, silent) is NaN
for that group only and `sauti.ml.features.extract` turns NaN into 0.0; duration is always
defined, so a sample never fails completely here. Nkululeko does the same with its default
FEATS.nan_strategy = zero, before scaling. Praat runs single-threaded here:
parselmouth gave different values when two threads ran it at once.
"""

from __future__ import annotations

import numpy as np
import parselmouth
from parselmouth.praat import call
from scipy import stats

from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError

PITCH_FLOOR = 75.0  # Hz; Praat's default floor, covers low male voices
PITCH_CEILING = 300.0  # Hz; Nkululeko's: 600 let octave-up errors in (module docstring)
MAX_FORMANT = 5000.0  # Hz; Nkululeko's, Praat's value for adult male voices (5500 for female)
TIME_STEP = 0.01  # s; frame step for HNR
FORMANT_TIME_STEP = 0.0025  # s; Feinberg's (Nkululeko's): a track sampled at every glottal pulse
SPEED_OF_SOUND = 35000.0  # cm/s in the warm, humid vocal tract (Fitch 1997; Feinberg's scripts)
# Formants of a uniform tube closed at the glottis, 17.5 cm long: (2i - 1) c / 4L (500 ... 3500)
NEUTRAL_FORMANTS = tuple((2 * i - 1) * SPEED_OF_SOUND / (4 * 17.5) for i in (1, 2, 3, 4))

# Praat's standard arguments for period-based measures: time range (whole sound), shortest and
# longest period (s), maximum period factor, and for shimmer maximum amplitude factor.
PERIOD_ARGS = (0, 0, 0.0001, 0.02, 1.3)
AMPLITUDE_FACTOR = 1.6

# Syllable nuclei and pauses after de Jong & Wempe (2009), with the settings of their script:
SILENCE_DB = -25.0  # dB below the 99 % intensity quantile that counts as silence
MIN_DIP_DB = 2.0  # dB a peak must rise above the dip before the next peak
MIN_PAUSE_S = 0.3  # shortest silent interval that counts as a pause
MIN_SOUNDING_S = 0.1  # shortest sounding interval
MIN_PAUSES_FOR_STATS = 3  # pause-duration statistics need at least this many pauses

JITTERS = {"local": "local", "local_abs_s": "local, absolute", "rap": "rap", "ppq5": "ppq5", "ddp": "ddp"}  # fmt: skip
SHIMMERS = {"local": "local", "local_db": "local_dB", "apq3": "apq3", "apq5": "apq5", "apq11": "apq11", "dda": "dda"}  # fmt: skip

#: Nkululeko 1.14.1 praat column -> sauti column (same measure; see docs/benchmarks.md for where the
#: definitions differ: pF and the PCA columns are per file here, phonationtime_s is speaking time),
#: in the order of Nkululeko's columns.
NKULULEKO_NAMES = {
    "duration": "duration_s",
    "meanF0Hz": "f0_mean_hz",
    "stdevF0Hz": "f0_std_hz",
    "HNR": "hnr_mean_db",
    "localJitter": "jitter_local",
    "localabsoluteJitter": "jitter_local_abs_s",
    "rapJitter": "jitter_rap",
    "ppq5Jitter": "jitter_ppq5",
    "ddpJitter": "jitter_ddp",
    "localShimmer": "shimmer_local",
    "localdbShimmer": "shimmer_local_db",
    "apq3Shimmer": "shimmer_apq3",
    "apq5Shimmer": "shimmer_apq5",
    "apq11Shimmer": "shimmer_apq11",
    "ddaShimmer": "shimmer_dda",
    **{f"f{n}_mean": f"f{n}_mean_hz" for n in (1, 2, 3, 4)},
    **{f"f{n}_median": f"f{n}_median_hz" for n in (1, 2, 3, 4)},
    "pause_lognorm_mu": "pause_lognorm_mu",
    "pause_lognorm_sigma": "pause_lognorm_sigma",
    "pause_lognorm_ks_pvalue": "pause_lognorm_ks_p",
    "pause_mean_duration": "pause_mean_s",
    "pause_std_duration": "pause_std_s",
    "pause_cv": "pause_cv",
    "nsyll": "syllable_count",
    "npause": "pause_count",
    "phonationtime_s": "phonation_time_s",
    "speechrate_nsyll_dur": "speech_rate_per_s",
    "articulation_rate_nsyll_phonationtime": "articulation_rate_per_s",
    "ASD_speakingtime_nsyll": "syllable_duration_s",
    "proportion_pause_duration": "pause_ratio",
    "JitterPCA": "jitter_summary",
    "ShimmerPCA": "shimmer_summary",
    "pF": "formant_position",
    "fdisp": "formant_dispersion_hz",
    "avgFormant": "formant_mean_hz",
    "mff": "formant_geomean_hz",
    "fitch_vtl": "vtl_fitch_cm",
    "delta_f": "formant_spacing_hz",
    "vtl_delta_f": "vtl_spacing_cm",
}

#: Column order: the columns shared with Nkululeko in Nkululeko's order (the order of its
#: DataFrame), then sauti's two extras. Tree and xgb models break ties between equally good
#: splits by column position, so the same values in the same order give the same models.
NAMES = (*NKULULEKO_NAMES.values(), "f0_median_hz", "voiced_fraction")


#: FEATS.praat.definitions: whose definitions and columns (module docstring); the first is the
#: default, as in workflow/schemas/config.schema.yaml.
DEFINITIONS = ("nkululeko", "sauti")
#: Nkululeko's columns fitted over a set of files, which one file cannot have (module docstring).
SET_FITTED = ("pF", "JitterPCA", "ShimmerPCA")


def make_extractor(params: dict):
    """The extractor of FEATS.praat.definitions (Nkululeko's 45 columns or sauti's 47)."""
    definitions = params.get("praat.definitions", DEFINITIONS[0])
    if definitions not in DEFINITIONS:
        raise SautiError(
            f"FEATS.praat.definitions = {definitions!r} is not one of {', '.join(DEFINITIONS)}",
            hint="nkululeko: Nkululeko's praat columns and values; sauti: sauti's refinements",
        )
    return nkululeko_praat_features if definitions == "nkululeko" else praat_features


def nkululeko_praat_features(signal: np.ndarray) -> dict[str, float]:
    """Nkululeko 1.14.1's 45 praat columns, in its order and with its names, of one signal.

    The values are Nkululeko's: the same Praat commands and settings as `praat_features`, with
    de Jong & Wempe's syllable count and Nkululeko's phonationtime_s (`_speech_timing`). Its
    set-fitted columns (SET_FITTED) are undefined for one file, so NaN (0 in the table).
    """
    values = _measures(signal, nkululeko=True)
    row = {name: values.get(ours, np.nan) for name, ours in NKULULEKO_NAMES.items()}
    return row | dict.fromkeys(SET_FITTED, np.nan)


def praat_features(signal: np.ndarray) -> dict[str, float]:
    """sauti's 47 praat measures of one 16 kHz mono signal; undefined measures are NaN."""
    return _measures(signal, nkululeko=False)


def _measures(signal: np.ndarray, nkululeko: bool) -> dict[str, float]:
    """Every Praat measure of one signal by sauti's names; `nkululeko` picks Nkululeko's
    syllable count and phonation time (`_speech_timing`)."""
    sound = parselmouth.Sound(signal.astype(np.float64), SAMPLE_RATE)
    values = dict.fromkeys(NAMES, np.nan)
    values["duration_s"] = sound.duration
    if not np.any(signal):  # digital silence: Praat would call all of it "sounding" at -300 dB
        return values
    pitch = _try(lambda: sound.to_pitch(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING))
    if pitch is not None:
        values.update(_pitch_stats(pitch))
        pulses = _try(lambda: call([sound, pitch], "To PointProcess (cc)"))
        if pulses is not None:
            values.update(_try(lambda: _perturbation(sound, pulses)) or {})
            values.update(_try(lambda: _formants(sound, pulses)) or {})
    values.update(_vocal_tract([values[f"f{n}_median_hz"] for n in (1, 2, 3, 4)]))
    values["hnr_mean_db"] = _try(lambda: _hnr_mean(sound), np.nan)
    values.update(_try(lambda: _speech_timing(sound, nkululeko)) or {})
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
    stats_ = {"voiced_fraction": f0.size / pitch.n_frames if pitch.n_frames else np.nan}
    if f0.size:
        stats_.update(
            f0_mean_hz=f0.mean(),
            # Praat's definition (the sample standard deviation over the voiced frames, n - 1;
            # undefined for fewer than two): what Praat users and Nkululeko report
            f0_std_hz=call(pitch, "Get standard deviation", 0, 0, "Hertz"),
            f0_median_hz=np.median(f0),
        )
    return stats_


def _perturbation(sound: parselmouth.Sound, pulses: parselmouth.Data) -> dict[str, float]:
    """Five jitter and six shimmer measures from the glottal pulses (Praat's definitions; NaN
    when there are too few periods), and one per-file summary of each family."""
    shimmer_args = (*PERIOD_ARGS, AMPLITUDE_FACTOR)
    values = {
        f"jitter_{name}": call(pulses, f"Get jitter ({praat})", *PERIOD_ARGS)
        for name, praat in JITTERS.items()
    }
    for name, praat in SHIMMERS.items():
        values[f"shimmer_{name}"] = call([sound, pulses], f"Get shimmer ({praat})", *shimmer_args)
    values["jitter_summary"] = _summary([values[f"jitter_{n}"] for n in ("local", "rap", "ppq5")])
    values["shimmer_summary"] = _summary(
        [values[f"shimmer_{n}"] for n in ("local", "apq3", "apq5", "apq11")]
    )
    return values


def _summary(relative_measures: list[float]) -> float:
    """Geometric mean of the defined relative perturbation measures of one family.

    Why this and not Nkululeko's PCA: its JitterPCA/ShimmerPCA are the first two principal
    components of all eleven measures over a set of files, which one file cannot have (see the
    module docstring). The measures of a family are strongly correlated, so their common level
    is what a first component captures; the geometric mean gives that level per file, in the
    measures' own unit (a fraction of the period or amplitude). The absolute and dB variants
    and ddp/dda (= 3 x rap/apq3 by definition) are left out: other units or duplicates.
    """
    defined = [v for v in relative_measures if np.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(defined)))) if defined else np.nan


def _hnr_mean(sound: parselmouth.Sound) -> float:
    harmonicity = sound.to_harmonicity_cc(time_step=TIME_STEP, minimum_pitch=PITCH_FLOOR)
    hnr = harmonicity.values[0]
    hnr = hnr[hnr > -200]  # Praat's code for "silent/unvoiced frame"
    return float(hnr.mean()) if hnr.size else np.nan


def _formants(sound: parselmouth.Sound, pulses: parselmouth.Data) -> dict[str, float]:
    """F1-F4 mean and median (Burg) at the glottal pulses, as in Feinberg's script (Nkululeko).

    The formant track has a 2.5 ms step (FORMANT_TIME_STEP) and is read at each pulse with
    linear interpolation; a pulse where a formant is undefined is skipped for that formant. One
    value per glottal period weights high-pitched stretches more than one per 10 ms frame would
    (sauti's definition until praat version 4), and measures where the vocal folds close.
    """
    formant = sound.to_formant_burg(
        time_step=FORMANT_TIME_STEP, max_number_of_formants=5, maximum_formant=MAX_FORMANT
    )
    times = call(pulses, "To Matrix").values[0] if call(pulses, "Get number of points") else []
    values = {}
    for number in (1, 2, 3, 4):
        track = np.array([formant.get_value_at_time(number, t) for t in times], dtype=float)
        track = track[np.isfinite(track)]
        values[f"f{number}_mean_hz"] = float(track.mean()) if track.size else np.nan
        values[f"f{number}_median_hz"] = float(np.median(track)) if track.size else np.nan
    return values


def _vocal_tract(medians: list[float]) -> dict[str, float]:
    """Vocal-tract size estimates from the median formants F1-F4 (NaN if one is undefined).

    Definitions as in Feinberg's scripts: formant dispersion (F4 - F1) / 3 (Fitch 1997), mean
    and geometric mean of the formants, formant spacing = least-squares slope of F_i against
    (2i - 1) / 2 through the origin (Reby & McComb 2003) with VTL = c / (2 * spacing), and
    Fitch's VTL = mean of (2i - 1) c / (4 F_i). formant_position replaces Puts et al.'s pF (mean
    of the formants' z-scores over a sample of speakers) by a per-file standardisation: the mean
    relative deviation of F_i from a neutral 17.5 cm tube's formants (500, 1500, 2500, 3500 Hz),
    0 for that tube and positive for higher formants (a shorter vocal tract).
    """
    f = np.asarray(medians, dtype=float)
    if not (np.all(np.isfinite(f)) and np.all(f > 0)):
        return {}
    odd = np.array([1.0, 3.0, 5.0, 7.0])  # 2i - 1
    spacing = float(np.sum(odd / 2 * f) / np.sum((odd / 2) ** 2))
    return {
        "formant_position": float(np.mean(f / np.array(NEUTRAL_FORMANTS) - 1.0)),
        "formant_dispersion_hz": float((f[3] - f[0]) / 3),
        "formant_mean_hz": float(f.mean()),
        "formant_geomean_hz": float(np.exp(np.log(f).mean())),
        "formant_spacing_hz": spacing,
        "vtl_fitch_cm": float(np.mean(odd * SPEED_OF_SOUND / (4 * f))),
        "vtl_spacing_cm": SPEED_OF_SOUND / (2 * spacing),
    }


def _speech_timing(sound: parselmouth.Sound, nkululeko: bool) -> dict[str, float]:
    """Syllable nuclei, pauses and rates after de Jong & Wempe (2009), with Praat's commands.

    Silences: To TextGrid (silences) on the intensity, threshold SILENCE_DB below the 99 %
    quantile; a pause is a silent interval between two sounding ones. Nuclei: intensity peaks
    above that threshold that rise MIN_DIP_DB above the dip before the next peak, are voiced
    and lie in a sounding interval. With `nkululeko`, as in the original script and Nkululeko,
    the last peak is never counted (no next peak to find its dip) and phonation_time_s is the
    duration of the intensity contour (the recording's length). Without it (sauti's
    definitions), the end of the recording counts as the last peak's dip and a first or last
    intensity frame louder than its neighbour is a peak too, since clips are often cut tightly
    around a word and a one-syllable word should count one syllable, not zero; and
    phonation_time_s is the sounding time.
    """
    duration = sound.duration
    intensity = sound.to_intensity(50.0)
    max99 = call(intensity, "Get quantile", 0, 0, 0.99)
    lowest = call(intensity, "Get minimum", 0, 0, "Parabolic")
    highest = call(intensity, "Get maximum", 0, 0, "Parabolic")
    threshold = max(max99 + SILENCE_DB, lowest)
    # To TextGrid (silences) takes its threshold relative to the maximum
    grid = call(
        intensity, "To TextGrid (silences)", SILENCE_DB - (highest - max99),
        MIN_PAUSE_S, MIN_SOUNDING_S, "silent", "sounding",
    )  # fmt: skip
    intervals = [
        (
            call(grid, "Get start time of interval", 1, i),
            call(grid, "Get end time of interval", 1, i),
            call(grid, "Get label of interval", 1, i),
        )
        for i in range(1, call(grid, "Get number of intervals", 1) + 1)
    ]
    sounding = [(start, end) for start, end, label in intervals if label == "sounding"]
    speaking = float(sum(end - start for start, end in sounding))
    pauses = np.array([b[0] - a[1] for a, b in zip(sounding, sounding[1:], strict=False)])
    contour = call(call(intensity, "Down to Matrix"), "To Sound (slice)", 1)
    nuclei = _syllable_nuclei(sound, intensity, contour, threshold, sounding, nkululeko)
    values = {
        "syllable_count": float(nuclei),
        "pause_count": float(len(pauses)),
        "phonation_time_s": call(contour, "Get total duration") if nkululeko else speaking,
        "speech_rate_per_s": nuclei / duration,
        "articulation_rate_per_s": nuclei / speaking if speaking > 0 else np.nan,
        "syllable_duration_s": speaking / nuclei if nuclei else np.nan,
        "pause_ratio": (duration - speaking) / speaking if speaking > 0 else np.nan,
    }
    values.update(_pause_statistics(pauses))
    return values


def _syllable_nuclei(
    sound, intensity, contour, threshold: float, sounding: list, nkululeko: bool
) -> int:
    """Count voiced intensity peaks that stand out from the dip that follows them (the rules of
    `_speech_timing`); `contour` is the intensity as a Sound."""
    extrema = call(contour, "To PointProcess (extrema)", "Left", "yes", "no", "Sinc70")
    peaks = [
        (time, call(contour, "Get value at time", time, "Cubic"))
        for time in (
            call(extrema, "Get time from index", i)
            for i in range(1, call(extrema, "Get number of points") + 1)
        )
    ]
    # Praat's extrema are interior; a clip cut while still loud peaks at its first/last frame
    frames, levels = intensity.xs(), intensity.values[0]
    if not nkululeko and len(levels) > 1 and levels[0] > levels[1]:
        peaks.insert(0, (frames[0], levels[0]))
    if not nkululeko and len(levels) > 1 and levels[-1] > levels[-2]:
        peaks.append((frames[-1], levels[-1]))
    peaks = [(time, level) for time, level in peaks if level > threshold]
    # the pitch settings of de Jong & Wempe's script: a lenient voicing decision
    pitch = sound.to_pitch_ac(0.02, 30, 4, False, 0.03, 0.25, 0.01, 0.35, 0.25, 450)
    count = 0
    for i, (time, level) in enumerate(peaks):
        if i + 1 < len(peaks):
            dip = call(intensity, "Get minimum", time, peaks[i + 1][0], "None")
            if not abs(level - dip) > MIN_DIP_DB:
                continue
        elif nkululeko:  # de Jong & Wempe's loop ends before the last peak
            continue
        voiced = np.isfinite(pitch.get_value_at_time(time))
        if voiced and any(start <= time <= end for start, end in sounding):
            count += 1
    return count


def _pause_statistics(pauses: np.ndarray) -> dict[str, float]:
    """Mean, spread and log-normal fit of the pause durations (from MIN_PAUSES_FOR_STATS on).

    The log-normal with location 0 has closed-form maximum-likelihood parameters: mu and sigma
    are the mean and (population) standard deviation of the log durations. The KS p-value says
    how well that fits (it is optimistic: the parameters come from the same pauses).
    """
    if len(pauses) < MIN_PAUSES_FOR_STATS:
        return {}
    logs = np.log(pauses)
    mu, sigma = float(logs.mean()), float(logs.std())
    fit = stats.lognorm(sigma, 0, np.exp(mu)) if sigma > 0 else None
    return {
        "pause_mean_s": float(pauses.mean()),
        "pause_std_s": float(pauses.std()),
        "pause_cv": float(pauses.std() / pauses.mean()),
        "pause_lognorm_mu": mu,
        "pause_lognorm_sigma": sigma,
        "pause_lognorm_ks_p": float(stats.kstest(pauses, fit.cdf).pvalue) if fit else np.nan,
    }
