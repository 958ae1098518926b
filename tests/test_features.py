"""Feature extractors on real speech from the demo corpus.

Why these checks: the pipeline caches feature tables and trains on them blindly, so the
contract (row order, float64 columns, prefixes, no NaN) and the plausibility of the numbers
(female F0 above male, slicing respected, deterministic output) must hold before any model runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import opensmile
import pandas as pd
import parselmouth
import pytest
import scipy.signal
from parselmouth.praat import call

import sauti.core.audio
from sauti.core.errors import SautiError
from sauti.ml.features import KINDS, THREADED_KINDS, extract, praat_features

OS_DEFAULT = {"set": "eGeMAPSv02", "level": "functionals"}
AUDIO_KINDS = {"os": OS_DEFAULT, "praat": {}, "mfcc": {"n_mfcc": 13}}
SAUTI_PRAAT = {"praat.definitions": "sauti"}  # sauti's 47 praat columns (default: Nkululeko's)


@pytest.fixture(scope="module")
def few(small_samples) -> pd.DataFrame:
    """Six clips (both genders, real and synthetic) for the quicker checks."""
    return small_samples.iloc[::4].reset_index(drop=True)


def assert_contract(features: pd.DataFrame, samples: pd.DataFrame, kind: str) -> None:
    assert len(features) == len(samples)
    assert isinstance(features.index, pd.RangeIndex) and features.index.start == 0
    assert all(features.dtypes == np.float64)
    assert all(name.startswith(f"{kind}_") for name in features.columns)
    assert np.isfinite(features.to_numpy()).all()


def test_kinds_are_the_documented_ones():
    from sauti.config.schema import schema

    documented = schema()["properties"]["FEATS"]["properties"]["type"]["items"]["enum"]
    assert set(KINDS) == set(documented) and len(KINDS) == len(documented)


def test_os_egemaps_functionals_gives_88_finite_columns(small_samples):
    features = extract("os", small_samples, OS_DEFAULT, progress=False)
    assert_contract(features, small_samples, "os")
    assert features.shape == (24, 88)
    assert "os_F0semitoneFrom27.5Hz_sma3nz_amean" in features.columns
    # Real speech: loudness varies from clip to clip, so no column is constant across all.
    assert features["os_loudness_sma3_amean"].nunique() == len(small_samples)


def test_os_shorthand_set_names_are_accepted(few):
    full = extract("os", few, {"set": "eGeMAPSv02", "level": "functionals"}, progress=False)
    short = extract("os", few, {"set": "egemaps", "level": "functionals", "x": 1}, progress=False)
    pd.testing.assert_frame_equal(full, short)


def test_os_lld_pooling_gives_mean_and_std_of_each_descriptor(few):
    llds = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
    ).feature_names
    features = extract("os", few, {"set": "eGeMAPSv02", "level": "lld"}, progress=False)
    assert_contract(features, few, "os")
    assert features.shape[1] == 2 * len(llds) == 50
    assert f"os_{llds[0]}_mean" in features.columns and f"os_{llds[0]}_std" in features.columns
    assert (features.filter(like="_std") > 0).to_numpy().any()


@pytest.mark.parametrize("n_mfcc", [13, 20])
def test_mfcc_has_four_values_per_coefficient(few, n_mfcc):
    features = extract("mfcc", few, {"n_mfcc": n_mfcc}, progress=False)
    assert_contract(features, few, "mfcc")
    assert features.shape[1] == 4 * n_mfcc
    assert {"mfcc_c0_mean", "mfcc_c0_std", "mfcc_delta_c0_mean", "mfcc_delta_c0_std"} <= set(
        features.columns
    )


def test_mfcc_defaults_to_13_coefficients(few):
    assert extract("mfcc", few, {}, progress=False).shape[1] == 52


def test_praat_female_mean_f0_is_above_male(small_samples):
    features = extract("praat", small_samples, SAUTI_PRAAT, progress=False)
    assert_contract(features, small_samples, "praat")
    f0 = features["praat_f0_mean_hz"].groupby(small_samples["gender"]).mean()
    assert f0["female"] > 1.2 * f0["male"], f0
    # no clip tracked an octave up: with a 600 Hz ceiling carlo_digit0 read 262 Hz, gcin_f 333-396
    voiced = features["praat_f0_mean_hz"] > 0
    by_gender = features.loc[voiced, "praat_f0_mean_hz"].groupby(small_samples["gender"])
    assert by_gender.max()["male"] < 180 and by_gender.min()["female"] > 140, by_gender.describe()
    assert by_gender.max()["female"] < 250, by_gender.describe()
    assert features["praat_duration_s"].to_numpy() == pytest.approx(
        (small_samples["end"] - small_samples["start"]).to_numpy(), abs=1e-3
    )
    assert features["praat_voiced_fraction"].between(0, 1).all()
    assert (features["praat_speech_rate_per_s"] > 0).mean() > 0.8


def test_praat_gives_zero_not_crash_for_very_short_audio(few):
    tiny = few.head(1).assign(end=few["start"].iloc[0] + 0.03)  # 30 ms: shorter than any window
    for params, names in ((SAUTI_PRAAT, ("duration_s", "f0_mean_hz", "jitter_local")),
                          ({}, ("duration", "meanF0Hz", "localJitter"))):  # fmt: skip
        features = extract("praat", tiny, params, progress=False)
        assert_contract(features, tiny, "praat")
        duration, f0, jitter = (features[f"praat_{name}"].iloc[0] for name in names)
        assert duration == pytest.approx(0.03, abs=1e-3)
        assert f0 == 0.0 and jitter == 0.0


# ---- praat: Nkululeko's set, checked against Praat's definitions on signals with known answers


def pulse_train(periods, amplitudes, rate=16000) -> np.ndarray:
    """Glottal-like excitation: one impulse per period (periods in samples, so exact)."""
    signal = np.zeros(int(sum(periods)) + rate // 10)
    onsets = np.concatenate([[0], np.cumsum(periods)[:-1]]).astype(int)
    signal[onsets] = amplitudes
    return signal


def neutral_vowel(signal: np.ndarray, rate=16000) -> np.ndarray:
    """`signal` through the resonances of a uniform 17.5 cm tube: (2i - 1) * 35000 / 70 Hz =
    500, 1500, 2500, 3500, 4500 Hz (second-order resonators, bandwidths 60-200 Hz)."""
    for frequency, bandwidth in zip(
        (500, 1500, 2500, 3500, 4500), (60, 90, 120, 150, 200), strict=True
    ):
        r = np.exp(-np.pi * bandwidth / rate)
        theta = 2 * np.pi * frequency / rate
        signal = scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], signal)
    return 0.5 * signal / np.abs(signal).max()


def test_praat_has_a_column_for_every_nkululeko_praat_column(few):
    assert len(praat_features.NKULULEKO_NAMES) == 45  # Nkululeko 1.14.1's praat set
    ours = list(praat_features.NKULULEKO_NAMES.values())
    assert len(set(ours)) == 45 and set(ours) <= set(praat_features.NAMES)
    # and two more, neither of them a recording-level or clip-length measure (module docstring)
    assert set(praat_features.NAMES) - set(ours) == {"f0_median_hz", "voiced_fraction"}
    features = extract("praat", few.head(2), SAUTI_PRAAT, progress=False)
    assert list(features.columns) == [f"praat_{name}" for name in praat_features.NAMES]
    # the default: Nkululeko's own names
    features = extract("praat", few.head(2), {}, progress=False)
    assert list(features.columns) == [f"praat_{n}" for n in praat_features.NKULULEKO_NAMES]


def test_praat_definitions_default_is_the_schemas_and_a_wrong_one_is_named():
    from sauti.config.schema import schema

    option = schema()["properties"]["FEATS"]["properties"]["praat.definitions"]
    assert option["default"] == praat_features.DEFINITIONS[0] == "nkululeko"
    assert option["enum"] == sorted(praat_features.DEFINITIONS)
    with pytest.raises(SautiError, match="FEATS.praat.definitions = 'feinberg'"):
        praat_features.make_extractor({"praat.definitions": "feinberg"})


def test_praat_nkululeko_definitions_differ_from_sautis_only_where_documented(few):
    """On real speech, Nkululeko's definitions equal sauti's in every shared column but four:
    its syllable count (and the three rates from it) never counts the last peak, so it is at
    most sauti's; its phonationtime_s is the clip's length; its set-fitted columns are NaN."""
    timing = {"nsyll", "speechrate_nsyll_dur", "articulation_rate_nsyll_phonationtime"}
    timing |= {"ASD_speakingtime_nsyll", "phonationtime_s"}
    fewer = 0
    for clip in few[["file", "start", "end"]].itertuples(index=False):
        signal = sauti.core.audio.read(*clip)
        theirs = praat_features.nkululeko_praat_features(signal)
        ours = praat_features.praat_features(signal)
        assert list(theirs) == list(praat_features.NKULULEKO_NAMES)
        for name, our_name in praat_features.NKULULEKO_NAMES.items():
            if name in praat_features.SET_FITTED:
                assert np.isnan(theirs[name]), name
            elif name not in timing:
                assert theirs[name] == ours[our_name] or (
                    np.isnan(theirs[name]) and np.isnan(ours[our_name])
                ), name
        assert theirs["phonationtime_s"] == pytest.approx(ours["duration_s"], abs=1e-9)
        assert theirs["nsyll"] <= ours["syllable_count"]
        fewer += theirs["nsyll"] < ours["syllable_count"]
    assert fewer >= len(few) // 2  # most clips are one word: their last syllable is the first


def test_praat_columns_shared_with_nkululeko_come_in_its_column_order():
    """Tree and xgb models break ties between equally good splits by column position: the same
    values in the same order give the same models. The order of Nkululeko 1.14.1's DataFrame:"""
    nkululeko = [
        "duration", "meanF0Hz", "stdevF0Hz", "HNR", "localJitter", "localabsoluteJitter",
        "rapJitter", "ppq5Jitter", "ddpJitter", "localShimmer", "localdbShimmer", "apq3Shimmer",
        "apq5Shimmer", "apq11Shimmer", "ddaShimmer", "f1_mean", "f2_mean", "f3_mean", "f4_mean",
        "f1_median", "f2_median", "f3_median", "f4_median", "pause_lognorm_mu",
        "pause_lognorm_sigma", "pause_lognorm_ks_pvalue", "pause_mean_duration",
        "pause_std_duration", "pause_cv", "nsyll", "npause", "phonationtime_s",
        "speechrate_nsyll_dur", "articulation_rate_nsyll_phonationtime", "ASD_speakingtime_nsyll",
        "proportion_pause_duration", "JitterPCA", "ShimmerPCA", "pF", "fdisp", "avgFormant", "mff",
        "fitch_vtl", "delta_f", "vtl_delta_f",
    ]  # fmt: skip
    assert list(praat_features.NKULULEKO_NAMES) == nkululeko
    names = praat_features.NAMES
    assert list(names[:45]) == [praat_features.NKULULEKO_NAMES[n] for n in nkululeko]
    assert names[45:] == ("f0_median_hz", "voiced_fraction")


