"""Random training segments and additive noise for the SSL stages (numpy, seeded).

Why segments: Stage I takes two random *non-overlapping* segments of one utterance as a
positive pair, so the encoder cannot solve the task by matching identical samples; what the
two segments share is the speaker (and the recording channel). Utterances shorter than two
segments fall back to two random crops that may overlap, and clips shorter than one segment
are tiled, so short corpora (the demo's single digits) still train.
"""

from __future__ import annotations

import numpy as np

from sauti.ml.deep.ssl.encoder import tile

SAMPLE_RATE = 16000


def segment_samples(seconds: float) -> int:
    return max(160, int(round(float(seconds) * SAMPLE_RATE)))


def random_segment(signal: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """One random crop of exactly `length` samples (tiled first when the clip is shorter)."""
    wav = tile(np.asarray(signal, dtype=np.float32), length)
    start = int(rng.integers(0, wav.size - length + 1))
    return wav[start : start + length]


def segment_pair(signal: np.ndarray, length: int, rng: np.random.Generator):
    """Two random crops of `length` samples that do not overlap when the clip allows it."""
    wav = np.asarray(signal, dtype=np.float32)
    if wav.size < 2 * length:
        return random_segment(wav, length, rng), random_segment(wav, length, rng)
    first = int(rng.integers(0, wav.size - 2 * length + 1))
    second = int(rng.integers(first + length, wav.size - length + 1))
    a, b = wav[first : first + length], wav[second : second + length]
    return (a, b) if rng.random() < 0.5 else (b, a)


def add_noise(batch: np.ndarray, snr_db, rng: np.random.Generator) -> np.ndarray:
    """White noise at a random SNR per row, drawn uniformly from `snr_db` = [low, high] dB;
    `snr_db` None returns the batch unchanged."""
    if snr_db is None:
        return batch
    low, high = float(snr_db[0]), float(snr_db[1])
    snr = rng.uniform(low, high, size=(batch.shape[0], 1))
    power = np.mean(batch**2, axis=1, keepdims=True) + 1e-10
    noise = rng.standard_normal(batch.shape).astype(np.float32)
    return (batch + noise * np.sqrt(power / 10 ** (snr / 10))).astype(np.float32)
