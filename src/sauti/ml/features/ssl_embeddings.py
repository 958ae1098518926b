"""FEATS.type spkrec_ssl: speaker embeddings from the experiment's own self-supervised encoder.

The encoder is the last SSL stage's `encoders.pt` (Stage I, or the last round; sauti.stages.ssl),
which the features job receives as an input file, so the features are re-extracted whenever the
encoder is retrained. Each segment is embedded whole with the first (log-mel) encoder, exactly
as the SSL evaluation scores utterances: L2-normalised, `SSL.embedding_dim` columns.
"""

from __future__ import annotations

import pandas as pd

from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.ml.deep.ssl.encoder import embed, load_encoders
from sauti.ml.features.clips import segments


def extract(samples: pd.DataFrame, params: dict, progress: bool = True) -> pd.DataFrame:
    """Unprefixed embedding columns (0 .. dim-1) for every row of `samples`, in order."""
    path = params.get("encoders")
    if not path:  # the workflow passes it; `sauti demo`/`export` bundles do not carry it
        raise SautiError(
            "FEATS.type spkrec_ssl: no SSL encoder file to embed with",
            hint="spkrec_ssl features are made by the workflow (SSL.enabled: true); "
            "sauti demo and export cannot compute them for new audio yet",
        )

    encoder = load_encoders(path)[0]
    signals = [audio.read(path, start, end) for path, start, end in segments(samples)]
    values = embed(encoder, signals, progress=progress, desc="features spkrec_ssl")
    return pd.DataFrame(values, columns=[str(i) for i in range(values.shape[1])])