@pytest.mark.filterwarnings("ignore:The loudest and softest part")  # a steady tone
def test_praat_f0_std_is_praats_standard_deviation_of_a_vibrato():
    """f0 = 150 + 12 sin(2 pi 5 t) Hz: the spread of a sine is 12 / sqrt(2) = 8.49 Hz, and the
    value is Praat's `Get standard deviation` (n - 1 over the voiced frames), as Nkululeko's."""
    rate = 16000
    t = np.arange(int(1.2 * rate)) / rate
    phase = 2 * np.pi * np.cumsum(150 + 12 * np.sin(2 * np.pi * 5 * t)) / rate
    signal = np.sum([np.sin(k * phase) / k for k in range(1, 11)], axis=0)
    signal = 0.5 * signal / np.abs(signal).max()
    values = praat_features.praat_features(signal)
    pitch = parselmouth.Sound(signal, rate).to_pitch(pitch_floor=75, pitch_ceiling=300)
    f0 = pitch.selected_array["frequency"]
    assert values["f0_std_hz"] == pytest.approx(np.std(f0[f0 > 0], ddof=1), rel=1e-9)
    assert values["f0_std_hz"] == pytest.approx(12 / np.sqrt(2), rel=0.01)
    assert values["f0_mean_hz"] == pytest.approx(150, abs=0.5)


