"""Atomic file writing: a killed job never leaves a half-written file that looks finished.

Everything sauti writes goes to a temporary sibling first and is renamed into place with
os.replace, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared on clusters
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def copy_file(source: str | Path, target: str | Path) -> None:
    """Copy through a temporary sibling, so a killed job never leaves a truncated copy."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(Path(source).read_bytes())


def publish_images(
    images: list[dict], source_dir: str | Path, target_dir: str | Path
) -> list[dict]:
    """Copy the figures of an images manifest ([{file, caption}]) from a stage's cache folder to
    a results folder; return the entries with their new `path` (what reports embed)."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    published = []
    for image in images:
        name = Path(image["file"]).name
        copy_file(Path(source_dir) / image["file"], target_dir / name)
        published.append({**image, "path": str(target_dir / name)})
    return published


def read_json(path: str | Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_table(path: str | Path, table: pd.DataFrame) -> None:
    """Write a table as parquet (.parquet) or CSV (.csv), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)


def write_round_table(out_dir: str | Path, table: pd.DataFrame, plot_name: str, plot) -> None:
    """rounds.csv, rounds.md and the plot `plot_name` (drawn by `plot(table, path)`) of a
    round-by-round method (SELFTRAIN, SEPARATE): one table a person reads, one a script reads."""
    out = Path(out_dir)
    with atomic_path(out / "rounds.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_text(out / "rounds.md", markdown_table(table))
    with atomic_path(out / plot_name) as tmp:
        plot(table, tmp)


def markdown_table(table: pd.DataFrame) -> str:
    """A Markdown table: floats with 3 decimals, missing values as a dash."""

    def cell(value):
        if pd.isna(value):
            return "–"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
