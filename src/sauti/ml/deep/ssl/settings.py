"""The SSL config keys the training code reads, as one dataclass (defaults = the schema's)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from sauti.ml.deep.ssl.encoder import EncoderSpec


@dataclass
class SSLSettings:
    segment_duration: float = 1.8
    channels: list = field(default_factory=lambda: [512, 512, 512, 512, 1536])
    attention_channels: int = 128
    embedding_dim: int = 192
    n_mels: int = 80
    batch_size: int = 64
    epochs: int = 20
    round_epochs: int = 10
    round_segment_duration: float | None = None
    clusters: int = 50
    margin: float = 0.2
    scale: float = 32.0
    temperature: float | None = None
    learning_rate: float = 0.001
    noise_snr_db: list | None = field(default_factory=lambda: [5.0, 20.0])
    co_meta: bool = False
    view2: str = "mfcc"
    tau: float = 0.2
    e_k: int = 5
    meta_learning_rate: float = 0.01
    device: str = "cpu"
    seed: int = 42
    progress: bool = True

    @classmethod
    def from_params(cls, params: dict) -> SSLSettings:
        """Take the known keys of a stage's params (stage keys carry extra, unrelated ones)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})

    def spec(self, view: str = "fbank") -> EncoderSpec:
        return EncoderSpec(
            view=view,
            channels=list(self.channels),
            attention_channels=int(self.attention_channels),
            embedding_dim=int(self.embedding_dim),
            n_mels=int(self.n_mels),
        )

    def views(self) -> list[str]:
        """The encoders' input views: log-mel, plus the second view with co_meta."""
        return ["fbank", self.view2] if self.co_meta else ["fbank"]