def test_praat_pitch_and_formants_follow_feinbergs_script_on_real_speech(few):
    """Feinberg's script (Nkululeko's extractor), step by step with Praat's commands: pitch
    75-300 Hz and its `Get standard deviation`; formants (Burg, 2.5 ms step, 5 up to 5000 Hz)
    read at every glottal pulse of `To PointProcess (periodic, cc)`, mean and median over the
    pulses where each is defined; the vocal-tract columns from the medians."""
    checked = 0
    for clip in few[["file", "start", "end"]].itertuples(index=False):
        signal = sauti.core.audio.read(*clip)
        values = praat_features.praat_features(signal)
        sound = parselmouth.Sound(signal.astype(np.float64), 16000)
        pitch = call(sound, "To Pitch", 0.0, 75, 300)
        praat_std = call(pitch, "Get standard deviation", 0, 0, "Hertz")
        assert values["f0_std_hz"] == pytest.approx(praat_std, rel=1e-12, nan_ok=True)
        pulses = call(sound, "To PointProcess (periodic, cc)", 75, 300)
        if call(pulses, "Get number of points") == 0:  # unvoiced clip: no formant values
            assert np.isnan(values["f1_mean_hz"]) and np.isnan(values["vtl_fitch_cm"])
            continue
        checked += 1
        formant = call(sound, "To Formant (burg)", 0.0025, 5, 5000, 0.025, 50)
        times = [call(pulses, "Get time from index", i + 1) for i in range(call(pulses, "Get number of points"))]  # fmt: skip
        medians = []
        for number in (1, 2, 3, 4):
            track = [call(formant, "Get value at time", number, t, "Hertz", "Linear") for t in times]  # fmt: skip
            track = [f for f in track if not np.isnan(f)]
            assert values[f"f{number}_mean_hz"] == pytest.approx(np.mean(track), rel=1e-12), clip
            assert values[f"f{number}_median_hz"] == pytest.approx(np.median(track), rel=1e-12)
            medians.append(np.median(track))
        assert values["formant_dispersion_hz"] == pytest.approx((medians[3] - medians[0]) / 3)
    assert checked >= 2


