"""The data stages: load databases into a samples table, then select, label and split.

Two stages on purpose: `load_database` depends only on where the audio is (so features, which
are computed per database, survive any change of target, labels, filters or split), while
`select_and_split` is cheap and re-runs whenever those change. Every random choice is seeded
with EXP.random_seed, so the same config always gives the same split (Nkululeko defect 2).

A sample is identified by (file, start, end) in seconds; whole files have start 0 and end = the
file's duration, so every table in sauti can be joined on these three columns.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import audio
from .errors import SautiError

log = logging.getLogger("sauti.data")

ID = ["file", "start", "end"]
SPLITS = ("train", "dev", "test")
HINT_SKIP = "set DATA.skip_bad = True to drop such files with a warning"


# --------------------------------------------------------------------------- loading


def load_database(
    name: str, spec: dict, check_size: int = 0, skip_bad: bool = False
) -> pd.DataFrame:
    """Read one database (CSV or audformat) into a samples table with checked audio.

    Columns: file (absolute), start, end, duration, db, then the database's own columns.
    """
    path = Path(os.path.abspath(spec["path"]))
    kind = spec.get("type") or ("audformat" if path.is_dir() else "csv")
    if not path.exists():
        raise SautiError(
            f"DATA.{name}: {path} does not exist",
            hint="check the path (relative to the working directory)",
        )
    table = (
        _read_audformat(name, path, spec) if kind == "audformat" else _read_csv(name, path, spec)
    )
    table = table.rename(columns=spec.get("colnames") or {})
    if table.empty:
        raise SautiError(f"DATA.{name}: {path} has no rows")
    table = _check_audio(name, table, check_size, skip_bad)
    table.insert(4, "db", name)
    return table.reset_index(drop=True)


def _read_csv(name: str, path: Path, spec: dict) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except Exception as exc:
        raise SautiError(
            f"DATA.{name}: cannot read {path} as CSV ({str(exc).splitlines()[0]})"
        ) from exc
    table = table.rename(columns=spec.get("colnames") or {})
    if "file" not in table.columns:
        raise SautiError(
            f"DATA.{name}: {path} has no 'file' column (columns: {', '.join(map(str, table.columns))})",
            hint=f"rename the audio-path column to 'file' or map it with {name}.colnames",
        )
    base = Path(os.path.abspath(spec["audio_path"])) if spec.get("audio_path") else path.parent
    table["file"] = [_absolute(f, base) for f in table["file"]]
    for column in ("start", "end"):
        if column in table.columns:
            table[column] = _seconds(table[column])
        else:
            table[column] = 0.0 if column == "start" else np.nan
    return _id_first(table)


def _read_audformat(name: str, path: Path, spec: dict) -> pd.DataFrame:
    import audformat

    try:
        db = audformat.Database.load(str(path), load_data=True)
    except Exception as exc:
        raise SautiError(
            f"DATA.{name}: cannot load audformat database {path} ({str(exc).splitlines()[0]})"
        ) from exc
    wanted = set(spec.get("files_tables") or []) | set(spec.get("target_tables") or [])
    names = [t for t in db.tables if not wanted or t in wanted]
    if not names:
        raise SautiError(
            f"DATA.{name}: none of the tables {sorted(wanted)} exist in {path} (tables: {list(db.tables)})"
        )
    segmented, filewise = [], []
    for table_name in names:
        df = db[table_name].get()
        split = next((s for s in SPLITS if s in table_name.lower()), None)
        if split:
            df = df.assign(split=split)
        if isinstance(df.index, pd.MultiIndex):
            df = df.reset_index()
            df["start"] = df["start"].dt.total_seconds()
            df["end"] = df["end"].dt.total_seconds()
            segmented.append(df)
        else:
            filewise.append(df.reset_index())
    files = _combine(filewise, on=["file"])
    if segmented:
        table = _combine(segmented, on=ID)
        if files is not None:
            table = table.merge(
                files.drop(columns=[c for c in files if c in table and c != "file"]),
                on="file",
                how="left",
            )
    else:
        table = files.assign(start=0.0, end=np.nan)
    root = Path(db.root or path)
    table["file"] = [_absolute(f, root) for f in table["file"]]
    return _id_first(table)


def _combine(frames: list[pd.DataFrame], on: list[str]) -> pd.DataFrame | None:
    if not frames:
        return None
    table = frames[0]
    for frame in frames[1:]:
        shared = [c for c in frame.columns if c in table.columns and c not in on]
        if "split" in shared:  # rows of train/test tables are disjoint: stack them
            table = pd.concat([table, frame], ignore_index=True)
        else:
            table = table.merge(frame.drop(columns=shared), on=on, how="outer")
    return table


def _absolute(file: str, base: Path) -> str:
    return os.path.normpath(file if os.path.isabs(str(file)) else base / str(file))


def _seconds(column: pd.Series) -> pd.Series:
    if pd.api.types.is_timedelta64_dtype(column):
        return column.dt.total_seconds()
    if column.dtype == object or pd.api.types.is_string_dtype(
        column.dtype
    ):  # pandas 3 reads text as "str"
        converted = pd.to_timedelta(column, errors="coerce")
        if converted.notna().sum() >= column.notna().sum():
            return converted.dt.total_seconds()
    return pd.to_numeric(column, errors="coerce")


def _id_first(table: pd.DataFrame) -> pd.DataFrame:
    return table[ID + [c for c in table.columns if c not in ID]]


def _check_audio(name: str, table: pd.DataFrame, check_size: int, skip_bad: bool) -> pd.DataFrame:
    """Every referenced file must exist, be readable and hold audio; segments must fit in it."""
    problems: dict[str, list[str]] = {"missing": [], "unreadable": [], "empty": [], "too small": []}
    durations = {}
    for file in pd.unique(table["file"]):
        if not os.path.isfile(file):
            problems["missing"].append(file)
            continue
        if check_size and os.path.getsize(file) < check_size:
            problems["too small"].append(file)
            continue
        try:
            duration, _ = audio.info(file)
        except SautiError:
            problems["unreadable"].append(file)
            continue
        if duration <= 0:
            problems["empty"].append(file)
            continue
        durations[file] = duration
    n_files = table["file"].nunique()
    for kind, files in problems.items():
        if not files:
            continue
        message = f"DATA.{name}: {len(files)} of {n_files} audio files are {kind}, e.g. {files[0]}"
        if kind == "too small":
            log.warning("%s (DATA.check_size = %d bytes): dropped", message, check_size)
        elif skip_bad:
            log.warning("%s: dropped (DATA.skip_bad)", message)
        else:
            hint = {
                "missing": f"relative paths resolve against the CSV's folder or {name}.audio_path; "
            }.get(kind, "")
            raise SautiError(message, hint=hint + HINT_SKIP)
    table = table[table["file"].isin(durations)].copy()
    if table.empty:
        raise SautiError(
            f"DATA.{name}: no usable audio file left", hint="check the paths in the table"
        )
    table["end"] = table["end"].fillna(table["file"].map(durations))
    table["duration"] = table["end"] - table["start"]
    bad = (table["duration"] <= 0) | (table["end"] > table["file"].map(durations) + 0.01)
    if bad.any():
        first = table[bad].iloc[0]
        message = f"DATA.{name}: {int(bad.sum())} segments are empty or end after their file, e.g. {first['file']} [{first['start']}, {first['end']}]"
        if not skip_bad:
            raise SautiError(message, hint=HINT_SKIP)
        log.warning("%s: dropped (DATA.skip_bad)", message)
        table = table[~bad]
    return table


# --------------------------------------------------------------------------- selection and split


def select_and_split(tables: dict[str, pd.DataFrame], params: dict) -> pd.DataFrame:
    """Filter, label-map and split the databases; return one table with `split` in train/dev/test.

    params: target, labels, type, min_length, max_length, samples_per_speaker, random_seed,
    traindevtest and `databases`: {name: {split_strategy, test_size, dev_size, mapping, filter, balance}}.
    """
    seed = int(params["random_seed"])
    parts = []
    for name, table in tables.items():
        spec = params["databases"][name]
        table = _filter_rows(name, table, spec.get("filter") or [])
        table = _prepare_target(name, table, params, spec.get("mapping") or {})
        parts.append(table)
    data = pd.concat(parts, ignore_index=True)
    data = _filter_labels(data, params)
    data = _filter_length(data, params)
    data = _limit_per_speaker(data, params.get("samples_per_speaker"), seed)
    if data.empty:
        raise SautiError(
            "the selected data is empty after filtering",
            hint="check DATA.labels, filters and min/max_length",
        )
    dupes = data.duplicated(ID)
    if dupes.any():
        log.warning(
            "%d samples occur twice (same file, start, end); keeping the first", int(dupes.sum())
        )
        data = data[~dupes]
    split = pd.Series("train", index=data.index)
    for name in tables:
        rows = data.index[data["db"] == name]
        split[rows] = _split_database(name, data.loc[rows], params["databases"][name], params, seed)
    data["split"] = split
    _check_splits(data, params)
    return data.sort_values(ID, kind="stable").reset_index(drop=True)


def _filter_rows(name: str, table: pd.DataFrame, filters: list) -> pd.DataFrame:
    for entry in filters:
        column, values = entry[0], [str(v) for v in entry[1:]]
        if column not in table.columns:
            raise SautiError(
                f"DATA.{name}.filter: no column '{column}' (columns: {', '.join(table.columns)})"
            )
        table = table[table[column].astype(str).isin(values)]
    if table.empty:
        raise SautiError(f"DATA.{name}.filter {filters} leaves no samples")
    return table


def _prepare_target(name: str, table: pd.DataFrame, params: dict, mapping: dict) -> pd.DataFrame:
    target = params["target"]
    if target not in table.columns:
        raise SautiError(
            f"DATA.target: database '{name}' has no column '{target}' (columns: {', '.join(map(str, table.columns))})",
            hint=f"set DATA.target to one of its columns or rename with {name}.colnames",
        )
    table = table.copy()
    missing = table[target].isna()
    if missing.any():
        log.warning(
            "DATA.%s: %d samples without a '%s' value dropped", name, int(missing.sum()), target
        )
        table = table[~missing]
    if params["type"] == "regression":
        values = pd.to_numeric(table[target], errors="coerce")
        bad = values.isna()
        if bad.any():
            example = table.loc[bad, target].iloc[0]
            raise SautiError(
                f"DATA.target: {int(bad.sum())} values of '{target}' in '{name}' are not numbers, e.g. {example!r}",
                hint="EXP.type regression needs a numeric target; use classification for labels",
            )
        table[target] = values.astype(float)
        return table
    table[target] = table[target].map(_label_text)
    flat = {}
    for source, dest in mapping.items():
        for key in str(source).split(","):
            flat[key.strip()] = _label_text(dest)
    if flat:
        table[target] = table[target].map(lambda v: flat.get(v, v))
    return table


def _label_text(value) -> str:
    """Labels are strings everywhere (1 and 1.0 read from CSVs must be the same label)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _filter_labels(data: pd.DataFrame, params: dict) -> pd.DataFrame:
    labels = params.get("labels", "all")
    if params["type"] == "regression" or labels == "all":
        return data
    wanted = [_label_text(label) for label in labels]
    present = set(data[params["target"]])
    absent = [label for label in wanted if label not in present]
    if absent:
        raise SautiError(
            f"DATA.labels: label {absent[0]!r} does not occur in '{params['target']}' (found: {', '.join(sorted(present))})",
            hint="fix the label or add a DATA.<db>.mapping",
        )
    return data[data[params["target"]].isin(wanted)]


