"""Embedding features from pretrained models (kinds wav2vec2, hubert, wavlm, whisper, ast, clap,
spkrec): one fixed-length vector per sample, pooled over time.

Why a separate path from the per-signal extractors in `sauti.ml.features`: a network is worth
running on batches (and on a GPU), and it is loaded once per job, not once per sample. What is
computed is decided by the keyed options `<kind>.model`, `<kind>.layer` and `<kind>.pooling`;
`<kind>.device` and `<kind>.batch_size` only decide where and how fast, so they stay out of the
cache key (sauti.workflow.plan.FEATURE_RUN_OPTIONS). That only holds if a batch gives the same numbers
as one clip at a time, so padding is handled per model family:

* wav2vec2/hubert/wavlm: padded batches with an attention mask when the model's feature extractor
  says it was trained with one (large models); otherwise (the base models, whose group norm sees
  the padding) a batch only holds clips of equal length. Frames beyond a clip's end are left out
  of the pooling either way.
* whisper: every clip is padded to the model's 30 s window anyway (the encoder needs it); only the
  frames that cover the clip are pooled. Audio beyond the window is not seen.
* ast, clap: fixed-size inputs (AST 10.24 s, CLAP 10 s with its repeat-padding); all tokens are
  pooled. CLAP gets the first 10 s, resampled to its 48 kHz, so that its random crop never runs.

torch and transformers are imported inside the functions: the base install has neither.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sauti.config.device import check_device
from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.progress import bar as progress_bar
from sauti.ml.deep import INSTALL_HINT, require_torch
from sauti.ml.deep.device import resolve_device
from sauti.ml.deep.hub import from_pretrained, is_local
from sauti.ml.deep.speaker_embeddings import embed_resemblyzer, resemblyzer_encoder
from sauti.ml.features import clips

TRANSFORMER_KINDS = ("wav2vec2", "hubert", "wavlm", "whisper", "ast", "clap")
KINDS = (*TRANSFORMER_KINDS, "spkrec")
DEFAULT_MODELS = {
    "wav2vec2": "facebook/wav2vec2-base",
    "hubert": "facebook/hubert-base-ls960",
    "wavlm": "microsoft/wavlm-base",
    "whisper": "openai/whisper-tiny",
    "ast": "MIT/ast-finetuned-audioset-10-10-0.4593",
    "clap": "laion/clap-htsat-unfused",
    "spkrec": "resemblyzer",
}
#: Nkululeko-style bare model names (`wav2vec2-large-robust-ft-swbd-300h`) get this organisation.
HUB_ORGS = {
    "wav2vec2": "facebook",
    "hubert": "facebook",
    "wavlm": "microsoft",
    "whisper": "openai",
    "ast": "MIT",
    "clap": "laion",
    "spkrec": "speechbrain",
}
POOLINGS = ("mean", "mean_std")
DEFAULT_BATCH_SIZE = 8
_WINDOW_BATCHES = 16  # clips read (and sorted by length) at a time: batch_size * this


@dataclass(frozen=True)
class Settings:
    kind: str
    model: str
    layer: int
    pooling: str
    device: str
    batch_size: int

    def key(self, option: str) -> str:
        return f"FEATS.{self.kind}.{option}"


def settings(kind: str, params: dict) -> Settings:
    """The options of `kind` from a features params dict (keys `<kind>.model`, ...), checked."""

    def get(option, default):
        value = params.get(f"{kind}.{option}")
        return default if value is None else value

    model = str(get("model", DEFAULT_MODELS[kind])).strip()
    if "/" not in model and not is_local(model) and model != "resemblyzer":
        model = f"{HUB_ORGS[kind]}/{model}"  # Nkululeko names the model without its organisation
    pooling = str(get("pooling", "mean"))
    if pooling not in POOLINGS:
        raise SautiError(
            f"FEATS.{kind}.pooling = {pooling!r} is unknown", hint=f"use {' or '.join(POOLINGS)}"
        )
    layer, batch = get("layer", -1), get("batch_size", DEFAULT_BATCH_SIZE)
    for option, value, low in (("layer", layer, None), ("batch_size", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or (low and value < low):
            raise SautiError(
                f"FEATS.{kind}.{option} = {value!r} is not a whole number"
                + (f" >= {low}" if low else ""),
                hint="layer indexes the hidden states: 0 = input embeddings, -1 = last layer"
                if option == "layer"
                else "e.g. 8",
            )
    device = check_device(get("device", "cpu"), f"FEATS.{kind}.device")
    return Settings(kind, model, int(layer), pooling, device, int(batch))


def extract(kind: str, samples: pd.DataFrame, params: dict, progress: bool = True) -> pd.DataFrame:
    """Unprefixed embedding columns for every row of `samples`, in order (float64)."""
    s = settings(kind, params)
    encoder = _speaker_encoder(s) if kind == "spkrec" else _TransformerEncoder(s)
    segments = list(clips.segments(samples))
    out: list[np.ndarray | None] = [None] * len(segments)
    bar = progress_bar(
        total=len(segments),
        desc=f"features {kind}",
        unit="clip",
        mininterval=2,
        disable=not progress,
    )
    window = s.batch_size * _WINDOW_BATCHES
    for first in range(0, len(segments), window):
        indices = range(first, min(first + window, len(segments)))
        signals = {i: _read(kind, *segments[i]) for i in indices}
        for batch in _batches(signals, s.batch_size, encoder.equal_lengths):
            where = ", ".join(clips.describe(*segments[i]) for i in batch[:2])
            try:
                vectors = encoder([signals[i] for i in batch])
            except SautiError:
                raise
            except Exception as exc:
                raise SautiError(
                    f"{s.key('model')} = {s.model!r}: embedding failed on {where} "
                    f"({str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__})"
                ) from exc
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector
            bar.update(len(batch))
    bar.close()
    if not segments:
        return pd.DataFrame()
    matrix = np.stack(out).astype(np.float64)
    return pd.DataFrame(matrix, columns=encoder.names(matrix.shape[1]))


def _read(kind: str, path: str, start, end) -> np.ndarray:
    signal = audio.read(path, start, end)
    if signal.size == 0:
        raise SautiError(
            f"{clips.describe(path, start, end)}: segment is empty, no {kind} features",
            hint="check that start < end and that start lies inside the file",
        )
    return signal


def _batches(signals: dict, size: int, equal_lengths: bool) -> list[list[int]]:
    """Sample indices grouped into batches, longest first so little is padded; with
    `equal_lengths` a batch only holds clips of exactly the same length."""
    order = sorted(signals, key=lambda i: (-len(signals[i]), i))
    batches: list[list[int]] = []
    for i in order:
        last = batches[-1] if batches else None
        fits = last is not None and len(last) < size
        if fits and equal_lengths and len(signals[last[0]]) != len(signals[i]):
            fits = False
        if fits:
            last.append(i)
        else:
            batches.append([i])
    return batches


def pool(hidden, mask, pooling: str) -> np.ndarray:
    """Mean (and std) over the valid frames: hidden [B, T, D], mask [B, T] bool -> [B, D or 2D]."""
    import torch

    weights = mask.to(hidden.dtype).unsqueeze(-1)
    count = weights.sum(dim=1).clamp(min=1.0)
    mean = (hidden * weights).sum(dim=1) / count
    parts = [mean]
    if pooling == "mean_std":
        var = (((hidden - mean.unsqueeze(1)) ** 2) * weights).sum(dim=1) / count
        parts.append(var.clamp(min=0).sqrt())
    return torch.cat(parts, dim=1).float().cpu().numpy()


class _TransformerEncoder:
    """A transformers model and its feature extractor, loaded once; call it with a batch."""

    def __init__(self, s: Settings):
        torch = require_torch(f"FEATS.type {s.kind}")
        import transformers

        self.s, self.torch = s, torch
        self.device = resolve_device(s.device, s.key("device"))
        key = s.key("model")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "some weights were not used" for head-less loads
            self.extractor = from_pretrained(transformers.AutoFeatureExtractor, s.model, key)
            factory = (
                transformers.ClapAudioModelWithProjection
                if s.kind == "clap"
                else transformers.AutoModel
            )
            model = from_pretrained(factory, s.model, key)
        if s.kind == "whisper":
            if not hasattr(model, "get_encoder"):
                raise SautiError(f"{key} = {s.model!r} is not a whisper model (no encoder)")
            model = model.get_encoder()
        self.model = model.eval().to(self.device)
        self.rate = int(getattr(self.extractor, "sampling_rate", audio.SAMPLE_RATE))
        # base wav2vec2-style models were trained without attention masks: see the module doc
        self.equal_lengths = s.kind in ("wav2vec2", "hubert", "wavlm") and not getattr(
            self.extractor, "return_attention_mask", False
        )

    def names(self, width: int) -> list[str]:
        stats = ("mean",) if self.s.pooling == "mean" else ("mean", "std")
        dim = width // len(stats)
        return [f"{stat}_{i}" for stat in stats for i in range(dim)]

    def __call__(self, signals: list[np.ndarray]) -> np.ndarray:
        torch, kind = self.torch, self.s.kind
        if self.rate != audio.SAMPLE_RATE:
            signals = [_resample(x, self.rate) for x in signals]
        if kind == "clap":  # the first max_length_s seconds: CLAP would crop longer clips at random
            limit = int(getattr(self.extractor, "nb_max_samples", len(max(signals, key=len))))
            signals = [x[:limit] for x in signals]
        lengths = torch.tensor([len(x) for x in signals])
        if kind in ("wav2vec2", "hubert", "wavlm"):
            inputs = self.extractor(
                signals,
                sampling_rate=self.rate,
                padding=True,
                return_attention_mask=not self.equal_lengths,
                return_tensors="pt",
            )
        else:
            inputs = self.extractor(signals, sampling_rate=self.rate, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}
        if kind == "whisper":
            inputs = {"input_features": inputs["input_features"]}
        with torch.inference_mode():
            output = self.model(**inputs, output_hidden_states=True)
        states = output.hidden_states
        n = len(states)
        if not -n <= self.s.layer < n:
            raise SautiError(
                f"{self.s.key('layer')} = {self.s.layer}: {self.s.model} has {n} hidden states",
                hint=f"use 0 (input embeddings) to {n - 1} (last layer), or -1 for the last",
            )
        hidden = states[self.s.layer]
        if hidden.dim() == 4:  # CLAP's swin stages: [B, C, H, W] -> tokens [B, H*W, C]
            hidden = hidden.flatten(2).transpose(1, 2)
        mask = self._frame_mask(lengths, hidden.shape[1]).to(hidden.device)
        return pool(hidden, mask, self.s.pooling)

    def _frame_mask(self, lengths, frames: int):
        """Which output frames cover real audio (ast/clap: all; their inputs are fixed-size)."""
        torch, kind = self.torch, self.s.kind
        if kind in ("wav2vec2", "hubert", "wavlm"):
            valid = self.model._get_feat_extract_output_lengths(lengths)
        elif kind == "whisper":
            hop = int(getattr(self.extractor, "hop_length", 160))
            valid = (torch.div(lengths + hop - 1, hop, rounding_mode="floor") + 1) // 2
        else:
            valid = torch.full_like(lengths, frames)
        valid = valid.clamp(min=1, max=frames)
        return torch.arange(frames).unsqueeze(0) < valid.unsqueeze(1)


def _resample(signal: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = math.gcd(rate, audio.SAMPLE_RATE)
    return resample_poly(signal, rate // g, audio.SAMPLE_RATE // g).astype(np.float32)


def _speaker_encoder(s: Settings):
    if s.model == "resemblyzer":
        return _Resemblyzer(s)
    return _SpeechBrain(s)


class _Resemblyzer:
    """resemblyzer's 256-d d-vector (weights ship with the package: works offline)."""

    equal_lengths = False

    def __init__(self, s: Settings):
        self.device = str(resolve_device(s.device, s.key("device")))

        resemblyzer_encoder(
            self.device
        )  # load now (cached): a missing package fails before any audio

    def names(self, width: int) -> list[str]:
        return [str(i) for i in range(width)]

    def __call__(self, signals):
        return embed_resemblyzer(signals, self.device)