def test_praat_jitter_equals_its_definition_on_alternating_periods():
    """Periods alternating 124/132 samples (7.75/8.25 ms): local = mean |T_i - T_i-1| / mean T
    = 8/128, rap = |T_i - mean of 3| / mean T = (2/3)(8/128), ppq5 = (2/5)(8/128), ddp = 3 rap,
    local absolute = 8 samples = 0.5 ms. Equal amplitudes: shimmer 0."""
    values = praat_features.praat_features(0.5 * pulse_train([124, 132] * 60, 1.0))
    assert values["jitter_local"] == pytest.approx(8 / 128, rel=1e-3)
    assert values["jitter_local_abs_s"] == pytest.approx(8 / 16000, rel=1e-3)
    assert values["jitter_rap"] == pytest.approx(2 / 3 * 8 / 128, rel=1e-3)
    assert values["jitter_ppq5"] == pytest.approx(2 / 5 * 8 / 128, rel=1e-3)
    assert values["jitter_ddp"] == pytest.approx(3 * values["jitter_rap"], rel=1e-6)
    assert values["shimmer_local"] < 1e-6
    relative = [values[f"jitter_{n}"] for n in ("local", "rap", "ppq5")]
    assert values["jitter_summary"] == pytest.approx(np.exp(np.mean(np.log(relative))))


def test_praat_shimmer_equals_its_definition_on_alternating_amplitudes():
    """Peaks alternating 1.0/0.8: local = 0.2 / 0.9, local_dB = 20 log10(1/0.8), apq3 = |A_i -
    mean of 3| / mean A = (0.4/3) / 0.9, apq5 = (0.4/5) / 0.9, dda = 3 apq3; exact periods:
    jitter 0."""
    values = praat_features.praat_features(0.5 * pulse_train([128] * 120, [1.0, 0.8] * 60))
    assert values["shimmer_local"] == pytest.approx(0.2 / 0.9, rel=1e-3)
    assert values["shimmer_local_db"] == pytest.approx(20 * np.log10(1 / 0.8), rel=1e-3)
    assert values["shimmer_apq3"] == pytest.approx(0.4 / 3 / 0.9, rel=1e-3)
    assert values["shimmer_apq5"] == pytest.approx(0.4 / 5 / 0.9, rel=1e-3)
    assert values["shimmer_dda"] == pytest.approx(3 * values["shimmer_apq3"], rel=1e-6)
    assert values["jitter_local"] < 1e-6


