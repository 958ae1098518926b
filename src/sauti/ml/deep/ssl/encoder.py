"""The speaker encoder: acoustic features -> per-utterance mean normalisation -> ECAPA-TDNN.

Why features inside the module: the same object embeds raw 16 kHz signals in every stage (a
round, the evaluation, a feature kind), so no caller can pair an encoder with the wrong front
end. The feature front ends have no trainable weights; the architecture settings are saved
next to the weights so that `load_encoder` rebuilds exactly the trained network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from sauti.core.errors import SautiError
from sauti.core.fileio import atomic_path
from sauti.core.progress import bar as progress_bar
from sauti.ml.deep import require_torch

VIEWS = ("fbank", "mfcc")


@dataclass
class EncoderSpec:
    """Architecture of one encoder (SSL.channels, attention_channels, embedding_dim, n_mels)."""

    view: str = "fbank"  # fbank = 80-dim log-mel; mfcc = 20 MFCCs from 80 mel bands
    channels: list = field(default_factory=lambda: [512, 512, 512, 512, 1536])
    attention_channels: int = 128
    embedding_dim: int = 192
    n_mels: int = 80
    n_mfcc: int = 20


def build_encoder(spec: EncoderSpec):
    """A fresh, randomly initialised encoder (seed torch first for a repeatable start)."""
    torch = require_torch("SSL speaker encoder")
    from speechbrain.lobes.features import MFCC, Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

    class SpeakerEncoder(torch.nn.Module):
        """signals [batch, samples] (16 kHz) -> embeddings [batch, embedding_dim]."""

        def __init__(self, spec: EncoderSpec):
            super().__init__()
            self.spec = spec
            if spec.view == "fbank":
                self.features = Fbank(n_mels=spec.n_mels)
                size = spec.n_mels
            else:
                self.features = MFCC(
                    n_mels=spec.n_mels, n_mfcc=spec.n_mfcc, deltas=False, context=False
                )
                size = spec.n_mfcc
            self.ecapa = ECAPA_TDNN(
                size,
                channels=list(spec.channels),
                attention_channels=spec.attention_channels,
                lin_neurons=spec.embedding_dim,
            )

        def frames(self, signals):
            """Features with each utterance's mean removed (cepstral mean normalisation): a
            fixed channel colouring then says less about who is speaking."""
            with torch.no_grad():
                feats = self.features(signals)
            return feats - feats.mean(dim=1, keepdim=True)

        def forward(self, signals):
            return self.ecapa(self.frames(signals)).squeeze(1)

    if spec.view not in VIEWS:
        raise SautiError(f"SSL view {spec.view!r} is unknown", hint=f"use one of {VIEWS}")
    return SpeakerEncoder(spec)


def save_encoders(path, encoders, extra: dict | None = None) -> None:
    """Weights + architecture of one or two encoders (+ `extra`) in one torch file, atomically."""
    torch = require_torch("saving an encoder")

    saved = [
        {"spec": asdict(e.spec), "state": {k: v.detach().cpu() for k, v in e.state_dict().items()}}
        for e in encoders
    ]
    with atomic_path(path) as tmp:
        torch.save({"encoders": saved, **(extra or {})}, tmp)


def load_encoders(path) -> list:
    """The encoders saved by `save_encoders`, in order (view 1 first), in eval mode."""
    torch = require_torch("loading an encoder")
    saved = torch.load(path, map_location="cpu", weights_only=False)
    encoders = []
    for item in saved["encoders"]:
        encoder = build_encoder(EncoderSpec(**item["spec"]))
        encoder.load_state_dict(item["state"])
        encoders.append(encoder.eval())
    return encoders


def embed(encoder, signals, device="cpu", progress: bool = False, desc: str = "embed"):
    """L2-normalised embeddings of whole utterances, [n, embedding_dim] float32.

    One utterance at a time, so no padding changes an embedding; signals shorter than 0.1 s
    are repeated to 0.1 s (the front end needs a few frames).
    """
    torch = require_torch("SSL embeddings")
    encoder = encoder.to(device).eval()
    out = np.zeros((len(signals), encoder.spec.embedding_dim), dtype=np.float32)
    with torch.no_grad():
        for i, signal in enumerate(
            progress_bar(signals, desc=desc, unit="utt", disable=not progress)
        ):
            wav = torch.as_tensor(tile(np.asarray(signal, dtype=np.float32), 1600))
            emb = encoder(wav[None].to(device))
            out[i] = torch.nn.functional.normalize(emb, dim=1)[0].cpu().numpy()
    return out


def tile(signal: np.ndarray, length: int) -> np.ndarray:
    """The signal repeated until it is at least `length` samples long (silence-free padding)."""
    if signal.size == 0:
        return np.zeros(length, dtype=np.float32)
    if signal.size >= length:
        return signal
    return np.tile(signal, -(-length // signal.size))[: max(length, signal.size)]
