"""Silero VAD through onnxruntime: a long recording made of real utterances is cut back into them."""

from __future__ import annotations

import numpy as np
import pytest
from speech_support import join_with_pauses

from sauti.core import audio
from sauti.ml import vad


@pytest.fixture(scope="module")
def concatenated(demo_table):
    """12 real utterances (recording silence trimmed at -30 dB) joined with 0.6-1.2 s pauses."""
    real = demo_table[(demo_table["source"] == "real") & (demo_table["end"] > 0.5)]
    rows = real.sample(12, random_state=3)
    return join_with_pauses(rows["file"], np.random.default_rng(0))


def test_segments_recover_the_utterances(concatenated):
    signal, truth = concatenated
    found = vad.speech_segments(signal)
    assert len(found) == len(truth)
    errors = np.abs(np.array(found) - np.array(truth)).ravel()
    assert np.mean(errors < 0.2) >= 0.8, errors  # most boundaries within 0.2 s


def test_silence_has_no_speech_and_speech_ratio(concatenated):
    signal, truth = concatenated
    assert vad.speech_segments(np.zeros(audio.SAMPLE_RATE * 2, np.float32)) == []
    speech_share = sum(end - start for start, end in truth) / (len(signal) / audio.SAMPLE_RATE)
    assert vad.speech_ratio(signal) == pytest.approx(speech_share, abs=0.15)