def _filter_length(data: pd.DataFrame, params: dict) -> pd.DataFrame:
    low, high = params.get("min_length"), params.get("max_length")
    keep = pd.Series(True, index=data.index)
    if low is not None:
        keep &= data["duration"] >= low
    if high is not None:
        keep &= data["duration"] <= high
    if not keep.all():
        log.info("min/max_length: %d of %d samples dropped", int((~keep).sum()), len(data))
    return data[keep]


def _limit_per_speaker(data: pd.DataFrame, limit, seed: int) -> pd.DataFrame:
    if not limit:
        return data
    _need_speaker(data, "DATA.samples_per_speaker")
    # not groupby().apply(): pandas >= 3 drops the grouping column ('speaker') from its result
    picked = [
        g.sample(n=min(len(g), int(limit)), random_state=seed) for _, g in data.groupby("speaker")
    ]
    return pd.concat(picked) if picked else data.iloc[:0]


def _need_speaker(data: pd.DataFrame, what: str) -> None:
    if "speaker" not in data.columns or data["speaker"].isna().all():
        raise SautiError(
            f"{what} needs a 'speaker' column", hint="add one or use split_strategy random"
        )


def _split_database(
    name: str, table: pd.DataFrame, spec: dict, params: dict, seed: int
) -> pd.Series:
    strategy = spec.get("split_strategy", "speaker_split")
    test_share = _share(spec.get("test_size", 20))
    dev_share = _share(spec["dev_size"]) if spec.get("dev_size") is not None else test_share
    with_dev = bool(params.get("traindevtest"))
    target, classification = params["target"], params["type"] == "classification"
    if isinstance(strategy, list):
        _need_speaker(table, f"DATA.{name}.split_strategy")
        wanted = {str(s) for s in strategy}
        unknown = wanted - set(table["speaker"].astype(str))
        if unknown:
            raise SautiError(
                f"DATA.{name}.split_strategy: unknown test speaker(s) {sorted(unknown)}"
            )
        return pd.Series(
            np.where(table["speaker"].astype(str).isin(wanted), "test", "train"), index=table.index
        )
    if strategy in ("train", "test"):
        return pd.Series(strategy, index=table.index)
    if strategy == "specified":
        if "split" not in table.columns:
            raise SautiError(
                f"DATA.{name}: split_strategy specified needs a 'split' column with train/dev/test"
            )
        values = table["split"].astype(str).str.lower()
        bad = ~values.isin(SPLITS)
        if bad.any():
            raise SautiError(
                f"DATA.{name}: {int(bad.sum())} rows have a split other than train/dev/test, e.g. {values[bad].iloc[0]!r}"
            )
        return values
    if strategy == "random":
        return _random_split(
            table,
            test_share,
            dev_share if with_dev else 0.0,
            target if classification else None,
            seed,
        )
    _need_speaker(table, f"DATA.{name}.split_strategy {strategy}")
    balance = [target] + list(spec.get("balance") or []) if strategy == "balanced" else None
    return _speaker_split(
        table,
        test_share,
        dev_share if with_dev else 0.0,
        target if classification else None,
        seed,
        balance,
    )


