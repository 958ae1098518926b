"""The device words of MODEL.device, FEATS.<kind>.device, SSL, SEPARATE and PREDICT, checked
without torch.

Why in config: a typo in a device must stop `sauti check` before any job starts, and the
Snakemake rules use `wants_gpu` to declare a GPU resource only for jobs that will really use
one; both run where torch is not imported (sauti.ml.deep.device turns a word into a torch
device in the job).
"""

from __future__ import annotations

import re

from sauti.core.errors import SautiError

DEVICE_WORDS = ("cpu", "cuda", "cuda:N", "gpu", "auto")
_CUDA_N = re.compile(r"^cuda:(\d+)$")


def check_device(value, key: str = "MODEL.device") -> str:
    """Validate a device word without importing torch (config time); return it normalised."""
    word = str(value).strip().lower()
    if word in ("cpu", "cuda", "gpu", "auto") or _CUDA_N.match(word):
        return word
    raise SautiError(
        f"{key} = {value!r} is not a device",
        hint=f"use one of {', '.join(DEVICE_WORDS)} (N = GPU index, e.g. cuda:1)",
    )


def wants_gpu(value) -> bool:
    """True when the setting asks for a GPU (auto counts: on a GPU node it will use one)."""
    word = check_device(value)
    return word != "cpu"


def gpu_index(word: str) -> int:
    """The GPU a checked word names: N of cuda:N, else 0 (cuda, gpu)."""
    match = _CUDA_N.match(word)
    return int(match.group(1)) if match else 0
