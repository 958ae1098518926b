"""Where a result came from: the environment, the code and the data, recorded with the result.

Why: a metrics.json on its own cannot say whether a later run with other numbers used other
data, other library versions or other code. The report stage writes this record into
metrics.json and report.html: the digest of the lock files (requirements/*.txt, when sauti runs
from a checkout that has them), the versions of the key libraries, the sauti git commit (when in
a checkout; "+dirty" when tracked files differ from it) and the content digests of every
database the experiment read (sauti.core.digests).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sauti import __version__
from sauti.core.digests import hash_bytes
from sauti.core.versions import key_libraries

#: The checkout holding src/sauti (absent parts are simply not recorded).
CHECKOUT = Path(__file__).resolve().parents[3]


def lock_digest(folder: Path = CHECKOUT / "requirements") -> str | None:
    """Digest of the lock files (names and contents), None without any."""
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        return None
    return hash_bytes(*(part for f in files for part in (f.name, f.read_bytes())))


def git_commit(checkout: Path = CHECKOUT) -> str | None:
    """The checkout's commit, "+dirty" when tracked files differ; None outside a git checkout."""
    if not (checkout / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def record(inputs: dict) -> dict:
    """The provenance of one result; `inputs`: {database: its content digests}."""
    return {
        "sauti": {"version": __version__, "commit": git_commit()},
        "lock": lock_digest(),
        "libraries": key_libraries(),
        "inputs": inputs,
    }
