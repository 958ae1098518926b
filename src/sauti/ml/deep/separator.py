"""The voice/background separator of SEPARATE: a U-Net on the magnitude STFT predicting a soft
voice mask, its training with on-the-fly remixing, and applying it to recordings.

Why a mask on the magnitude: the network only has to decide, per time-frequency cell, how much
of the mixture is voice (a number in [0, 1]); the mixture's phase is reused for the voice, which
is what the spectrogram U-Nets of the method (PoCoNet-style) do. The mask is a sigmoid, so the
voice estimate can never be louder than the mixture in any cell.

Loss: L1 between the masked mixture magnitude and the clean voice's magnitude, plus L1 between
the resynthesised voice waveform and the clean voice (the waveform term sees the phase the
estimate will really be played with). Both terms are scaled by the clip's mixture level, so
quiet and loud clips weigh alike.

Training data are (voice, background) pairs of equal length. Without `remix`, a batch is a
random crop of each pair summed as it is (the labelled mixtures as made: how the teacher
learns). With `remix` (the noise of the noisy student), every example pairs a random voice with
a random background, each with its own random gain (SNR_RANGE) and circular time shift, so the
student never sees the same mixture twice.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from sauti.core.fileio import atomic_path
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import resolve_device, seed_everything

log = logging.getLogger("sauti.ml.deep")

N_FFT = 512  # 32 ms at 16 kHz: 257 frequency bins
HOP = 256  # 50 % overlap (a Hann window sums to a constant): half the frames of 75 %
#: SNRs (dB) drawn when remixing: the range of the corpus's mixtures.
SNR_RANGE = (-5.0, 10.0)
#: Recordings longer than this are separated in pieces (bounds the U-Net's memory).
CHUNK_SECONDS = 30.0


@dataclass
class TrainSettings:
    """The SEPARATE keys that drive one training run (defaults match config.schema.yaml)."""

    steps: int = 300
    batch_size: int = 8
    learning_rate: float = 1e-3
    segment: float = 2.0  # seconds per training crop
    remix: bool = False
    device: str = "cpu"
    seed: int = 42
    # CPU threads: 1, like every Snakemake job here; torch's default (all cores) is several
    # times slower on a shared machine, where the threads wait for each other
    threads: int = 1


def _torch():
    return require_torch("SEPARATE")


def build_unet(channels: int, depth: int):
    """A U-Net over (frequency, time) of the log-magnitude: `depth` levels, `channels` filters
    on the first level doubling per level; returns a module mapping a magnitude [B, F, T] to a
    mask [B, F, T] in [0, 1]."""
    torch = _torch()
    nn = torch.nn

    def block(c_in, c_out):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.1),
            nn.Conv2d(c_out, c_out, 3, padding=1),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.1),
        )

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [channels * 2**i for i in range(depth + 1)]
            self.depth = depth
            self.down = nn.ModuleList(
                [block(1, widths[0])] + [block(widths[i], widths[i + 1]) for i in range(depth)]
            )
            self.up = nn.ModuleList(
                [nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth)]
            )
            self.merge = nn.ModuleList([block(2 * widths[i], widths[i]) for i in range(depth)])
            self.head = nn.Conv2d(widths[0], 1, 1)

        def forward(self, magnitude):
            x = torch.log1p(magnitude)[:, None]
            f, t = x.shape[-2:]
            m = 2**self.depth  # pad to a multiple of 2**depth, crop back at the end
            x = nn.functional.pad(x, (0, (-t) % m, 0, (-f) % m))
            skips = []
            for i, layer in enumerate(self.down):
                x = layer(x if i == 0 else nn.functional.max_pool2d(x, 2))
                skips.append(x)
            x = skips.pop()
            for i in reversed(range(self.depth)):
                x = self.merge[i](torch.cat([self.up[i](x), skips.pop()], dim=1))
            return torch.sigmoid(self.head(x))[:, 0, :f, :t]

    return UNet()


def stft(wave):
    torch = _torch()
    window = torch.hann_window(N_FFT, device=wave.device)
    return torch.stft(wave, N_FFT, HOP, window=window, return_complex=True)


def istft(spec, length: int):
    torch = _torch()
    window = torch.hann_window(N_FFT, device=spec.device)
    return torch.istft(spec, N_FFT, HOP, window=window, length=length)


def estimate(net, mixture):
    """Voice waveform [B, N] and the mask [B, F, T] for mixture waveforms [B, N]."""
    spec = stft(mixture)
    mask = net(spec.abs())
    return istft(spec * mask, mixture.shape[-1]), mask


def loss(net, mixture, voice):
    """L1 on the masked magnitude plus L1 on the waveform, each over the mixture's level."""
    torch = _torch()
    spec = stft(mixture)
    mask = net(spec.abs())
    level = spec.abs().mean(dim=(1, 2)).clamp_min(1e-5)
    spec_term = (mask * spec.abs() - stft(voice).abs()).abs().mean(dim=(1, 2)) / level
    wave = istft(spec * mask, mixture.shape[-1])
    scale = mixture.abs().mean(dim=1).clamp_min(1e-5)
    wave_term = (wave - voice).abs().mean(dim=1) / scale
    return torch.mean(spec_term + wave_term)


