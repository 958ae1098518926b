"""Co-teaching+ / Co-Meta training of two encoders on noisy pseudo labels (SSL.co_meta).

Pseudo labels from k-means are noisy. With two views of each sample (here two audio views:
log-mel and a second front end, SSL.view2; the method only needs two encoders and their
inputs), each encoder helps the other to ignore wrong labels:

1. disagreement: only samples on which the two encoders predict different pseudo classes are
   candidates (Co-teaching+: where they agree, they would teach each other nothing new);
2. small loss: among those, each encoder picks the share λ(e) = 1 − min(e/E_k·τ, τ) with its
   smallest losses (likely-clean labels) for its *peer*; λ starts at 1 and falls to 1 − τ by
   epoch E_k (τ = the assumed noise rate);
3. a MAML-style two-step update per encoder: an inner step on the whole batch (support) gives
   fast weights θ' = θ − α∇L_support(θ); the peer-selected samples (query) are scored at θ'
   and their loss updates θ. First-order (the inner gradient is not differentiated again),
   which keeps the cost at about two ordinary steps.

The selection functions are pure numpy so they are tested on their own.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from sauti.core.progress import bar as progress_bar
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import resolve_device, seed_everything
from sauti.ml.deep.loop import FitSettings, make_optimizer
from sauti.ml.deep.ssl.batches import make_heads, round_batches, views_of
from sauti.ml.deep.ssl.settings import SSLSettings

log = logging.getLogger("sauti.ssl")


def keep_share(epoch: int, e_k: int, tau: float) -> float:
    """λ(e) = 1 − min(e/E_k·τ, τ): the share of candidates kept at epoch e (counted from 0)."""
    return 1.0 - min(float(epoch) / max(int(e_k), 1) * float(tau), float(tau))


def small_loss_select(losses, share: float, minimum: int = 2) -> np.ndarray:
    """Positions of the ceil(share·n) smallest losses (at least `minimum`, at most n), sorted
    by loss; ties keep the earlier position."""
    losses = np.asarray(losses, dtype=float)
    n = len(losses)
    keep = min(n, max(int(minimum), math.ceil(float(share) * n - 1e-9)))
    return np.argsort(losses, kind="stable")[:keep]


def disagreement(pred_a, pred_b) -> np.ndarray:
    """Positions where the two encoders predict different classes."""
    return np.flatnonzero(np.asarray(pred_a) != np.asarray(pred_b))


def maml_step(model, support: tuple, query: tuple, optimizer, inner_lr: float) -> tuple:
    """One first-order MAML update of `model` (per-sample losses from `model(x, y)`).

    θ' = θ − inner_lr·∇L_support(θ); then the optimizer steps θ along ∇L_query at θ'.
    Returns (support loss, query loss) as floats.
    """
    torch = require_torch("Co-Meta")
    from torch.func import functional_call

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    support_loss = model(*support).mean()
    grads = torch.autograd.grad(support_loss, list(params.values()), allow_unused=True)
    fast = {
        n: p if g is None else p - float(inner_lr) * g.detach()
        for (n, p), g in zip(params.items(), grads, strict=True)
    }
    query_loss = functional_call(model, fast, query).mean()
    optimizer.zero_grad()
    query_loss.backward()
    optimizer.step()
    return float(support_loss.item()), float(query_loss.item())


def _classifier(encoder, head):
    torch = require_torch("Co-Meta")

    class Classifier(torch.nn.Module):
        """signals, pseudo labels -> per-sample AAM losses (what maml_step differentiates)."""

        def __init__(self):
            super().__init__()
            self.encoder, self.head = encoder, head

        def forward(self, x, y):
            return self.head(self.encoder(x), y)

        def predict(self, x, y):
            emb = self.encoder(x)
            return self.head(emb, y), self.head.logits(emb).argmax(1)

    return Classifier()


def train_co_meta(
    encoders, signals, views, labels: np.ndarray, settings: SSLSettings, round_no: int
):
    """One Stage II round with two encoders (views); returns ([encoder_a, encoder_b], history)."""
    torch = require_torch("Co-Meta")
    seed_everything(int(settings.seed) + round_no)
    device = resolve_device(settings.device, "SSL.device")
    heads = make_heads(views, labels, settings)
    nets = [_classifier(e, h).to(device).train() for e, h in zip(encoders, heads, strict=True)]
    optimizers = [
        make_optimizer(n, FitSettings(learning_rate=settings.learning_rate)) for n in nets
    ]
    rng = np.random.default_rng(int(settings.seed) + 7919 * round_no)
    targets = torch.as_tensor(labels, dtype=torch.long)
    rows = []
    bar = progress_bar(
        range(int(settings.round_epochs)),
        desc=f"SSL round {round_no} (co-meta)",
        unit="epoch",
        disable=not settings.progress,
    )
    for epoch in bar:
        share = keep_share(epoch, settings.e_k, settings.tau)
        stats = {"support": [0.0, 0.0], "query": [0.0, 0.0], "disagree": 0, "correct": 0, "n": 0}
        for idx in round_batches(len(signals), settings, rng):
            xs = [torch.as_tensor(v).to(device) for v in views_of(signals, idx, settings, rng, 2)]
            y = targets[idx].to(device)
            with torch.no_grad():
                (loss_a, pred_a), (loss_b, pred_b) = (
                    n.predict(x, y) for n, x in zip(nets, xs, strict=True)
                )
            candidates = disagreement(pred_a.cpu().numpy(), pred_b.cpu().numpy())
            stats["disagree"] += len(candidates)
            if len(candidates) < 2:  # nothing (or one sample) to learn from: use the batch
                candidates = np.arange(len(idx))
            peer_losses = [loss_b.cpu().numpy(), loss_a.cpu().numpy()]  # B selects for A, A for B
            for k, (net, x, optimizer) in enumerate(zip(nets, xs, optimizers, strict=True)):
                query = candidates[small_loss_select(peer_losses[k][candidates], share)]
                q = torch.as_tensor(query, device=device)
                s_loss, q_loss = maml_step(
                    net, (x, y), (x[q], y[q]), optimizer, settings.meta_learning_rate
                )
                stats["support"][k] += s_loss * len(idx)
                stats["query"][k] += q_loss * len(idx)
            stats["correct"] += int((pred_a == y).sum())
            stats["n"] += len(idx)
        n = max(stats["n"], 1)
        rows.append(
            {
                "epoch": epoch + 1,
                "keep_share": share,
                "loss": stats["support"][0] / n,
                "loss_view2": stats["support"][1] / n,
                "query_loss": stats["query"][0] / n,
                "disagreement": stats["disagree"] / n,
                "accuracy": stats["correct"] / n,
            }
        )
        bar.set_postfix(loss=f"{rows[-1]['loss']:.3f}", disagree=f"{rows[-1]['disagreement']:.2f}")
    log.info(
        "co-meta round %d: loss %.4f, disagreement %.3f",
        round_no,
        rows[-1]["loss"],
        rows[-1]["disagreement"],
    )
    return [n.encoder.cpu().eval() for n in nets], pd.DataFrame(rows)