@pytest.mark.filterwarnings("ignore:The loudest and softest part")  # a steady tone
def test_praat_does_not_take_the_octave_of_a_voice_with_weak_odd_harmonics():
    """A 160 Hz voice whose odd harmonics are at 2 % of the even ones almost repeats every half
    period: Praat with a 600 Hz ceiling reported 320 Hz for it. Up to 300 Hz (Nkululeko's
    ceiling) the octave is no candidate and f0 is the period's 160 Hz."""
    rate = 16000
    t = np.arange(int(0.8 * rate)) / rate
    harmonics = [(0.02 if k % 2 else 1.0) / k * np.sin(2 * np.pi * k * 160 * t + 0.3 * k) for k in range(1, 21)]  # fmt: skip
    signal = np.sum(harmonics, axis=0)
    values = praat_features.praat_features(0.5 * signal / np.abs(signal).max())
    assert values["f0_median_hz"] == pytest.approx(160, abs=1)
    assert values["f0_mean_hz"] == pytest.approx(160, abs=1)
    assert values["voiced_fraction"] > 0.9


def test_praat_values_do_not_depend_on_the_recording_level(few):
    """The same clips 20 dB quieter give the same values: every measure is relative (ratios of
    periods, amplitudes, energies; intensity thresholds below the clip's own maximum), so a
    model does not learn the recording gain."""
    for clip in few[["file", "start", "end"]].itertuples(index=False):
        signal = sauti.core.audio.read(*clip)
        loud = praat_features.praat_features(signal)
        quiet = praat_features.praat_features(0.1 * signal)
        for name in praat_features.NAMES:
            assert quiet[name] == pytest.approx(loud[name], rel=1e-4, nan_ok=True), (clip, name)


def test_praat_formants_and_vocal_tract_of_a_neutral_tube_vowel():
    """A perfectly periodic 125 Hz vowel with the formants of a 17.5 cm tube: F0 125 Hz, jitter
    and shimmer about 0, F1-F4 near 500/1500/2500/3500 Hz, both vocal-tract lengths near 17.5 cm,
    formant spacing and dispersion near 1000 Hz, formant position near 0."""
    values = praat_features.praat_features(neutral_vowel(pulse_train([128] * 125, 1.0)))
    assert values["f0_median_hz"] == pytest.approx(125, abs=0.5)
    assert values["jitter_local"] < 1e-4 and values["shimmer_local"] < 1e-3
    assert values["hnr_mean_db"] > 30
    for number, expected in zip((1, 2, 3, 4), (500, 1500, 2500, 3500), strict=True):
        assert values[f"f{number}_median_hz"] == pytest.approx(expected, rel=0.08), number
        assert values[f"f{number}_mean_hz"] == pytest.approx(expected, rel=0.08), number
    assert values["vtl_fitch_cm"] == pytest.approx(17.5, abs=1.0)
    assert values["vtl_spacing_cm"] == pytest.approx(17.5, abs=1.0)
    assert values["formant_spacing_hz"] == pytest.approx(1000, rel=0.05)
    assert values["formant_dispersion_hz"] == pytest.approx(1000, rel=0.06)
    assert abs(values["formant_position"]) < 0.05


def test_vocal_tract_formulas_on_exact_formants():
    tube = praat_features._vocal_tract(list(praat_features.NEUTRAL_FORMANTS))
    assert tube["vtl_fitch_cm"] == pytest.approx(17.5)
    assert tube["vtl_spacing_cm"] == pytest.approx(17.5)
    assert tube["formant_spacing_hz"] == pytest.approx(1000)
    assert tube["formant_dispersion_hz"] == pytest.approx(1000)
    assert tube["formant_mean_hz"] == pytest.approx(2000)
    assert tube["formant_geomean_hz"] == pytest.approx((500 * 1500 * 2500 * 3500) ** 0.25)
    assert tube["formant_position"] == pytest.approx(0.0)
    shorter = praat_features._vocal_tract([1.25 * f for f in praat_features.NEUTRAL_FORMANTS])
    assert shorter["vtl_fitch_cm"] == pytest.approx(14.0)  # formants scale as 1 / length
    assert shorter["formant_position"] == pytest.approx(0.25)
    assert praat_features._vocal_tract([500.0, np.nan, 2500.0, 3500.0]) == {}


