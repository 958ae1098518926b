"""SEGMENT: long real recordings are cut back into their utterances; lengths are enforced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from speech_support import join_with_pauses

from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.stages.segment import fit_lengths, segment_stage, segment_table

PARAMS = {
    "method": "silero",
    "databases": ["demo"],
    "sample_selection": "all",
    "min_length": 0.2,
    "max_length": None,
    "segment_target": "_seg",
}


def test_fit_lengths_merges_drops_and_splits():
    speech = [(0.0, 0.3), (0.5, 0.8), (3.0, 3.1), (5.0, 9.5)]
    # 0.3 s stretches 0.2 s apart merge; the lone 0.1 s one is dropped; 4.5 s is cut in 3
    assert fit_lengths(speech, 0.5, 2.0) == [(0.0, 0.8), (5.0, 6.5), (6.5, 8.0), (8.0, 9.5)]
    assert fit_lengths(speech, 0.05, None) == speech  # nothing short: nothing merged
    assert fit_lengths([(0.0, 0.3), (2.0, 2.3)], 0.5, None) == []  # pause too long to merge


@pytest.fixture(scope="module")
def long_recordings(demo_table, tmp_path_factory):
    """Two speakers' recordings, each 6 real utterances joined with 0.6-1.2 s pauses, as a
    split table of two whole-file rows (one train, one test) plus the true utterance times."""
    rng = np.random.default_rng(1)
    folder = tmp_path_factory.mktemp("long")
    rows, truths = [], []
    for i, speaker in enumerate(["allison", "june"]):
        clips = demo_table[demo_table["speaker"] == speaker].head(6)
        signal, truth = join_with_pauses(clips["file"], rng)
        path = folder / f"{speaker}.wav"
        sf.write(path, signal, audio.SAMPLE_RATE)
        duration = len(signal) / audio.SAMPLE_RATE
        rows.append(
            {
                "file": str(path),
                "start": 0.0,
                "end": duration,
                "duration": duration,
                "db": "demo",
                "speaker": speaker,
                "gender": "female",
                "split": ["train", "test"][i],
            }  # fmt: skip
        )
        truths.append(truth)
    return pd.DataFrame(rows), truths


def test_segments_recover_utterances_and_inherit_labels(long_recordings):
    data, truths = long_recordings
    table = segment_table(data, PARAMS)
    for (_, row), truth in zip(data.iterrows(), truths, strict=True):
        found = table[table["file"] == row["file"]]
        assert len(found) == len(truth)
        errors = np.abs(found[["start", "end"]].to_numpy() - np.array(truth)).ravel()
        assert np.mean(errors < 0.2) >= 0.8, errors
        # labels, speaker and split come from the recording; provenance names it
        assert set(found["speaker"]) == {row["speaker"]} and set(found["split"]) == {row["split"]}
        assert (found["source_end"] == row["end"]).all()
    assert np.allclose(table["duration"], table["end"] - table["start"])


def test_lengths_and_sample_selection(long_recordings):
    data, truths = long_recordings
    short = segment_table(data, {**PARAMS, "max_length": 0.3})
    assert (short["end"] - short["start"]).max() <= 0.3 + 1e-6
    assert len(short) > sum(len(t) for t in truths)
    merged = segment_table(data, {**PARAMS, "min_length": 1.5})
    assert (merged["end"] - merged["start"]).min() >= 1.5
    assert len(merged) < sum(len(t) for t in truths)
    only_test = segment_table(data, {**PARAMS, "sample_selection": "test"})
    train = only_test[only_test["split"] == "train"]
    assert len(train) == 1 and train.iloc[0]["end"] == data.iloc[0]["end"]  # left whole
    assert (only_test["split"] == "test").sum() == len(truths[1])
    with pytest.raises(SautiError, match="lower SEGMENT.min_length|no train segments"):
        segment_table(data, {**PARAMS, "min_length": 60})


def test_stage_writes_table_histogram_and_manifest(long_recordings, tmp_path):
    data, truths = long_recordings
    split = tmp_path / "split.parquet"
    data.to_parquet(split)
    segment_stage(str(split), PARAMS, tmp_path / "seg")
    manifest = __import__("json").loads((tmp_path / "seg" / "segment.json").read_text())
    assert manifest["before"]["samples"] == 2
    assert manifest["after"]["samples"] == sum(len(t) for t in truths)
    assert manifest["after"]["mean_s"] < manifest["before"]["mean_s"]
    assert (tmp_path / "seg" / "durations.png").stat().st_size > 5000


def test_pyannote_missing_is_one_clear_line(long_recordings):
    pytest.importorskip("torch")
    data, _ = long_recordings
    try:
        import pyannote.audio  # noqa: F401

        pytest.skip("pyannote.audio is installed here")
    except ImportError:
        pass
    with pytest.raises(SautiError, match="pyannote.audio package is not installed") as err:
        segment_table(data, {**PARAMS, "method": "pyannote"})
    assert "\n" not in str(err.value)
