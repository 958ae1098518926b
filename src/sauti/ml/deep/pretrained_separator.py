"""SEPARATE.pretrained: a published separator instead of a trained one (SpeechBrain SepFormer).

Why SepFormer: SpeechBrain publishes one-source SepFormer models trained to pull speech out of
noise and music at 16 kHz (e.g. `speechbrain/sepformer-wham16k-enhancement`), the same job as
SEPARATE's U-Net, and sauti already depends on speechbrain. Users online give the hub name and
`from_hparams` downloads it; offline users (and the tests) give a local folder holding its
hyperparams.yaml and checkpoints. A failure -- no network, a typo, a folder that is not such a
model -- ends in one line naming SEPARATE.pretrained.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sauti.core.errors import SautiError
from sauti.ml.deep import require_torch
from sauti.ml.deep.device import resolve_device
from sauti.ml.deep.hub import load_failure_reason

KEY = "SEPARATE.pretrained"


def _savedir(name: str) -> str:
    """Where speechbrain links or downloads the model's files (one folder per name)."""
    root = os.environ.get("SAUTI_CACHE_DIR", os.path.expanduser("~/.cache/sauti"))
    return str(Path(root) / "pretrained" / re.sub(r"[^A-Za-z0-9_.-]+", "--", name.strip("/")))


def load_pretrained(name: str, device: str = "cpu"):
    """A function signal -> voice track from the SepFormer model `name` (hub name or folder)."""
    torch = require_torch(KEY)
    target = resolve_device(device, "SEPARATE.device")
    try:
        from speechbrain.inference.separation import SepformerSeparation
    except ImportError as exc:
        raise SautiError(f"{KEY} needs speechbrain", hint="install the deep extra") from exc
    source = os.path.expanduser(str(name))
    local = Path(source).is_dir()
    try:
        model = SepformerSeparation.from_hparams(
            source=os.path.abspath(source) if local else source,
            savedir=_savedir(os.path.abspath(source) if local else source),
            run_opts={"device": str(target)},
        )
        if model is None:
            raise ValueError("from_hparams returned nothing")
    except Exception as exc:  # hub, network, yaml and checkpoint errors: one line for all
        where = "the local folder" if local else "the Hugging Face hub"
        reason = load_failure_reason(exc)
        raise SautiError(
            f"{KEY} = {name!r}: could not load the separator from {where} ({reason})",
            hint="give a SpeechBrain SepFormer hub name while online, or a local folder with its "
            "hyperparams.yaml and checkpoints",
        ) from exc
    sources = int(getattr(model.hparams, "num_spks", 1))
    if sources != 1:
        raise SautiError(
            f"{KEY} = {name!r} separates {sources} sources, not voice from background",
            hint="use a one-source (enhancement) model, e.g. speechbrain/sepformer-wham16k-enhancement",
        )

    def separate(signal):
        import numpy as np

        with torch.inference_mode():
            batch = torch.from_numpy(np.asarray(signal, dtype=np.float32))[None]
            return model.separate_batch(batch)[0, :, 0].cpu().numpy()

    return separate
