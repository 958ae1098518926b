"""Content digests of a database: what its samples are, what they sound like, what its table says.

Why here and not in sauti.core.digests: reading a database's file/start/end columns needs the
table readers of sauti.ml.data; the hashing and the digest state they use stay in core.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sauti.core.digests import combined, file_signature, hash_bytes, state
from sauti.core.errors import SautiError
from sauti.ml.data import ID, read_database


def database_content(name: str, spec: dict, root: str | os.PathLike) -> dict:
    """Content digests of one database (spec: its samples params, paths absolute):

    - `ids`: the file, start and end columns, in order (what the samples are),
    - `audio`: every referenced audio file's bytes (what they sound like),
    - `table`: the table file(s) themselves (labels and every other column).

    The first two key the samples stage (and so the features), `table` keys only the labels
    stage (and so the split): editing a label never re-extracts a feature. A database that cannot
    be read gives {"error": ...}: its samples job then stops with the reader's own message.
    """
    try:
        ids, audio_files, table_files = _read_ids(name, spec)
    except (SautiError, OSError, ValueError, KeyError) as err:
        return {"error": str(err).splitlines()[0] if str(err) else type(err).__name__}
    return {
        "ids": ids,
        "audio": combined(state(root).digests(audio_files)),
        "table": combined(state(root).digests(table_files)),
    }


#: (name, spec, the table files' stat) -> what _read_ids found: one DAG build asks for the same
#: database several times (each experiment of a grid, the SSL encoder, ...); the table is parsed
#: once per version of its files. The audio files are stat'ed on every call (sauti.core.digests state).
_TABLES: dict[tuple, tuple[str, list[str], list[str]]] = {}


def _read_ids(name: str, spec: dict) -> tuple[str, list[str], list[str]]:
    """(digest of the file/start/end columns, the audio files, the table files) of a database."""
    path = Path(spec["path"])
    kind = spec.get("type") or ("audformat" if path.is_dir() else "csv")
    listing = sorted(path.glob("db.*")) if kind == "audformat" else [path]
    stats = tuple((str(p), *file_signature(p)) for p in listing)
    key = (name, json.dumps(spec, sort_keys=True, default=str), stats)
    if key not in _TABLES:
        if kind == "audformat":
            ids, table_files = _audformat_ids(path, spec)
        else:
            ids, table_files = read_database(name, spec)[ID], [str(path)]
        rows = zip(ids["file"], ids["start"], ids["end"], strict=True)
        digest = hash_bytes("\n".join(f"{f}\t{s}\t{e}" for f, s, e in rows))
        _TABLES[key] = (digest, _unique(ids["file"]), table_files)
    return _TABLES[key]


def _unique(values) -> list[str]:
    """Unique values in first-seen order (dict keeps insertion order)."""
    return list(dict.fromkeys(values))


def _audformat_ids(path: Path, spec: dict):
    """file/start/end of every table of an audformat folder that has a file column, read as
    text with pandas (importing audformat would cost every Snakemake start a second), and the
    folder's header and table files. All tables, not only the wanted ones: a superset can only
    re-key too often, never miss a replaced file. Relative names resolve against the folder."""
    import pandas as pd

    tables = []
    table_files = [str(path / "db.yaml")] if (path / "db.yaml").exists() else []
    for file in sorted(path.glob("db.*.*")):
        if file.suffix not in (".csv", ".parquet"):
            continue
        table_files.append(str(file))
        frame = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file, dtype=str)
        frame = frame.reset_index() if "file" not in frame.columns else frame
        frame = frame.rename(columns=spec.get("colnames") or {})
        if "file" in frame.columns:
            tables.append(frame.reindex(columns=["file", "start", "end"]).astype(str))
    if not tables:
        raise ValueError(f"no table with a file column in {path}")
    ids = pd.concat(tables, ignore_index=True)
    ids["file"] = [os.path.normpath(f if os.path.isabs(f) else path / f) for f in ids["file"]]
    return ids, table_files


#: What each content digest of a database describes, for the error message.
_WHAT = {"ids": "its file/start/end columns", "audio": "its audio", "table": "its table"}


def check_unchanged(name: str, spec: dict, root: str | os.PathLike, expected: dict) -> None:
    """Stop with one line when the database's content no longer matches the digests the job's
    key was made from (the data changed while the workflow ran): writing would put results of
    the new data under the old data's key."""
    now = database_content(name, spec, root)
    changed = [k for k in expected if now.get(k) != expected[k]]
    if changed:
        what = " and ".join(_WHAT.get(k, k) for k in changed)
        raise SautiError(
            f"DATA.{name}: {spec['path']} changed while the workflow ran ({what})",
            hint="run the workflow again: the new content gets its own cache keys",
        )
