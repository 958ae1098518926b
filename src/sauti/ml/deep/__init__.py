"""The neural side of sauti: torch models, embeddings and fine-tuning (the optional `deep` extra).

Why a sub-package: torch is not part of the base install (the classic pipeline needs none of it),
so everything that imports torch lives here and is imported lazily; `require_torch` turns a
missing install into one line that says how to get it.
"""

from __future__ import annotations

from sauti.core.errors import SautiError

INSTALL_HINT = "install the deep extra: pip install -e '.[deep]' (or `make deep`)"


def require_torch(what: str):
    """Import and return torch, or raise one SautiError naming the feature that needs it."""
    try:
        import torch
    except ImportError as exc:
        raise SautiError(f"{what} needs torch, which is not installed", hint=INSTALL_HINT) from exc
    return torch