def _share(value) -> float:
    value = float(value)
    return value / 100.0 if value >= 1 else value


def _random_split(table, test_share, dev_share, stratify, seed) -> pd.Series:
    rng = np.random.default_rng(seed)
    split = pd.Series("train", index=table.index)
    groups = table.groupby(stratify).groups.values() if stratify else [table.index]
    for index in groups:
        order = rng.permutation(np.asarray(index))
        n_test = int(round(len(order) * test_share))
        n_dev = int(round(len(order) * dev_share))
        split[order[:n_test]] = "test"
        split[order[n_test : n_test + n_dev]] = "dev"
    return split


def _speaker_split(table, test_share, dev_share, stratify, seed, balance=None) -> pd.Series:
    """Speaker-disjoint split. For classification, speakers are drawn per majority label so every
    class reaches the test set where it can; `balanced` tries 200 seeded draws and keeps the one
    whose train/test label (and `balance` column) distributions differ least."""
    if balance is None:
        return _draw_speakers(table, test_share, dev_share, stratify, np.random.default_rng(seed))
    best, best_cost = None, np.inf
    rng = np.random.default_rng(seed)
    for _ in range(200):
        split = _draw_speakers(table, test_share, dev_share, stratify, rng)
        cost = sum(_distance(table[c], split) for c in balance if c in table.columns)
        cost += abs((split == "test").mean() - test_share)
        if cost < best_cost:
            best, best_cost = split, cost
    return best


