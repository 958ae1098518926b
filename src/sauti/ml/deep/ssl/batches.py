"""What both kinds of Stage II round train on: AAM-softmax heads over the pseudo speakers, the
shuffled batches of a round and the noisy views of a batch (sauti.ml.deep.ssl.rounds for one
encoder, sauti.ml.deep.ssl.co_meta for two)."""

from __future__ import annotations

import numpy as np

from sauti.ml.deep import require_torch
from sauti.ml.deep.ssl.losses import AAMSoftmax
from sauti.ml.deep.ssl.segments import add_noise, random_segment, segment_samples
from sauti.ml.deep.ssl.settings import SSLSettings


def make_heads(views: list[np.ndarray], labels: np.ndarray, settings: SSLSettings):
    """One AAM head per view, its class weights set to that view's cluster centroids.

    Why not random weights: a random head's gradients first reshape the embedding space to fit
    arbitrary class directions, which can undo what Stage I learned before the head catches up;
    started at the centroids, the head already agrees with the pseudo labels, so training
    tightens the clusters the encoder found (the same space k-means worked in).
    """
    torch = require_torch("SSL rounds")
    classes = int(labels.max()) + 1
    heads = []
    for emb in views:
        head = AAMSoftmax(emb.shape[1], classes, settings.margin, settings.scale)
        with torch.no_grad():
            for c in range(classes):  # an empty cluster keeps its random row
                if (labels == c).any():
                    head.weight[c] = torch.as_tensor(emb[labels == c].mean(axis=0))
        heads.append(head)
    return heads


def round_batches(n: int, settings: SSLSettings, rng: np.random.Generator):
    """Shuffled index batches of at least 2 (batch norm needs 2; a lone leftover is dropped)."""
    order = rng.permutation(n)
    size = max(2, int(settings.batch_size))
    return [order[i : i + size] for i in range(0, n, size) if len(order[i : i + size]) >= 2]


def views_of(signals, idx, settings: SSLSettings, rng, n_views: int):
    """One random segment per utterance (SSL.round_segment_duration, default
    segment_duration); each view gets its own noise draw of it."""
    length = segment_samples(settings.round_segment_duration or settings.segment_duration)
    clean = np.stack([random_segment(signals[i], length, rng) for i in idx])
    return [add_noise(clean, settings.noise_snr_db, rng) for _ in range(n_views)]
