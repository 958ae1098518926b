"""MODEL.type = cnn: a small VGG-like 2-D CNN on log-mel images (FEATS.type = ['spectra']).

Why an estimator: like the mlp (`sauti.ml.deep.mlp`), the network hides behind scikit-learn's
fit / predict / predict_proba / classes_, so the train stage, cross-validation, the test stage
and `sauti demo` use it unchanged and it pickles inside `model.joblib`. Training is the shared
`sauti.ml.deep.loop.fit` with this model's augmentation as its `augment` hook
(`sauti.ml.deep.cnn_net.SpecAugmenter`: time shift, background noise at a random SNR, optional
SpecAugment; see that module for why mixing in the mel power domain is sound). The hook runs on
training batches only, so dev rows (early stopping) and test rows are never augmented.

Input: the flattened spectra table (see `sauti.ml.features.spectra`); the image shape comes from
the FEATS spectra options that sauti.ml.training hands over (`spectra`), which also make the noise
images match the features (same window, hop and bands). FEATS.scale is ignored for the cnn
(the training pipeline gives it unscaled features): per-column scaling would break the power
domain the noise mixing needs, so the network standardises its input itself with the global
mean and standard deviation of the training images.

Noise: `noise_dir` (every .wav/.flac below it, 16 kHz mono via sauti.core.audio) or, when it is
empty, generated white and pink noise. Their log-mel images are computed once per fit with the
same spectrogram settings, and are not saved with the model (only training needs them).

What is kept after fit: the best epoch's weights as numpy arrays (`state_`, so a GPU-trained
bundle predicts on a CPU-only machine), `history_` and `best_epoch_`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from sklearn.base import ClassifierMixin

from sauti.config.device import check_device
from sauti.config.model_options import layer_sizes, resolve_loss, resolve_measure
from sauti.config.sections.spectra import settings
from sauti.core import audio
from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import seed_everything
from sauti.ml.deep.estimator import TorchEstimator, encode_labels, softmax
from sauti.ml.features import spectra
from sauti.ml.features.spectra import LOG_FLOOR, log_mel

log = logging.getLogger("sauti.ml.deep")

#: Convolution channels per block (MODEL.channels).
DEFAULT_CHANNELS = (16, 32, 64)
#: Epochs when nothing else is given; early stopping usually ends training sooner.
DEFAULT_EPOCHS = 30
#: Seconds of generated white and pink noise when MODEL.noise_dir is empty.
GENERATED_NOISE_SECONDS = 5.0
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class CNNClassifier(ClassifierMixin, TorchEstimator):
    """cnn: string labels in and out, `classes_` sorted, softmax probabilities in that order."""

    #: sauti.ml.training sets `spectra` (the FEATS spectra options) before fitting
    uses_spectra = True
    #: sauti.ml.training fits no FEATS.scale scaler for such models (they normalise themselves)
    ignores_scale = True

    def __init__(
        self,
        channels=DEFAULT_CHANNELS,
        drop=0.3,
        batch_size=32,
        learning_rate=1e-3,
        epochs=DEFAULT_EPOCHS,
        patience=8,
        loss=None,
        measure=None,
        optimizer="adam",
        device="cpu",
        validation_share=0.2,
        class_weight=None,
        random_state=42,
        augment_noise=True,
        noise_dir=None,
        snr_range=(5.0, 30.0),
        noise_prob=0.8,
        shift_ms=100.0,
        specaugment=False,
        spectra=None,
        progress=True,
    ):
        self.channels = channels
        self.drop = drop
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.patience = patience
        self.loss = loss
        self.measure = measure
        self.optimizer = optimizer
        self.device = device
        self.validation_share = validation_share
        self.class_weight = class_weight
        self.random_state = random_state
        self.augment_noise = augment_noise
        self.noise_dir = noise_dir
        self.snr_range = snr_range
        self.noise_prob = noise_prob
        self.shift_ms = shift_ms
        self.specaugment = specaugment
        self.spectra = spectra
        self.progress = progress

    # -- shape and settings ---------------------------------------------------------------------
    def _options(self) -> dict:
        return settings(self.spectra or {})

    def _shape(self) -> tuple[int, int]:
        options = self._options()
        return options["fft_nbands"], spectra.n_frames(
            options["max_duration"], options["fft_hop_dur"]
        )

    def _images(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        bands, frames = self._shape()
        if X.ndim != 2 or X.shape[1] != bands * frames:
            raise SautiError(
                f"MODEL.type = cnn expects {bands} x {frames} spectra values per sample, got "
                f"{X.shape[1] if X.ndim == 2 else X.shape}",
                hint="use FEATS.type = ['spectra'] alone (no other feature types) with the cnn",
            )
        return X.reshape(len(X), bands, frames)

    def _channels(self) -> tuple[int, ...]:
        return layer_sizes(list(self.channels)) if self.channels else DEFAULT_CHANNELS

    # -- training -------------------------------------------------------------------------------
    def fit(self, X, y, dev=None):
        """Train on (X, y); `dev` = (X_dev, y_dev) drives early stopping and the best epoch."""
        torch = require_torch("MODEL.type = cnn")
        from sauti.ml.deep.cnn_net import LogMelCNN  # heavy: torch

        images = self._images(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        targets = self._encode(y)
        loss_name = resolve_loss(self.loss, "classification", self.class_weight == "balanced")
        measure = resolve_measure(self.measure, "classification")
        seed = int(self.random_state)
        seed_everything(seed)
        net = LogMelCNN(len(self.classes_), self._channels(), float(self.drop))
        net.mean.fill_(float(images.mean()))
        net.std.fill_(float(images.std()) or 1.0)
        dev_pair = None
        if dev is not None and len(dev[0]):
            dev_pair = (
                torch.as_tensor(self._images(dev[0])),
                torch.as_tensor(self._encode(np.asarray(dev[1])), dtype=torch.long),
            )
        self._train(
            net,
            (torch.as_tensor(images), torch.as_tensor(targets, dtype=torch.long)),
            dev_pair,
            loss_name,
            measure,
            "classification",
            self.epochs or DEFAULT_EPOCHS,
            seed,
            "cnn",
            augment=self.augmenter(seed),
        )
        return self

    def augmenter(self, seed: int = 0):
        """The loop's augment hook for this model's settings (None when everything is off)."""
        from sauti.ml.deep.cnn_net import SpecAugmenter  # heavy: torch

        options = self._options()
        shift = int(round(float(self.shift_ms or 0) / options["fft_hop_dur"]))
        noises = noise_images(self.noise_dir, options, seed) if self.augment_noise else []
        if not noises and shift == 0 and not self.specaugment:
            return None
        low, high = _snr_range(self.snr_range)
        return SpecAugmenter(
            noises,
            snr_range=(low, high),
            noise_prob=float(self.noise_prob),
            shift_frames=shift,
            specaugment=bool(self.specaugment),
            floor=float(np.log(LOG_FLOOR)),
        )

    def _encode(self, y) -> np.ndarray:
        return encode_labels(self.classes_, y)

    # -- prediction -----------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        torch = require_torch("MODEL.type = cnn")
        from sauti.ml.deep.cnn_net import LogMelCNN  # heavy: torch

        def build():
            return LogMelCNN(len(self.classes_), self._channels(), float(self.drop))

        return self._predict_outputs(torch, build, torch.as_tensor(self._images(X)), batch_size=256)

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self._outputs(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self._outputs(X).argmax(axis=1)]


# ------------------------------------------------------------------------------ noise images


def noise_images(noise_dir, options: dict, seed: int) -> list:
    """Mel-power images [bands, frames] (float32 tensors) of the noise used for mixing.

    From every audio file below `noise_dir`, or, without one, from generated white and pink
    noise (seeded). Whole files are analysed (no max_duration cut): the augmenter takes a random
    window of each, so a long noise recording gives many different backgrounds.
    """
    torch = require_torch("MODEL.augment_noise")

    signals = []
    if noise_dir:
        folder = Path(noise_dir)
        if not folder.is_dir():
            raise SautiError(
                f"MODEL.noise_dir: {noise_dir} is not a folder",
                hint="give a folder of noise recordings (wav/flac), or leave it empty for "
                "generated white and pink noise",
            )
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise SautiError(
                f"MODEL.noise_dir: no .wav/.flac/.ogg files in {noise_dir}",
                hint="add noise recordings or leave MODEL.noise_dir empty",
            )
        signals = [audio.read(p) for p in files]
    else:
        signals = list(generated_noise(seed))
    images = []
    for signal in signals:
        if signal.size == 0:
            continue
        whole = {**options, "max_duration": len(signal) / audio.SAMPLE_RATE}
        images.append(torch.as_tensor(np.exp(log_mel(signal, whole)).astype(np.float32)))
    return images


def generated_noise(seed: int, seconds: float = GENERATED_NOISE_SECONDS):
    """White and pink (1/f power) noise at 16 kHz, unit variance, from a seeded generator."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])  # power ~ 1/f
    spectrum[0] = 0
    pink = np.fft.irfft(spectrum, n)
    for signal in (white, pink):
        yield (signal / signal.std()).astype(np.float32)