class _SpeechBrain:
    """A speechbrain speaker encoder (ECAPA-TDNN: speechbrain/spkrec-ecapa-voxceleb, 192-d)."""

    equal_lengths = False

    def __init__(self, s: Settings):
        self.torch = require_torch("FEATS.type spkrec")
        device = resolve_device(s.device, s.key("device"))
        try:
            from speechbrain.inference.speaker import EncoderClassifier
            from speechbrain.utils.fetching import LocalStrategy
        except ImportError as exc:
            raise SautiError(
                f"{s.key('model')} = {s.model!r} needs speechbrain, which is not installed",
                hint=INSTALL_HINT,
            ) from exc
        local = is_local(s.model)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.encoder = EncoderClassifier.from_hparams(
                    source=s.model,
                    run_opts={"device": str(device)},
                    **({"local_strategy": LocalStrategy.NO_LINK} if local else {}),
                )
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise SautiError(
                f"{s.key('model')} = {s.model!r}: could not load the speechbrain model from "
                f"{'the local folder' if local else 'the Hugging Face hub'} "
                f"({reason or type(exc).__name__})",
                hint="use resemblyzer (works offline), a hub name while online, or a local folder "
                "holding hyperparams.yaml and the checkpoint files",
            ) from exc
        if self.encoder is None:
            raise SautiError(f"{s.key('model')} = {s.model!r}: no speechbrain model found there")
        self.device = device

    def names(self, width: int) -> list[str]:
        return [str(i) for i in range(width)]

    def __call__(self, signals):
        torch = self.torch
        longest = max(len(x) for x in signals)
        wavs = torch.zeros(len(signals), longest)
        for row, x in enumerate(signals):
            wavs[row, : len(x)] = torch.from_numpy(np.asarray(x, dtype=np.float32))
        lengths = torch.tensor([len(x) / longest for x in signals])
        with torch.inference_mode():
            emb = self.encoder.encode_batch(wavs.to(self.device), lengths.to(self.device))
        return emb.reshape(len(signals), -1).float().cpu().numpy()
