"""Speaker verification on held-out speakers: seeded trials, cosine scores, EER, the plot.

Trials: every same-speaker pair of the held-out utterances (target trials) plus, per held-out
speaker, `per_speaker` sampled pairs of one of its utterances with an utterance of another
held-out speaker (non-target trials). The same seed gives the same trials, so every round,
the untrained encoder and the pretrained reference are scored on identical pairs.

This module needs numpy and scikit-learn only (no torch): scoring works on any embeddings.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from sauti.core.errors import SautiError
from sauti.core.fileio import atomic_path


def build_trials(speakers, per_speaker: int, seed: int) -> pd.DataFrame:
    """Trials over utterance positions: columns a, b, target (1 same speaker, 0 different)."""
    speakers = np.asarray([str(s) for s in speakers])
    by_speaker = {s: np.flatnonzero(speakers == s) for s in sorted(set(speakers))}
    same = [(a, b) for rows in by_speaker.values() for a, b in itertools.combinations(rows, 2)]
    if not same or len(by_speaker) < 2:
        raise SautiError(
            f"the held-out speakers give no verification trials ({len(by_speaker)} speakers, "
            f"{len(same)} same-speaker pairs)",
            hint="raise SSL.test_speakers (held-out speakers need 2+ utterances each)",
        )
    rng = np.random.default_rng(int(seed))
    different, seen = [], set()
    for speaker, rows in by_speaker.items():
        others = np.flatnonzero(speakers != speaker)
        wanted = min(int(per_speaker), len(rows) * len(others))
        tries = 0
        while wanted and tries < 20 * wanted:
            tries += 1
            pair = tuple(sorted((int(rng.choice(rows)), int(rng.choice(others)))))
            if pair not in seen:
                seen.add(pair)
                different.append(pair)
                wanted -= 1
    rows = [(a, b, 1) for a, b in same] + [(a, b, 0) for a, b in different]
    return pd.DataFrame(rows, columns=["a", "b", "target"])


def cosine_scores(embeddings: np.ndarray, trials: pd.DataFrame) -> np.ndarray:
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / (np.linalg.norm(e, axis=1, keepdims=True) + 1e-12)
    return np.sum(e[trials["a"].to_numpy()] * e[trials["b"].to_numpy()], axis=1)


def eer(scores, targets) -> float:
    """Equal error rate: where the false-acceptance and false-rejection rates cross
    (linearly interpolated between the two ROC points around the crossing)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(targets), np.asarray(scores))
    fnr = 1 - tpr
    i = int(np.argmax(fnr <= fpr))  # first ROC point where misses no longer exceed false alarms
    if i == 0:
        return float(fpr[0])
    # segment (fpr[i-1], fnr[i-1]) -> (fpr[i], fnr[i]); solve fpr = fnr along it
    d0, d1 = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
    t = d0 / (d0 - d1) if d0 != d1 else 0.0
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def verification(embeddings: np.ndarray, trials: pd.DataFrame) -> float:
    return eer(cosine_scores(embeddings, trials), trials["target"])


def plot_rounds(table: pd.DataFrame, path, references: dict) -> None:
    """EER per stage (Stage I = round 0), with horizontal lines for the references
    ({label: EER}, e.g. the untrained encoder and resemblyzer); written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(table["round"], 100 * table["eer"], marker="o", label="SSL encoder")
    for i, (label, value) in enumerate(references.items()):
        if value is not None:
            ax.axhline(
                100 * value,
                linestyle="--",
                color=f"C{i + 1}",
                label=f"{label} ({100 * value:.1f} %)",
            )
    ax.set_xticks(list(table["round"]))
    ax.set_xticklabels(["stage I" if r == 0 else f"round {r}" for r in table["round"]])
    ax.set_ylabel("EER on held-out speakers (%)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("Speaker verification per SSL round")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1])
    plt.close(fig)
