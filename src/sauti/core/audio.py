"""Reading audio the same way everywhere: 16 kHz mono float32, optionally a [start, end) slice.

Why one reader: features, VAD and models must all see identical samples, so resampling and
channel mixing happen here only. soundfile does the I/O (torchaudio's loader needs torchcodec);
soxr (via librosa) does the resampling.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

from sauti.core.errors import SautiError

SAMPLE_RATE = 16000


def info(path: str | Path) -> tuple[float, int]:
    """Return (duration in seconds, native sample rate); SautiError if unreadable."""
    try:
        meta = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for corrupt/unknown files
        raise SautiError(f"{path}: cannot read audio ({_short(exc)})") from exc
    if meta.samplerate <= 0:
        raise SautiError(f"{path}: audio header has no sample rate")
    return meta.frames / meta.samplerate, meta.samplerate


def read(
    path: str | Path,
    start: float | None = None,
    end: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Read `path` from `start` to `end` seconds as mono float32 at `sample_rate` Hz."""
    try:
        with sf.SoundFile(str(path)) as f:
            native = f.samplerate
            first = int(round((start or 0.0) * native))
            last = (
                f.frames if end is None or _isnan(end) else min(f.frames, int(round(end * native)))
            )
            f.seek(min(first, f.frames))
            signal = f.read(max(0, last - first), dtype="float32", always_2d=True)
    except SautiError:
        raise
    except Exception as exc:
        raise SautiError(f"{path}: cannot read audio ({_short(exc)})") from exc
    signal = signal.mean(axis=1) if signal.shape[1] > 1 else signal[:, 0]
    if native != sample_rate and signal.size:
        import librosa

        signal = librosa.resample(signal, orig_sr=native, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(signal, dtype=np.float32)


def _isnan(value) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
