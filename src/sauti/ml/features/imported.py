"""Imported features (kind "import"): numbers computed elsewhere, read from a user's CSV.

Why: users often have features from another tool (a vendor toolkit, an embedding model run on
another machine) and want sauti's experiment machinery on them. The CSV names its audio with a
`file` column (relative to the CSV's folder, so a corpus folder can be moved as a whole), and
optionally `start`/`end` when it holds several segments per file. Every other numeric column
is a feature; text columns (e.g. a label the user kept) are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core.errors import SautiError

KEY = "FEATS.import_file"
TIME_COLUMNS = ("start", "end")
TIME_DECIMALS = 3  # ms precision: times written by different tools rarely agree beyond that


def extract(samples: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Feature rows of the CSV matched to `samples`, in the samples' order (unprefixed names)."""
    path = _csv_path(params)
    table = _read(path)
    features = _feature_columns(table, path)
    use_times = _has_times(table) and _has_times(samples)
    csv_keys = _keys(table, path.parent, use_times)
    _check_unique(csv_keys, path)
    sample_keys = _keys(samples, None, use_times)
    _check_complete(sample_keys, csv_keys, path, use_times)
    matched = features.set_axis(csv_keys).reindex(sample_keys)
    _check_not_empty(matched, sample_keys, path)
    return matched.reset_index(drop=True)


def _has_times(table: pd.DataFrame) -> bool:
    """Segments are matched on start/end only if both sides give them (an empty column = no)."""
    return all(c in table.columns and table[c].notna().any() for c in TIME_COLUMNS)


def _csv_path(params: dict) -> Path:
    value = params.get("import_file")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SautiError(
            f"{KEY} is not set but the feature type is 'import'",
            hint="set it to a CSV with a 'file' column and one numeric column per feature",
        )
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def _read(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except Exception as exc:  # missing file, directory, bad encoding, parser error...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SautiError(
            f"{KEY} {path}: cannot read CSV ({first})",
            hint="check the path (relative paths are resolved against the working directory)",
        ) from exc
    if "file" not in table.columns:
        raise SautiError(
            f"{KEY} {path}: no 'file' column (columns: {', '.join(map(str, table.columns))})",
            hint="the CSV needs a 'file' column naming each audio file",
        )
    return table


def _feature_columns(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """All numeric columns except the key columns, as float64."""
    keys = {"file", *TIME_COLUMNS}
    names = [c for c in table.columns if c not in keys and pd.api.types.is_numeric_dtype(table[c])]
    if not names:
        raise SautiError(
            f"{KEY} {path}: no numeric feature columns besides file/start/end",
            hint="every column other than file, start and end should hold one numeric feature",
        )
    return table[names].astype(np.float64)


def _keys(table: pd.DataFrame, base: Path | None, use_times: bool) -> pd.Index:
    """Join keys as readable text: "<absolute file>" or "<absolute file> [start-end s]".

    Text keys make NaN times and float noise harmless (times are formatted to ms) and double
    as the example shown in error messages. `base` is the folder that relative paths are
    relative to (the CSV's folder); None resolves against the working directory.
    """
    files = [_absolute(f, base) for f in table["file"]]
    if not use_times:
        return pd.Index(files, dtype=object)
    start, end = (_ms(table[c]) for c in TIME_COLUMNS)
    return pd.Index([f"{f} [{s}-{e} s]" for f, s, e in zip(files, start, end, strict=True)])


def _ms(times: pd.Series) -> list[str]:
    seconds = pd.to_numeric(times, errors="coerce")
    return ["" if pd.isna(t) else f"{t:.{TIME_DECIMALS}f}" for t in seconds]


def _absolute(name, base: Path | None) -> str:
    path = Path(str(name)).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path.resolve())


def _check_unique(csv_keys: pd.Index, path: Path) -> None:
    duplicated = csv_keys[csv_keys.duplicated()]
    if len(duplicated):
        raise SautiError(
            f"{KEY} {path}: {len(duplicated)} rows repeat an earlier file/segment, "
            f"e.g. {duplicated[0]}",
            hint="each audio file (or segment) may appear only once",
        )


def _check_complete(sample_keys: pd.Index, csv_keys: pd.Index, path: Path, use_times) -> None:
    missing = sample_keys[~sample_keys.isin(csv_keys)]
    if len(missing):
        how = "file, start and end (to ms)" if use_times else "file"
        raise SautiError(
            f"{KEY} {path}: {len(missing)} of {len(sample_keys)} samples have no "
            f"features, e.g. {missing[0]}",
            hint=f"rows are matched on {how}; relative paths in the CSV are relative to its folder",
        )


def _check_not_empty(matched: pd.DataFrame, sample_keys: pd.Index, path: Path) -> None:
    """A sample whose every feature cell is empty has, in effect, no features."""
    empty = np.flatnonzero(matched.isna().all(axis=1).to_numpy())
    if empty.size:
        raise SautiError(
            f"{KEY} {path}: {empty.size} samples have only empty feature values, "
            f"e.g. {sample_keys[empty[0]]}",
            hint="fill in the features or drop those rows from the samples",
        )
