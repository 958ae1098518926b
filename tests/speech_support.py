"""Long recordings with known utterance times, made from real demo-corpus clips (VAD tests).

Why shared: the VAD test and the SEGMENT test both need "real utterances joined by silences,
and where each utterance lies"; one definition keeps their ground truth built the same way.
"""

from __future__ import annotations

import numpy as np

from sauti.core import audio


def join_with_pauses(files, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """Each file's speech (recording silence trimmed at -30 dB) after a 0.6-1.2 s pause, plus
    1 s of silence at the end. Returns (signal, [(start, end) of each utterance in seconds])."""
    import librosa

    parts, truth, position = [], [], 0.0
    for file in files:
        pause = np.zeros(int(audio.SAMPLE_RATE * rng.uniform(0.6, 1.2)), np.float32)
        speech, _ = librosa.effects.trim(audio.read(file), top_db=30)
        parts += [pause, speech]
        position += len(pause) / audio.SAMPLE_RATE
        truth.append((position, position + len(speech) / audio.SAMPLE_RATE))
        position += len(speech) / audio.SAMPLE_RATE
    parts.append(np.zeros(audio.SAMPLE_RATE, np.float32))
    return np.concatenate(parts), truth