def batch(voices: list, backgrounds: list, size: int, length: int, remix: bool, rng):
    """A training batch (mixture, voice) as float32 arrays [size, length] (module docstring)."""
    mix = np.empty((size, length), dtype=np.float32)
    target = np.empty((size, length), dtype=np.float32)
    for b in range(size):
        i = int(rng.integers(len(voices)))
        j = int(rng.integers(len(backgrounds))) if remix else i
        voice, background = voices[i], backgrounds[j]
        start = int(rng.integers(0, max(1, len(voice) - length + 1)))
        v = _fit(voice[start : start + length], length)
        if remix:
            other = int(rng.integers(0, max(1, len(background) - length + 1)))
            g = _fit(background[other : other + length], length)
            v = np.roll(v, int(rng.integers(length)))
            g = np.roll(g, int(rng.integers(length)))
            snr = rng.uniform(*SNR_RANGE)
            ev, eg = float(np.sum(v**2)) + 1e-9, float(np.sum(g**2)) + 1e-9
            g = g * math.sqrt(ev / eg / 10 ** (snr / 10))
            gain = 10 ** (rng.uniform(-6, 3) / 20) / max(1e-3, float(np.abs(v + g).max()) / 0.9)
            v, g = v * gain, g * gain
        else:
            g = _fit(background[start : start + length], length)
        mix[b], target[b] = v + g, v
    return mix, target


def _fit(x: np.ndarray, length: int) -> np.ndarray:
    return x if len(x) == length else np.pad(x, (0, length - len(x)))


def train(voices: list, backgrounds: list, size: dict, settings: TrainSettings, net=None):
    """Train a U-Net of `size` ({channels, depth}) on (voice, background) pairs; returns the
    network (on the CPU, eval mode) and a history dict (loss per step, steps per second).
    `net`: start from these weights instead of a new network."""
    torch = _torch()
    torch.set_num_threads(max(1, int(settings.threads)))
    seed_everything(settings.seed)
    device = resolve_device(settings.device, "SEPARATE.device")
    net = (net or build_unet(int(size["channels"]), int(size["depth"]))).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    rng = np.random.default_rng(settings.seed)
    length = int(settings.segment * 16000)
    losses, started = [], time.perf_counter()
    net.train()
    for _ in range(settings.steps):
        mix, voice = batch(voices, backgrounds, settings.batch_size, length, settings.remix, rng)
        optimiser.zero_grad()
        value = loss(net, torch.from_numpy(mix).to(device), torch.from_numpy(voice).to(device))
        value.backward()
        optimiser.step()
        losses.append(float(value.detach()))
    seconds = time.perf_counter() - started
    net.eval().cpu()
    log.info("separator: %d steps in %.1f s, loss %.3f -> %.3f", settings.steps, seconds,
             np.mean(losses[:10]), np.mean(losses[-10:]))  # fmt: skip
    return net, {"loss": losses, "steps_per_s": settings.steps / max(seconds, 1e-9)}


def separate(net, signal: np.ndarray, device: str = "cpu") -> np.ndarray:
    """The voice track of a 16 kHz mono signal (any length; long ones in CHUNK_SECONDS pieces)."""
    torch = _torch()
    chunk = int(CHUNK_SECONDS * 16000)
    target = resolve_device(device, "SEPARATE.device")
    net = net.to(target).eval()
    out = []
    with torch.inference_mode():
        for first in range(0, max(1, len(signal)), chunk):
            piece = np.asarray(signal[first : first + chunk], dtype=np.float32)
            if len(piece) < N_FFT:  # too short for one frame: nothing to separate
                out.append(piece)
                continue
            wave, _ = estimate(net, torch.from_numpy(piece)[None].to(target))
            out.append(wave[0].cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def save(net, size: dict, path) -> None:
    """Weights and size in one file (what `load` needs to rebuild the network)."""
    torch = _torch()

    with atomic_path(path) as tmp:
        torch.save({"size": dict(size), "state": net.state_dict()}, tmp)


def load(path):
    torch = _torch()
    bundle = torch.load(path, map_location="cpu", weights_only=True)
    net = build_unet(int(bundle["size"]["channels"]), int(bundle["size"]["depth"]))
    net.load_state_dict(bundle["state"])
    return net.eval()
