"""The two training objectives: a SimCLR-style contrastive loss (Stage I) and additive angular
margin softmax (AAM, Stage II).
"""

from __future__ import annotations

import math

from sauti.ml.deep import require_torch

torch = require_torch("SSL losses")
F = torch.nn.functional


def contrastive_loss(z1, z2, temperature: float | None = None):
    """Cross-view contrastive loss over the batch: row i of `z1` must be most similar (cosine)
    to row i of `z2` among all rows of `z2`, and vice versa (the two directions averaged).

    `temperature` None is the paper's form (raw cosine similarities as logits); a number divides
    the similarities by it first (SimCLR's NT-Xent temperature, e.g. 0.1), which sharpens the
    softmax and usually trains faster.
    """
    sim = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T
    if temperature:
        sim = sim / float(temperature)
    target = torch.arange(sim.shape[0], device=sim.device)
    return 0.5 * (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target))


class AAMSoftmax(torch.nn.Module):
    """Additive angular margin softmax (ArcFace): logits s·cos(θ_y + m) for the true class and
    s·cos(θ_j) for the others, with unit-norm embeddings and class weights.

    `forward(embeddings, labels)` returns per-sample losses (reduce them yourself, co_meta needs
    them per sample); `logits(embeddings)` gives the margin-free scores used for predictions.
    """

    def __init__(self, dim: int, classes: int, margin: float = 0.2, scale: float = 32.0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(classes, dim))
        torch.nn.init.xavier_uniform_(self.weight)
        self.margin, self.scale = float(margin), float(scale)

    def cosine(self, embeddings):
        return F.normalize(embeddings, dim=1) @ F.normalize(self.weight, dim=1).T

    def logits(self, embeddings):
        return self.scale * self.cosine(embeddings)

    def forward(self, embeddings, labels):
        cos = self.cosine(embeddings).clamp(-1 + 1e-7, 1 - 1e-7)
        sin = torch.sqrt(1.0 - cos**2)
        phi = cos * math.cos(self.margin) - sin * math.sin(self.margin)  # cos(θ + m)
        # beyond θ = π - m, cos(θ + m) would grow again: use the usual linear continuation
        threshold, fall = math.cos(math.pi - self.margin), math.sin(math.pi - self.margin)
        phi = torch.where(cos > threshold, phi, cos - fall * self.margin)
        onehot = F.one_hot(labels, cos.shape[1]).to(cos.dtype)
        logits = self.scale * (onehot * phi + (1 - onehot) * cos)
        return F.cross_entropy(logits, labels, reduction="none")