def test_praat_counts_syllables_and_pauses_of_a_syllable_train():
    """Six 0.2 s vowels separated by silences of 0.4-0.7 s: six syllable nuclei, five pauses
    (all longer than the 0.3 s minimum) whose mean is near 0.53 s."""
    rate = 16000
    gaps = [0.4, 0.5, 0.6, 0.7, 0.45]
    vowel = neutral_vowel(pulse_train([128] * 25, 1.0)[: int(0.2 * rate)])
    vowel *= np.hanning(len(vowel)) ** 0.5
    parts = [np.zeros(int(0.3 * rate))]
    for gap in gaps:
        parts += [vowel, np.zeros(int(gap * rate))]
    parts += [vowel, np.zeros(int(0.3 * rate))]
    signal = np.concatenate(parts) + np.random.default_rng(0).normal(0, 1e-4, sum(map(len, parts)))
    values = praat_features.praat_features(signal)
    duration = len(signal) / rate
    assert values["syllable_count"] == 6
    assert values["pause_count"] == 5
    assert values["speech_rate_per_s"] == pytest.approx(6 / duration)
    assert values["pause_mean_s"] == pytest.approx(np.mean(gaps), abs=0.1)
    assert 1.2 <= values["phonation_time_s"] < duration - 0.3 * len(gaps)
    assert values["articulation_rate_per_s"] == pytest.approx(6 / values["phonation_time_s"])
    assert values["pause_ratio"] == pytest.approx(
        (duration - values["phonation_time_s"]) / values["phonation_time_s"]
    )
    assert 0 < values["pause_lognorm_sigma"] < 0.5 and 0 <= values["pause_lognorm_ks_p"] <= 1
    # Nkululeko's definitions (de Jong & Wempe's loop): the last nucleus has no next peak
    theirs = praat_features.nkululeko_praat_features(signal)
    assert theirs["nsyll"] == 5 and theirs["npause"] == 5
    assert theirs["phonationtime_s"] == pytest.approx(duration)
    assert theirs["articulation_rate_nsyll_phonationtime"] == pytest.approx(
        5 / values["phonation_time_s"]
    )


def test_praat_on_real_speech_voiced_clips_have_plausible_values(small_samples):
    """Real and espeak speech: every voice measure defined (no NaN) for voiced clips, values in
    the ranges of adult speech, and the men's vocal tracts longer than the women's."""
    clips = small_samples[["file", "start", "end"]].itertuples(index=False)
    table = pd.DataFrame(
        [praat_features.praat_features(sauti.core.audio.read(*clip)) for clip in clips]
    )
    voiced = table[table["voiced_fraction"] > 0.2]
    assert len(voiced) >= 0.8 * len(table)
    voice_columns = [
        n for n in praat_features.NAMES if n.startswith(("f0_", "jitter_", "f1", "f2", "f3", "f4", "vtl_", "formant_"))
    ] + ["shimmer_local", "shimmer_apq3", "hnr_mean_db", "syllable_count", "speech_rate_per_s"]  # fmt: skip
    assert not voiced[voice_columns].isna().any().any()
    assert voiced["f1_median_hz"].between(200, 1300).all()
    assert voiced["f4_median_hz"].between(2500, 5000).all()
    assert voiced["vtl_fitch_cm"].between(11, 26).all()
    assert voiced["jitter_local"].between(0, 0.1).all()
    # every clip is a spoken word; one of 0.13 s has a single intensity frame and no peak
    assert (voiced["syllable_count"] >= 1).mean() > 0.9
    vtl = voiced["vtl_spacing_cm"].groupby(small_samples["gender"]).mean()
    assert vtl["male"] > vtl["female"], vtl


@pytest.mark.filterwarnings("ignore:The loudest and softest part")  # Praat, about the noise
def test_praat_silence_and_noise_have_no_voice_measures(few):
    """Policy: digital silence has only its duration; white noise has a duration, a (negative)
    HNR and sounding time but no pitch, perturbation, formant or syllable values (NaN here,
    0.0 in the table)."""
    silent = praat_features.praat_features(np.zeros(16000, dtype=np.float32))
    assert silent["duration_s"] == 1.0
    assert all(np.isnan(v) for k, v in silent.items() if k != "duration_s")
    noise = praat_features.praat_features(np.random.default_rng(0).normal(0, 0.1, 16000))
    for name in ("f0_mean_hz", "jitter_local", "shimmer_local", "f1_median_hz", "vtl_fitch_cm"):
        assert np.isnan(noise[name]), name
    assert noise["syllable_count"] == 0 and noise["voiced_fraction"] == 0
    assert noise["hnr_mean_db"] < 0 and noise["phonation_time_s"] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_same_input_gives_identical_features(few, kind):
    first = extract(kind, few, AUDIO_KINDS[kind], progress=False)
    second = extract(kind, few, AUDIO_KINDS[kind], progress=False)
    pd.testing.assert_frame_equal(first, second, check_exact=True)


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_start_end_slice_is_respected(few, kind):
    whole = few.head(3)
    first_half = whole.assign(end=whole["start"] + (whole["end"] - whole["start"]) / 2)
    a = extract(kind, whole, AUDIO_KINDS[kind], progress=False)
    b = extract(kind, first_half, AUDIO_KINDS[kind], progress=False)
    for row in range(3):
        assert not np.allclose(a.iloc[row], b.iloc[row]), f"row {row} ignores start/end"


