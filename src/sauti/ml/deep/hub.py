"""Loading pretrained models by hub name or local folder, with one clear error when that fails.

Why: users online name a hub model (`facebook/wav2vec2-base`) and transformers downloads it;
offline users (and every test here) point at a local folder made with `save_pretrained`. Both
go through the same `from_pretrained` call, and a failure -- no network, a typo, a folder that
is not a model -- must end in one line naming the config key and the model, not a 60-line
traceback from huggingface_hub.
"""

from __future__ import annotations

import os
from pathlib import Path

from sauti.core.errors import SautiError


def is_local(name: str) -> bool:
    """A local model folder (what save_pretrained writes) rather than a hub name."""
    return Path(os.path.expanduser(str(name))).is_dir()


def load_failure_reason(exc: Exception) -> str:
    """The first line of a loader's error (at most 160 characters), else its type: hub, network,
    yaml and checkpoint errors can run to pages, and the user gets one line."""
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def from_pretrained(factory, name: str, key: str, **kwargs):
    """`factory.from_pretrained(name)` (a transformers class/Auto* class) or a SautiError."""
    source = os.path.expanduser(str(name))
    try:
        return factory.from_pretrained(source, **kwargs)
    except Exception as exc:  # transformers/hub raise many kinds (OSError, HFValidationError...)
        where = "the local folder" if is_local(source) else "the Hugging Face hub"
        reason = load_failure_reason(exc)
        raise SautiError(
            f"{key} = {name!r}: could not load the model from {where} ({reason})",
            hint="give a hub name while online, or a local folder saved with save_pretrained() "
            "(set HF_HUB_OFFLINE=1 to use only the local cache)",
        ) from exc