def _snr_range(value) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise SautiError(
            f"MODEL.snr_range = {value!r} is not [min, max] in dB", hint="e.g. [5, 30]"
        ) from exc
    if low > high:
        raise SautiError(f"MODEL.snr_range = {value!r}: min is above max", hint="e.g. [5, 30]")
    return low, high


def build(cfg, task: str, seed: int):
    """The estimator for MODEL.type = cnn from a models._ModelConfig (typed MODEL access)."""
    require_torch("MODEL.type = cnn")
    if task != "classification":
        raise SautiError(
            "MODEL.type: 'cnn' is a classifier but EXP.type is regression",
            hint="use mlp_reg or a classic regressor",
        )

    raw = cfg._cfg
    patience = raw.get("patience")
    share = raw.get("validation_share")
    channels = tuple(raw.get("channels") or DEFAULT_CHANNELS)
    layer_sizes(list(channels))  # a bad spec stops here, not after feature loading
    model = CNNClassifier(
        channels=channels,
        drop=cfg.get("drop", 0.3, float, "a number from 0 to 1"),
        batch_size=cfg.positive_int("batch_size", 32),
        learning_rate=cfg.positive_float("learning_rate", 1e-3),
        patience=int(patience) if patience else None,
        loss=resolve_loss(raw.get("loss"), task),
        measure=resolve_measure(raw.get("measure"), task),
        optimizer=cfg.choice("optimizer", "adam", ("adam", "adamw", "sgd")),
        device=check_device(raw.get("device") or "cpu", "MODEL.device"),
        validation_share=float(share) if share is not None else 0.2,
        class_weight=cfg.class_weight(),
        random_state=seed,
        augment_noise=bool(raw.get("augment_noise", True)),
        noise_dir=raw.get("noise_dir") or None,
        snr_range=_snr_range(raw.get("snr_range") or (5.0, 30.0)),
        noise_prob=float(raw.get("noise_prob", 0.8)),
        shift_ms=float(raw.get("shift_ms", 100.0) or 0.0),
        specaugment=bool(raw.get("specaugment", False)),
    )
    return model
