"""Device choice and seeding for every torch job in sauti.

Why here: MODEL.device, FEATS.<kind>.device and the SSL/self-training sections accept the same
words as Nkululeko (cpu, cuda, cuda:N, gpu, auto). One resolver means one error message for a bad
value and the same behaviour everywhere; the words are checked without torch, at config time and
by the Snakemake rules' GPU resource, in sauti.config.device.
"""

from __future__ import annotations

import os
import random

import numpy as np

from sauti.config.device import check_device, gpu_index
from sauti.core.errors import SautiError
from sauti.ml.deep import require_torch


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
    index = gpu_index(word)
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