def _draw_speakers(table, test_share, dev_share, stratify, rng) -> pd.Series:
    speakers = table.groupby("speaker").size()
    if len(speakers) < 2:
        raise SautiError(
            "a speaker-independent split needs at least 2 speakers",
            hint="use split_strategy random",
        )
    if stratify:
        major = table.groupby("speaker")[stratify].agg(lambda s: s.value_counts().index[0])
        strata = [sorted(major.index[major == label]) for label in sorted(major.unique())]
    else:
        strata = [sorted(speakers.index)]
    roles = {}
    for stratum in strata:
        order = [stratum[i] for i in rng.permutation(len(stratum))]
        n_test = _count(len(order), test_share, keep_train=True)
        n_dev = (
            _count(len(order) - n_test, dev_share / max(1e-9, 1 - test_share), keep_train=True)
            if dev_share
            else 0
        )
        for i, speaker in enumerate(order):
            roles[speaker] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return table["speaker"].map(roles)


def _count(n: int, share: float, keep_train: bool) -> int:
    """Speakers to draw: at least one when share > 0 and n allows, never all of them."""
    if share <= 0 or n < 2:
        return 0
    return int(min(n - 1 if keep_train else n, max(1, round(n * share))))


def _distance(column: pd.Series, split: pd.Series) -> float:
    train = column[split == "train"].astype(str).value_counts(normalize=True)
    test = column[split == "test"].astype(str).value_counts(normalize=True)
    return 0.5 * train.sub(test, fill_value=0).abs().sum()


def _check_splits(data: pd.DataFrame, params: dict) -> None:
    counts = data["split"].value_counts()
    for needed in ("train", "test") + (("dev",) if params.get("traindevtest") else ()):
        if counts.get(needed, 0) == 0:
            raise SautiError(
                f"the {needed} split is empty ({len(data)} samples, splits: {dict(counts)})",
                hint="check split_strategy/test_size, or add a database with that role",
            )
    if params["type"] == "classification":
        train_labels = set(data.loc[data["split"] == "train", params["target"]])
        unseen = sorted(set(data[params["target"]]) - train_labels)
        if unseen:
            raise SautiError(
                f"label(s) {unseen} occur only outside the train split",
                hint="use more speakers, another split, or drop the label via DATA.labels",
            )


def summary(data: pd.DataFrame, target: str, classification: bool) -> dict:
    """Counts for the report: samples per split and label, speakers and duration per split."""
    per_split_label = (
        data.groupby([target, "split"]).size().unstack(fill_value=0).to_dict()
        if classification
        else {}
    )
    return {
        "per_split_label": per_split_label,
        "samples": data["split"].value_counts().to_dict(),
        "speakers": data.groupby("split")["speaker"].nunique().to_dict()
        if "speaker" in data
        else {},
        "duration_s": data.groupby("split")["duration"].sum().round(1).to_dict(),
        "databases": data.groupby("db")["file"].nunique().to_dict(),
    }
