"""Device choice and seeding for every torch job in sauti.

Why here: MODEL.device, FEATS.<kind>.device and the SSL/self-training sections accept the same
words as Nkululeko (cpu, cuda, cuda:N, gpu, auto). One resolver means one error message for a bad
value and the same behaviour everywhere, and the Snakemake rules use `wants_gpu` to declare a GPU
resource only for jobs that will really use one.
"""

from __future__ import annotations

import os
import random
import re

import numpy as np

from sauti.core.errors import SautiError
from sauti.ml.deep import require_torch

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


def resolve_device(value, key: str = "MODEL.device"):
    """Return a torch.device for the setting; asking for a GPU that is not there is an error.

    `auto` quietly falls back to the CPU; `cuda`/`gpu`/`cuda:N` do not, because silently training
    on the CPU for hours when the user asked for a GPU is worse than stopping at once.
    """
    word = check_device(value, key)
    torch = require_torch(f"{key} = {value}")
    if word == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if word == "auto":
        return torch.device("cuda" if available else "cpu")
    if not available:
        raise SautiError(
            f"{key} = {value!r} but no CUDA GPU is visible to torch",
            hint="set it to cpu or auto, or run on a GPU node (profiles/slurm)",
        )
    index = int(_CUDA_N.match(word).group(1)) if _CUDA_N.match(word) else 0
    if index >= torch.cuda.device_count():
        raise SautiError(
            f"{key} = {value!r} but only {torch.cuda.device_count()} GPU(s) are visible",
            hint="use a smaller index, or cuda to take the first GPU",
        )
    return torch.device(f"cuda:{index}")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch so CPU runs repeat exactly (cuDNN kernels may still vary)."""
    torch = require_torch("seeding")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
