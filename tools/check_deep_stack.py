"""Check in one line that the deep stack imports: torch, torchaudio, speechbrain.

Why: a torch/torchaudio pair that does not load together (e.g. torchaudio 2.11.1 beside torch
2.11.0: `undefined symbol` in libtorchaudio.so) otherwise shows up as collection errors deep in
pytest's output. `make test` runs this first, so a broken install stops with one line that names
the package and the error, before any test runs.

Usage: python tools/check_deep_stack.py   (exit 0 and "deep stack OK: ..." or exit 1)
"""

from __future__ import annotations

import importlib
import sys
import warnings
from importlib import metadata

PACKAGES = ("torch", "torchaudio", "speechbrain")
HINT = (
    "install the locked versions: pip install --require-hashes --no-deps -r requirements/deep.txt"
)


def installed(name: str) -> str:
    """The package with its installed version (from its metadata: works when import fails)."""
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{name} (not installed)"


def reason(err: BaseException) -> str:
    """The innermost cause in one line: torchaudio wraps the loader's `undefined symbol` error
    in a generic "Could not load this library"."""
    while err.__cause__ is not None:
        err = err.__cause__
    return " ".join(str(err).split()) or type(err).__name__


def main() -> int:
    versions = []
    for name in PACKAGES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # speechbrain warns about optional extras
                module = importlib.import_module(name)
        except Exception as err:  # an ImportError, or an OSError from a shared library
            print(f"deep stack broken: {installed(name)} does not import: {reason(err)} ({HINT})")
            return 1
        versions.append(f"{name} {getattr(module, '__version__', '?')}")
    print(f"deep stack OK: {', '.join(versions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
