"""Content digests of data files, remembered so that an unchanged file is read once ever.

Why: a cache key must say what the data *is*, not its name or file time (a recording copied over
another under the same name, or a CSV restored with `cp -p`, keeps its name and may keep its
time). Reading every audio file at each Snakemake start would be slow, so - as DVC does - the
digest of each file is stored with the file's (size, mtime_ns, inode) in a small SQLite state
file, `<root>/cache/digests.sqlite`, and re-read only when one of them changed. A `touch`
therefore costs one re-hash and gives the same digest, so no key changes.

The hash is xxHash's xxh3-128: non-cryptographic and made for this (several GB/s per core);
nobody forges audio files against a result cache. SQLite in WAL mode lets several Snakemake
processes and jobs share the state file; each writes its new rows in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import xxhash

#: The state file, under the experiment root's cache folder.
STATE_FILE = "digests.sqlite"
#: Digest of a file that does not exist or cannot be read (its job reports the problem).
MISSING = "missing"
_CHUNK = 1 << 20


def hash_bytes(*parts: bytes | str) -> str:
    """xxh3-128 hex digest of the parts (text as UTF-8), each ended by a NUL so that the
    boundaries count: ("ab", "c") and ("a", "bc") differ."""
    h = xxhash.xxh3_128()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def hash_file(path: str | os.PathLike) -> str:
    """xxh3-128 hex digest of a file's bytes, read in 1 MiB chunks."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class DigestState:
    """File digests of one experiment root, backed by `<root>/cache/digests.sqlite`.

    The whole table is read into memory once per process (20,000 rows take milliseconds);
    rows written by other processes meanwhile only cost a re-hash here, never a wrong digest,
    because a row is used only when path, size, mtime_ns and inode all match.
    """

    def __init__(self, root: str | os.PathLike):
        self.path = Path(root) / "cache" / STATE_FILE
        self._known: dict[str, tuple[int, int, int, str]] | None = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, inode INTEGER, digest TEXT)"
        )
        return connection

    def _load(self) -> dict[str, tuple[int, int, int, str]]:
        """The stored rows; an unreadable state file counts as empty (files are re-hashed:
        slower, never wrong)."""
        if self._known is None:
            self._known = {}
            if self.path.exists():
                try:
                    with self._closing() as connection:
                        rows = connection.execute(
                            "SELECT path, size, mtime_ns, inode, digest FROM digests"
                        )
                        self._known = {row[0]: tuple(row[1:]) for row in rows}
                except (sqlite3.Error, OSError):
                    self._known = {}
        return self._known

    def _closing(self):
        from contextlib import closing

        return closing(self._connect())

    def digests(self, paths) -> dict[str, str]:
        """{path: digest} for absolute `paths`; MISSING for a file that cannot be read."""
        known = self._load()
        out, new = {}, []
        for path in paths:
            try:
                signature = file_signature(path)
            except OSError:
                out[path] = MISSING
                continue
            row = known.get(path)
            if row is not None and row[:3] == signature:
                out[path] = row[3]
                continue
            try:
                digest = hash_file(path)
            except OSError:
                out[path] = MISSING
                continue
            out[path] = digest
            known[path] = (*signature, digest)
            new.append((path, *signature, digest))
        if new:
            self._store(new)
        return out

    def _store(self, rows: list[tuple]) -> None:
        """Write new rows in one transaction; a state file that cannot be written (read-only
        results folder) only costs re-hashing next time."""
        try:
            with self._closing() as connection, connection:
                connection.executemany(
                    "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)", rows
                )
        except (sqlite3.Error, OSError):
            pass


_STATES: dict[str, DigestState] = {}


def state(root: str | os.PathLike) -> DigestState:
    """The DigestState of an experiment root, one per process (DAG building asks many times)."""
    key = os.path.abspath(root)
    if key not in _STATES:
        _STATES[key] = DigestState(key)
    return _STATES[key]


def combined(digests: dict[str, str]) -> str:
    """One digest for a set of files: their sorted paths with their digests."""
    return hash_bytes(*(f"{path}\t{digests[path]}" for path in sorted(digests)))


def folder_digest(root: str | os.PathLike, folder: str | os.PathLike) -> str:
    """One digest for every file under `folder` (a local model folder): relative paths and
    contents, so a changed weight file re-keys the stages that use the model."""
    folder = Path(folder)
    files = sorted(str(p) for p in folder.rglob("*") if p.is_file())
    found = state(root).digests(files)
    return combined({os.path.relpath(p, folder): d for p, d in found.items()})


def file_signature(path) -> tuple[int, int, int]:
    """(size, mtime_ns, inode): a file whose signature is unchanged is taken as unchanged."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino
