"""Feature extraction: one entry point, `extract`, for every kind of feature sauti knows.

Why one dispatcher: the pipeline caches a feature table per (kind, params, samples) and feeds it
to any model, so every kind must honour the same contract -- one row per sample in the samples'
order, float64 columns only, names prefixed with the kind so tables of several kinds can be
concatenated without clashes, and no NaN/inf that would crash a scaler or classifier later.
The per-kind modules only turn one audio signal into named numbers; the contract lives here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.progress import bar as progress_bar
from sauti.core.stage_log import carry_job_output
from sauti.ml.features import embeddings, imported, spectra, ssl_embeddings
from sauti.ml.features.clips import describe, segments

KINDS = ("os", "praat", "mfcc", "import", "spectra", "spkrec_ssl")
#: Kinds computed by pretrained networks in batches (sauti.ml.features.embeddings).
EMBEDDING_KINDS = ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap", "spkrec")
KINDS = (*KINDS, *EMBEDDING_KINDS)
#: Feature kinds whose extractor releases the GIL (openSMILE's C library, librosa's numpy):
#: one features job runs them in `threads` threads, with results equal to one thread (tested).
#: praat is not among them: parselmouth gives different values when called from two threads.
THREADED_KINDS = ("os", "mfcc")

# A per-sample extractor: 16 kHz mono float32 signal -> {feature name (unprefixed): value}.
Extractor = Callable[[np.ndarray], dict[str, float]]


def extract(
    kind: str, samples: pd.DataFrame, params: dict, progress: bool = True, workers: int = 1
) -> pd.DataFrame:
    """Return the `kind` features of every row of `samples` (columns file, start, end).

    The result has len(samples) rows in the same order (RangeIndex), float64 columns named
    "<kind>_<feature>", and no NaN/inf: undefined values (e.g. jitter of an unvoiced clip) become
    0.0, but a sample for which nothing at all could be computed raises SautiError.
    `workers` > 1 extracts THREADED_KINDS in that many threads (other kinds ignore it).
    """
    if kind not in KINDS:
        raise SautiError(
            f"unknown feature kind {kind!r}; valid kinds: {', '.join(KINDS)}",
            hint="use one of the valid kinds as the feature type in the FEATS section",
        )
    _check_samples(samples)
    if kind == "import":
        raw = imported.extract(samples, params)
    elif kind == "spkrec_ssl":
        raw = ssl_embeddings.extract(samples, params, progress)
    elif kind in EMBEDDING_KINDS:
        raw = embeddings.extract(kind, samples, params, progress)
    else:
        threads = max(1, int(workers)) if kind in THREADED_KINDS else 1
        raw = _extract_audio(kind, _make_extractor(kind, params), samples, progress, threads)
    return _finish(kind, raw, samples)


def _check_samples(samples: pd.DataFrame) -> None:
    if "file" not in samples.columns:
        raise SautiError(
            "samples table has no 'file' column",
            hint=f"columns found: {', '.join(map(str, samples.columns))}",
        )


def _make_extractor(kind: str, params: dict) -> Extractor:
    """Build the per-sample extractor once, so costly setup (openSMILE config) is not repeated."""
    if kind == "os":
        from sauti.ml.features import opensmile_features  # heavy: opensmile

        return opensmile_features.make_extractor(params)
    if kind == "praat":
        from sauti.ml.features import praat_features  # heavy: parselmouth

        return praat_features.make_extractor(params)
    if kind == "spectra":
        return spectra.make_extractor(params)
    from sauti.ml.features import mfcc_features  # heavy: librosa

    return mfcc_features.make_extractor(params)


def _extract_audio(
    kind: str, extractor: Extractor, samples: pd.DataFrame, progress: bool, threads: int = 1
) -> pd.DataFrame:
    """Run `extractor` on each sample's audio slice; rows keep the samples' order (also with
    `threads` > 1: Executor.map yields in input order)."""

    @carry_job_output  # a job in Snakemake's process: the pool's warnings go to its log
    def one(segment):
        return _extract_one(kind, extractor, *segment)

    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        results = pool.map(one, segments(samples)) if pool else map(one, segments(samples))
        rows = list(
            progress_bar(
                results,
                total=len(samples),
                desc=f"features {kind}",
                unit="clip",
                mininterval=2,
                disable=not progress,
            )
        )
    finally:  # a failing sample stops the job at once, not after the queued ones
        if pool:
            pool.shutdown(cancel_futures=True)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame.from_records(rows, columns=list(rows[0]))


def _extract_one(
    kind: str, extractor: Extractor, path: str, start: float | None, end: float | None
) -> dict[str, float]:
    """Features of one segment; any failure becomes a SautiError naming file and times."""
    where = describe(path, start, end)
    signal = audio.read(path, start, end)  # raises SautiError naming the file if unreadable
    if signal.size == 0:
        raise SautiError(
            f"{where}: segment is empty, no {kind} features",
            hint="check that start < end and that start lies inside the file",
        )
    try:
        with warnings.catch_warnings():
            # openSMILE/librosa warn about short input; the all-undefined check below decides.
            warnings.simplefilter("ignore")
            values = extractor(signal)
    except SautiError:
        raise
    except Exception as exc:
        raise SautiError(f"{where}: {kind} feature extraction failed ({exc})") from exc
    if not any(math.isfinite(v) for v in values.values()):
        raise SautiError(
            f"{where}: every {kind} feature is undefined ({len(signal) / audio.SAMPLE_RATE:.3f} s "
            "of audio)",
            hint="the segment is probably too short; drop it or lengthen it",
        )
    return values


def _finish(kind: str, raw: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Apply the shared contract: prefix, float64, RangeIndex, NaN/inf -> 0.0."""
    if len(raw) != len(samples):  # a bug in a kind module, not a user error
        raise RuntimeError(f"{kind}: {len(raw)} feature rows for {len(samples)} samples")
    values = raw.to_numpy(dtype=np.float64, copy=True)
    values[~np.isfinite(values)] = 0.0
    columns = [f"{kind}_{name}" for name in raw.columns]
    return pd.DataFrame(values, columns=columns, index=pd.RangeIndex(len(samples)))
