"""Stage I: contrastive pre-training of the speaker encoder on unlabelled utterances.

A small loop of its own rather than `sauti.ml.deep.loop.fit`: the batches are pairs of segments
without targets and there is no dev measure to pick an epoch by, so the last epoch is kept.
It reuses the shared device, seeding and optimiser code.
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
from sauti.ml.deep.ssl.encoder import build_encoder
from sauti.ml.deep.ssl.losses import contrastive_loss
from sauti.ml.deep.ssl.segments import add_noise, segment_pair, segment_samples
from sauti.ml.deep.ssl.settings import SSLSettings

log = logging.getLogger("sauti.ssl")


def untrained_encoder(settings: SSLSettings, view: str = "fbank", offset: int = 0):
    """The encoder exactly as Stage I starts it (seeded), also the evaluation's baseline."""
    seed_everything(int(settings.seed) + offset)
    return build_encoder(settings.spec(view))


def pretrain(signals: list, settings: SSLSettings, key: str = "SSL.device"):
    """Train one encoder per view (`settings.views()`); return (encoders, history table)."""
    if len(signals) < 2:
        raise SautiError(
            f"SSL pre-training needs at least 2 training utterances, got {len(signals)}",
            hint="add databases or lower SSL.test_speakers",
        )
    encoders, histories = [], []
    for offset, view in enumerate(settings.views()):
        encoder = untrained_encoder(settings, view, offset)
        encoder, history = _train_contrastive(encoder, signals, settings, offset, key)
        encoders.append(encoder)
        histories.append(history.assign(view=view))
    return encoders, pd.concat(histories, ignore_index=True)


def _train_contrastive(encoder, signals, settings: SSLSettings, offset: int, key: str):
    torch = require_torch("SSL pre-training")
    device = resolve_device(settings.device, key)
    encoder = encoder.to(device).train()
    optimizer = make_optimizer(encoder, FitSettings(learning_rate=settings.learning_rate))
    rng = np.random.default_rng(int(settings.seed) + 1000 * offset)
    length = segment_samples(settings.segment_duration)
    batch = max(2, int(settings.batch_size))
    rows = []
    bar = progress_bar(
        range(1, int(settings.epochs) + 1),
        desc=f"SSL stage I ({encoder.spec.view})",
        unit="epoch",
        disable=not settings.progress,
    )
    for epoch in bar:
        order = rng.permutation(len(signals))
        total, seen = 0.0, 0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            if len(idx) < 2:  # one positive and no negative: nothing to contrast
                continue
            pairs = [segment_pair(signals[i], length, rng) for i in idx]
            first = add_noise(np.stack([a for a, _ in pairs]), settings.noise_snr_db, rng)
            second = add_noise(np.stack([b for _, b in pairs]), settings.noise_snr_db, rng)
            z1 = encoder(torch.as_tensor(first).to(device))
            z2 = encoder(torch.as_tensor(second).to(device))
            loss = contrastive_loss(z1, z2, settings.temperature)
            if not torch.isfinite(loss):
                raise SautiError(
                    f"SSL stage I diverged at epoch {epoch}", hint="lower SSL.learning_rate"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.item()) * len(idx)
            seen += len(idx)
        rows.append({"epoch": epoch, "loss": total / max(seen, 1)})
        bar.set_postfix(loss=f"{rows[-1]['loss']:.3f}")
    log.info("stage I (%s): final loss %.4f", encoder.spec.view, rows[-1]["loss"])
    return encoder.cpu().eval(), pd.DataFrame(rows)