@pytest.mark.parametrize("kind", THREADED_KINDS)
def test_threaded_extraction_equals_one_thread_in_row_order(small_samples, kind):
    """A features job runs these kinds in its `threads`; the table must not change."""
    one = extract(kind, small_samples, AUDIO_KINDS[kind], progress=False)
    three = extract(kind, small_samples, AUDIO_KINDS[kind], progress=False, workers=3)
    pd.testing.assert_frame_equal(one, three, check_exact=True)


@pytest.mark.parametrize("level", ["functionals", "lld"])
def test_os_reused_engines_equal_a_new_opensmile_per_clip(small_samples, level):
    """sauti resets an initialized openSMILE instance between clips (opensmile_features._Engines)
    instead of process_signal's new instance per clip: one instance, first given a clip too short
    for any output, then every clip in turn, must give process_signal's values."""
    from sauti.ml.features import opensmile_features

    extractor = opensmile_features.make_extractor({"set": "eGeMAPSv02", "level": level})
    reference = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile_features.LEVELS[level],
    )
    rate = sauti.core.audio.SAMPLE_RATE
    first = small_samples.iloc[0]
    tiny = sauti.core.audio.read(first["file"], first["start"], first["start"] + 0.01)
    assert np.isnan(list(extractor(tiny).values())).all()
    for path, start, end in small_samples[["file", "start", "end"]].itertuples(index=False):
        signal = sauti.core.audio.read(path, start, end)
        values = np.array(list(extractor(signal).values()))
        frames = reference.process_signal(signal, rate).to_numpy(np.float64)
        if level == "functionals":
            np.testing.assert_array_equal(values, frames[0], err_msg=path)
        else:  # the same frames; mean/std of a differently laid out array: last-digit rounding
            expected = np.r_[frames.mean(0), frames.std(0)]
            np.testing.assert_allclose(values, expected, rtol=1e-12, err_msg=path)


def test_a_bad_file_stops_threaded_extraction_with_its_name(tmp_path, small_samples):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00garbage, not audio" * 50)
    samples = pd.concat(
        [small_samples, pd.DataFrame({"file": [str(bad)], "start": [0.0], "end": [1.0]})],
        ignore_index=True,
    )
    with pytest.raises(SautiError, match="broken.wav"):
        extract("os", samples, OS_DEFAULT, progress=False, workers=2)


def test_spkrec_ssl_outside_the_workflow_says_why_in_one_line(few):
    """`sauti demo`/`export` bundles hold no SSL encoder: a clear error, not a KeyError."""
    with pytest.raises(SautiError, match="no SSL encoder file") as err:
        extract("spkrec_ssl", few, {}, progress=False)
    assert "demo and export" in err.value.hint


def test_rows_follow_the_samples_order(few):
    forward = extract("mfcc", few, {}, progress=False)
    backward = extract("mfcc", few.iloc[::-1].reset_index(drop=True), {}, progress=False)
    np.testing.assert_array_equal(forward.to_numpy(), backward.to_numpy()[::-1])


# --- imported features --------------------------------------------------------------------


@pytest.fixture
def copied(tmp_path, few) -> pd.DataFrame:
    """Three clips copied under tmp_path/audio, as a samples table with absolute paths."""
    (tmp_path / "audio").mkdir()
    rows = few.head(3).copy()
    rows["file"] = [
        str(Path(shutil.copy(f, tmp_path / "audio" / Path(f).name)).resolve()) for f in rows["file"]
    ]
    return rows.reset_index(drop=True)


