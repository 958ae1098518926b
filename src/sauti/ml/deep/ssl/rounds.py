"""Stage II: pseudo speaker labels by k-means, then AAM-softmax training on them (one round).

A round: embed every training utterance with the current encoder(s), cluster the embeddings
into `clusters` pseudo speakers, and train the encoder to classify its utterances into them
(one random noisy segment per utterance and epoch). The next round re-clusters with the
improved encoder, so the labels and the representation sharpen each other.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from sauti.core.errors import SautiError
from sauti.core.progress import bar as progress_bar
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import resolve_device, seed_everything
from sauti.ml.deep.loop import FitSettings, make_optimizer
from sauti.ml.deep.ssl.batches import make_heads, round_batches, views_of
from sauti.ml.deep.ssl.co_meta import train_co_meta
from sauti.ml.deep.ssl.encoder import embed
from sauti.ml.deep.ssl.settings import SSLSettings

log = logging.getLogger("sauti.ssl")


def cluster(embeddings: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """k-means pseudo labels 0..k-1 for L2-normalised embeddings (k at most the sample count)."""
    from sklearn.cluster import KMeans

    k = int(min(clusters, len(embeddings)))
    if k < 2:
        raise SautiError(
            f"SSL.clusters = {clusters} leaves fewer than 2 pseudo speakers "
            f"for {len(embeddings)} utterances",
            hint="use at least 2 clusters and 2 training utterances",
        )
    return KMeans(n_clusters=k, n_init=4, random_state=int(seed)).fit_predict(embeddings)


def cluster_quality(pseudo: np.ndarray, truth) -> dict:
    """Purity (share of utterances in their cluster's majority speaker) and NMI against the
    true speakers; empty when the speakers are unknown."""
    if truth is None:
        return {}
    truth = pd.Series(list(truth), dtype="object")
    known = truth.notna().to_numpy()
    if not known.any():
        return {}
    from sklearn.metrics import normalized_mutual_info_score

    table = pd.crosstab(np.asarray(pseudo)[known], truth[known].astype(str).to_numpy())
    return {
        "purity": float(table.max(axis=1).sum() / known.sum()),
        "nmi": float(
            normalized_mutual_info_score(truth[known].astype(str), np.asarray(pseudo)[known])
        ),
    }


def embed_views(encoders, signals, settings: SSLSettings) -> list[np.ndarray]:
    """Whole-utterance embeddings of the signals, one array per encoder (view). A round makes
    them once: k-means clusters them and the AAM heads start at their cluster centroids."""
    device = resolve_device(settings.device, "SSL.device")
    return [
        embed(e, signals, device, settings.progress, f"embed ({e.spec.view})") for e in encoders
    ]


def pseudo_labels(views: list[np.ndarray], settings: SSLSettings) -> np.ndarray:
    """k-means pseudo speakers of the utterances (both views concatenated with co_meta)."""
    return cluster(np.concatenate(views, axis=1), settings.clusters, settings.seed)


def train_round(encoders, signals, views, labels: np.ndarray, settings: SSLSettings, round_no: int):
    """Train the encoder(s) on pseudo labels for `round_epochs`; return (encoders, history).
    `views`: the encoders' embeddings of `signals` the labels came from (embed_views).
    Two encoders with SSL.co_meta train in sauti.ml.deep.ssl.co_meta.train_co_meta."""
    if settings.co_meta and len(encoders) == 2:
        return train_co_meta(encoders, signals, views, labels, settings, round_no)
    torch = require_torch("SSL rounds")
    seed_everything(int(settings.seed) + round_no)
    device = resolve_device(settings.device, "SSL.device")
    encoder = encoders[0].to(device).train()
    (head,) = make_heads(views[:1], labels, settings)
    head = head.to(device)
    model = torch.nn.ModuleList([encoder, head])
    optimizer = make_optimizer(model, FitSettings(learning_rate=settings.learning_rate))
    rng = np.random.default_rng(int(settings.seed) + 7919 * round_no)
    targets = torch.as_tensor(labels, dtype=torch.long)
    rows = []
    bar = progress_bar(
        range(1, int(settings.round_epochs) + 1),
        desc=f"SSL round {round_no}",
        unit="epoch",
        disable=not settings.progress,
    )
    for epoch in bar:
        total, correct, seen = 0.0, 0, 0
        for idx in round_batches(len(signals), settings, rng):
            (x,) = views_of(signals, idx, settings, rng, 1)
            y = targets[idx].to(device)
            emb = encoder(torch.as_tensor(x).to(device))
            loss = head(emb, y).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.item()) * len(idx)
            correct += int((head.logits(emb).argmax(1) == y).sum())
            seen += len(idx)
        rows.append(
            {"epoch": epoch, "loss": total / max(seen, 1), "accuracy": correct / max(seen, 1)}
        )
        bar.set_postfix(loss=f"{rows[-1]['loss']:.3f}", acc=f"{rows[-1]['accuracy']:.2f}")
    log.info(
        "round %d: loss %.4f, pseudo-label accuracy %.3f",
        round_no,
        rows[-1]["loss"],
        rows[-1]["accuracy"],
    )
    return [encoder.cpu().eval()], pd.DataFrame(rows)
