"""The torch half of MODEL.type = cnn: the network and the training-time augmentation.

Kept apart from `sauti.ml.deep.cnn` (the estimator) because this module imports torch at the top;
the estimator imports it only when it trains or predicts.

Augmentation works on the log-mel images of one training batch (`SpecAugmenter.__call__` is the
`augment` hook of `sauti.ml.deep.loop.fit`, which applies it to training batches only and passes
its seeded generator, so the draws differ every epoch yet repeat run to run). Three parts, in
this order:

1. time shift: each image moves by a random whole number of frames in [-max, max]; the frames
   that come in are digital silence (the spectra log floor), so a word may start earlier or
   later than it does in the corpus;
2. background noise at a random SNR, mixed in the mel POWER domain: x' = ln(exp(x) + g * N),
   with N a random window of a noise image (mel power) and g chosen so that
   mean(exp(x)) / mean(g * N) equals the drawn SNR. This is exact in expectation: the power
   spectrum of the sum of two uncorrelated signals is the sum of their power spectra (the cross
   term averages out), and a mel band is a fixed weighted sum of power bins, so mel powers add
   too. Per frame the cross term does not vanish, which is the part this shortcut leaves out;
   in return it costs one exp and one log per pixel instead of an STFT per sample. The SNR is
   that of the whole fixed-length image, as audiomentations defines it for whole signals;
3. SpecAugment (Park et al. 2019), optional: two frequency masks of up to bands/8 bands and two
   time masks of up to frames/10 frames, filled with the image's mean.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LogMelCNN(nn.Module):
    """A small VGG-like network: per block a 3x3 convolution, batch norm, ReLU and 2x2 max
    pooling, the channels growing block by block; then average and max pooling over the whole
    remaining image (so any clip length works), dropout and one linear layer.

    The input is the raw log-mel image [batch, bands, frames]; the first step standardises it
    with the training set's global mean and standard deviation (buffers saved with the
    weights). A global rather than per-column statistic keeps the image's shape intact and lets
    augmentation work on raw log powers before the network sees them."""

    def __init__(self, n_outputs: int, channels=(16, 32, 64), drop: float = 0.3):
        super().__init__()
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))
        blocks, width = [], 1
        for size in channels:
            blocks += [
                nn.Conv2d(width, size, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(size),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            width = size
        self.features = nn.Sequential(*blocks)
        self.drop = nn.Dropout(drop)
        self.head = nn.Linear(2 * width, n_outputs)

    def forward(self, x):
        x = ((x - self.mean) / self.std).unsqueeze(1)
        x = self.features(x)
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.head(self.drop(pooled))


class SpecAugmenter:
    """The `augment(batch, generator)` hook: time shift, noise at a random SNR, SpecAugment."""

    def __init__(
        self,
        noises: list,
        snr_range=(5.0, 30.0),
        noise_prob: float = 0.8,
        shift_frames: int = 0,
        specaugment: bool = False,
        floor: float = math.log(1e-10),
    ):
        self.noises = noises  # mel-power images [bands, frames_i] (float32 tensors)
        self.snr_range = (float(snr_range[0]), float(snr_range[1]))
        self.noise_prob = float(noise_prob)
        self.shift_frames = int(shift_frames)
        self.specaugment = bool(specaugment)
        self.floor = float(floor)

    def __call__(self, x, generator):
        x = x.clone()
        if self.shift_frames > 0:
            x = shift(x, self.shift_frames, generator, self.floor)
        if self.noises and self.noise_prob > 0:
            use = torch.rand(len(x), generator=generator) < self.noise_prob
            snr = self.snr_range[0] + torch.rand(len(x), generator=generator) * (
                self.snr_range[1] - self.snr_range[0]
            )
            for i in torch.nonzero(use).reshape(-1).tolist():
                window = noise_window(self.noises, x.shape[-1], generator)
                x[i] = mix_noise(x[i], window, float(snr[i]))
        if self.specaugment:
            x = spec_masks(x, generator)
        return x


def shift(x, max_frames: int, generator, floor: float):
    """Move each image in time by a random number of frames in [-max_frames, max_frames]."""
    out = torch.full_like(x, floor)
    frames = x.shape[-1]
    offsets = torch.randint(-max_frames, max_frames + 1, (len(x),), generator=generator)
    for i, k in enumerate(offsets.tolist()):
        if k >= 0:
            out[i, :, k:] = x[i, :, : frames - k]
        else:
            out[i, :, :k] = x[i, :, -k:]
    return out


def noise_window(noises: list, frames: int, generator):
    """A random [bands, frames] window of a random noise image (tiled when it is shorter)."""
    noise = noises[int(torch.randint(len(noises), (1,), generator=generator))]
    if noise.shape[-1] < frames:
        noise = noise.repeat(1, math.ceil(frames / noise.shape[-1]))
    start = int(torch.randint(noise.shape[-1] - frames + 1, (1,), generator=generator))
    return noise[:, start : start + frames]


def mix_noise(image, noise_power, snr_db: float):
    """ln(exp(image) + g * noise_power) with g set so that the image-to-noise power ratio is
    `snr_db` (mean mel power over the whole image)."""
    power = torch.exp(image)
    gain = power.mean() / (noise_power.mean() * 10 ** (snr_db / 10))
    return torch.log(power + gain * noise_power)


def spec_masks(x, generator, n_masks: int = 2):
    """SpecAugment masks, per image: n_masks frequency and n_masks time stripes set to its mean."""
    bands, frames = x.shape[-2:]
    for i in range(len(x)):
        fill = x[i].mean()
        for size, axis in ((max(1, bands // 8), 0), (max(1, frames // 10), 1)):
            length = x.shape[-2 + axis]
            for _ in range(n_masks):
                width = int(torch.randint(size + 1, (1,), generator=generator))
                start = int(torch.randint(max(1, length - width + 1), (1,), generator=generator))
                if axis == 0:
                    x[i, start : start + width, :] = fill
                else:
                    x[i, :, start : start + width] = fill
    return x
