"""The (file, start, end) clips of a samples table, and how an error message names one.

Shared by every feature extractor (sauti.ml.features and its embedding modules).
"""

from __future__ import annotations

import pandas as pd


def segments(samples: pd.DataFrame):
    """Yield (file, start, end) with missing/NaN times as None (= file start/end)."""
    starts = samples["start"] if "start" in samples.columns else [None] * len(samples)
    ends = samples["end"] if "end" in samples.columns else [None] * len(samples)
    for path, start, end in zip(samples["file"], starts, ends, strict=True):
        yield str(path), _time_or_none(start), _time_or_none(end)


def _time_or_none(value) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def describe(path: str, start: float | None, end: float | None) -> str:
    if start is None and end is None:
        return path
    return f"{path} [{start or 0.0:.3f}-{'end' if end is None else f'{end:.3f}'} s]"
