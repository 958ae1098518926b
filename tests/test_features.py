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
import pytest

from sauti.errors import SautiError
from sauti.features import KINDS, extract
from sauti.plan import THREADED_KINDS

OS_DEFAULT = {"set": "eGeMAPSv02", "level": "functionals"}
AUDIO_KINDS = {"os": OS_DEFAULT, "praat": {}, "mfcc": {"n_mfcc": 13}}


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
    from sauti.config import schema

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
    features = extract("praat", small_samples, {}, progress=False)
    assert_contract(features, small_samples, "praat")
    f0 = features["praat_f0_mean_hz"].groupby(small_samples["gender"]).mean()
    assert f0["female"] > 1.2 * f0["male"], f0
    assert features["praat_duration_s"].to_numpy() == pytest.approx(
        (small_samples["end"] - small_samples["start"]).to_numpy(), abs=1e-3
    )
    assert features["praat_voiced_fraction"].between(0, 1).all()
    assert (features["praat_speech_rate_per_s"] > 0).mean() > 0.8


def test_praat_gives_zero_not_crash_for_very_short_audio(few):
    tiny = few.head(1).assign(end=few["start"].iloc[0] + 0.03)  # 30 ms: shorter than any window
    features = extract("praat", tiny, {}, progress=False)
    assert_contract(features, tiny, "praat")
    assert features["praat_duration_s"].iloc[0] == pytest.approx(0.03, abs=1e-3)
    assert features["praat_f0_mean_hz"].iloc[0] == 0.0
    assert features["praat_jitter_local"].iloc[0] == 0.0


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
