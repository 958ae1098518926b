"""Pretrained speaker embeddings that work offline: resemblyzer's d-vector (weights ship in the
PyPI package).

Why a shared module: the spkrec feature kind, PREDICT speaker (clustering) and the SSL speaker
evaluation (a pretrained reference EER) all need the same embedding of the same audio; loading
the encoder once per process and embedding signals here keeps them identical.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sauti.core.errors import SautiError
from sauti.ml.deep import INSTALL_HINT, require_torch

RESEMBLYZER_DIM = 256
_MIN_SAMPLES = 1600  # 0.1 s at 16 kHz: resemblyzer's shortest usable partial


@lru_cache(maxsize=2)
def resemblyzer_encoder(device: str):
    require_torch("resemblyzer speaker embeddings")
    try:
        from resemblyzer import VoiceEncoder
    except ImportError as exc:
        raise SautiError(
            "speaker embeddings (spkrec) need resemblyzer, which is not installed",
            hint=INSTALL_HINT,
        ) from exc
    return VoiceEncoder(device, verbose=False)


def embed_resemblyzer(signals, device: str = "cpu") -> np.ndarray:
    """L2-normalised 256-d embeddings of 16 kHz mono float signals, shape [n, 256].

    Short signals are zero-padded to 0.1 s so that a clip never has no embedding.
    """
    encoder = resemblyzer_encoder(str(device))
    out = np.zeros((len(signals), RESEMBLYZER_DIM), dtype=np.float32)
    for i, signal in enumerate(signals):
        wav = np.asarray(signal, dtype=np.float32)
        if wav.size < _MIN_SAMPLES:
            wav = np.pad(wav, (0, _MIN_SAMPLES - wav.size))
        out[i] = encoder.embed_utterance(wav)
    return out
