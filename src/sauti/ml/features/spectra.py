"""Log-mel spectrograms (kind "spectra") as fixed-size images for the cnn model.

Why a feature kind and not part of the model: the spectrogram is the expensive, model-independent
step, so it is a featurize stage with its own cache key (FEATS.fft_win_dur, fft_hop_dur,
fft_nbands, max_duration); changing anything in MODEL never recomputes it.

Layout. Every clip is padded with silence at the end, or cropped to its first
`max_duration` seconds, so every sample gives the same image of `fft_nbands` mel bands x
`n_frames(max_duration, hop)` frames. The image is flattened band-major into the ordinary
feature-table contract: columns `spectra_m{band:02d}_t{frame:03d}` (m00_t000, m00_t001, ...,
m01_t000, ...), one row per sample, so `values.reshape(n, bands, frames)` gives the image back
and `image_shape(columns)` reads the shape from the names alone. The values are the natural
log of mel POWER (`ln(power + 1e-10)`), so exp() gives power back; the cnn's noise mixing relies
on that. Stored as float64 like every other kind: one contract for all tables (the scalers, the
merge and the inference check rely on it), and at the default 2 s x 64 bands a sample is 100 kB,
which is small next to the audio it comes from.
"""

from __future__ import annotations

import re

import numpy as np

from sauti.config.sections.spectra import fft_size, ms_to_samples, settings
from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError

#: Floor added to the mel power before the log: -23 for digital silence, far below any speech.
LOG_FLOOR = 1e-10
_NAME = re.compile(r"^(?:spectra_)?m(\d+)_t(\d+)$")


def n_frames(max_duration: float, hop_ms: float) -> int:
    """Frames of a clip of exactly max_duration seconds (centred frames: 1 + samples // hop)."""
    return 1 + int(round(max_duration * SAMPLE_RATE)) // ms_to_samples(hop_ms)


def feature_names(nbands: int, frames: int) -> list[str]:
    """Unprefixed column names in band-major order: m00_t000, m00_t001, ..."""
    return [f"m{b:02d}_t{t:03d}" for b in range(nbands) for t in range(frames)]


def image_shape(columns) -> tuple[int, int]:
    """(bands, frames) of a flattened spectra table, read from its column names.

    Raises SautiError when the columns are not a complete band-major spectra image (e.g. when
    FEATS.type mixes spectra with another kind for the cnn).
    """
    parsed = [_NAME.match(str(c)) for c in columns]
    if not parsed or not all(parsed):
        bad = next((str(c) for c, m in zip(columns, parsed, strict=True) if not m), "none")
        raise SautiError(
            f"MODEL.type = cnn needs spectra features only, got column {bad!r}",
            hint="set FEATS.type = ['spectra']",
        )
    bands = 1 + max(int(m.group(1)) for m in parsed)
    frames = 1 + max(int(m.group(2)) for m in parsed)
    expected = [f"m{b:02d}_t{t:03d}" for b in range(bands) for t in range(frames)]
    if [_NAME.match(str(c)).group(0).removeprefix("spectra_") for c in columns] != expected:
        raise SautiError("spectra columns are not a complete band-major image (re-extract them)")
    return bands, frames


def log_mel(signal: np.ndarray, options: dict) -> np.ndarray:
    """[bands, frames] natural-log mel power of a 16 kHz signal, padded/cropped first."""
    import librosa

    length = int(round(options["max_duration"] * SAMPLE_RATE))
    fixed = np.zeros(length, dtype=np.float32)
    fixed[: min(length, len(signal))] = signal[:length]
    win = ms_to_samples(options["fft_win_dur"])
    mel = librosa.feature.melspectrogram(
        y=fixed,
        sr=SAMPLE_RATE,
        n_fft=fft_size(win),
        win_length=win,
        hop_length=ms_to_samples(options["fft_hop_dur"]),
        n_mels=int(options["fft_nbands"]),
        power=2.0,
    )
    return np.log(mel.astype(np.float64) + LOG_FLOOR)


def make_extractor(params: dict):
    """Return a signal -> {name: value} function for the configured spectrogram."""
    options = settings(params)
    names = feature_names(
        options["fft_nbands"], n_frames(options["max_duration"], options["fft_hop_dur"])
    )

    def extractor(signal: np.ndarray) -> dict[str, float]:
        image = log_mel(signal, options)
        return dict(zip(names, image.reshape(-1).tolist(), strict=True))

    return extractor