def write_import_csv(tmp_path, samples, order, times=False) -> Path:
    """A user CSV: relative paths, rows in `order`, feature = 10 * sample position."""
    table = pd.DataFrame(
        {
            "file": [f"audio/{Path(samples['file'][i]).name}" for i in order],
            "speaker": [samples["speaker"][i] for i in order],  # text: must be ignored
            "feat_a": [10.0 * i for i in order],
            "feat_b": [i for i in order],
        }
    )
    if times:
        table.insert(1, "start", [samples["start"][i] + 1e-7 for i in order])  # float noise
        table.insert(2, "end", [samples["end"][i] for i in order])
    path = tmp_path / "feats.csv"
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("times", [False, True])
def test_import_matches_rows_by_file_regardless_of_csv_order(tmp_path, copied, times):
    path = write_import_csv(tmp_path, copied, order=[2, 0, 1], times=times)
    features = extract("import", copied, {"import_file": str(path)}, progress=False)
    assert_contract(features, copied, "import")
    assert list(features.columns) == ["import_feat_a", "import_feat_b"]
    assert features["import_feat_a"].tolist() == [0.0, 10.0, 20.0]
    assert features["import_feat_b"].tolist() == [0.0, 1.0, 2.0]


def test_import_distinguishes_segments_of_one_file(tmp_path, copied):
    one = copied.head(1)
    halves = pd.concat([one, one], ignore_index=True)
    middle = float(one["end"].iloc[0]) / 2
    halves.loc[0, "end"], halves.loc[1, "start"] = middle, middle
    path = write_import_csv(tmp_path, halves, order=[1, 0], times=True)
    features = extract("import", halves, {"import_file": str(path)}, progress=False)
    assert features["import_feat_a"].tolist() == [0.0, 10.0]


def test_import_file_relative_to_working_directory(tmp_path, copied, monkeypatch):
    write_import_csv(tmp_path, copied, order=[0, 1, 2])
    monkeypatch.chdir(tmp_path)
    features = extract("import", copied, {"import_file": "feats.csv"}, progress=False)
    assert features["import_feat_b"].tolist() == [0.0, 1.0, 2.0]


def test_import_reports_samples_missing_from_csv(tmp_path, copied):
    path = write_import_csv(tmp_path, copied, order=[0, 2])
    with pytest.raises(SautiError) as err:
        extract("import", copied, {"import_file": str(path)}, progress=False)
    message = str(err.value)
    assert f"import_file {path}: 1 of 3 samples have no features" in message
    assert copied["file"][1] in message
    assert err.value.hint


def test_import_without_import_file_names_the_key(copied):
    with pytest.raises(SautiError, match=r"FEATS\.import_file"):
        extract("import", copied, {}, progress=False)


def test_import_unreadable_csv_names_the_key(tmp_path, copied):
    missing = tmp_path / "nope.csv"
    with pytest.raises(SautiError, match=r"FEATS\.import_file .*nope\.csv"):
        extract("import", copied, {"import_file": str(missing)}, progress=False)


# --- errors -------------------------------------------------------------------------------


def test_unknown_kind_lists_valid_kinds(few):
    with pytest.raises(SautiError) as err:
        extract("wav2vec", few, {}, progress=False)
    assert "wav2vec" in str(err.value)
    assert all(kind in str(err.value) for kind in KINDS)


def test_unknown_opensmile_set_is_a_clear_error(few):
    with pytest.raises(SautiError, match=r"FEATS\.set.*IS42"):
        extract("os", few, {"set": "IS42", "level": "functionals"}, progress=False)


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_garbage_audio_file_error_names_the_file(tmp_path, few, kind):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00garbage, not audio" * 50)
    samples = pd.concat(
        [few.head(1), pd.DataFrame({"file": [str(bad)], "start": [0.0], "end": [1.0]})],
        ignore_index=True,
    )
    with pytest.raises(SautiError, match="broken.wav") as err:
        extract(kind, samples, AUDIO_KINDS[kind], progress=False)
    assert str(bad) in str(err.value)


def test_os_segment_too_short_raises_naming_the_file(few):
    tiny = few.head(1).assign(end=few["start"].iloc[0] + 0.01)
    with pytest.raises(SautiError, match="undefined") as err:
        extract("os", tiny, OS_DEFAULT, progress=False)
    assert few["file"].iloc[0] in str(err.value)


def test_progress_bar_goes_to_stderr(few, capsys):
    extract("mfcc", few.head(2), {}, progress=True)
    captured = capsys.readouterr()
    assert "features mfcc" in captured.err and captured.out == ""
