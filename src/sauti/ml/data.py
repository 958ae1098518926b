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

from sauti.config.nkululeko import (
    filters as filter_list,  # Nkululeko's forms: [[col, [v, ...]]], {col: v}
)
from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.paths import corpus_build_command
from sauti.ml.drops import DropLog

log = logging.getLogger("sauti.ml.data")

ID = ["file", "start", "end"]
SPLITS = ("train", "dev", "test")


# --------------------------------------------------------------------------- loading


def load_database(
    name: str,
    spec: dict,
    check_size: int = 0,
    skip_bad: bool | None = None,
    drops: DropLog | None = None,
) -> pd.DataFrame:
    """Read one database (CSV or audformat) into a samples table with checked audio.

    Columns: file (absolute), start, end, duration, db, then the database's own columns.
    `skip_bad`: drop unusable audio (True), stop (False) or drop up to 1 % (None). What is
    dropped goes to `drops` (sauti.ml.drops).
    """
    table = read_database(name, spec)
    return with_labels(table, audio_samples(name, table, check_size, skip_bad, drops))


def audio_samples(
    name: str,
    table: pd.DataFrame,
    check_size: int = 0,
    skip_bad: bool | None = None,
    drops: DropLog | None = None,
) -> pd.DataFrame:
    """The samples stage's table: the usable rows of `table` (read_database) with audio
    checked: file, start, end (filled), duration, db and `row`, the row's position in `table`.
    No label column: the samples stage (and so the features) is keyed by the audio alone, and
    the labels stage joins the other columns back by `row` (sauti.workflow.plan, with_labels)."""
    rows = table[ID].assign(row=np.arange(len(table)))
    checked = _check_audio(name, rows, check_size, skip_bad, drops or DropLog("samples"))
    return checked.assign(db=name)[[*ID, "duration", "db", "row"]].reset_index(drop=True)


def with_labels(table: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """`samples` (audio_samples of `table`) with the table's other columns joined back by row."""
    labelled = table.iloc[samples["row"].to_numpy()].reset_index(drop=True)
    labelled["end"] = samples["end"].to_numpy()
    labelled["duration"] = samples["duration"].to_numpy()
    labelled.insert(4, "db", samples["db"].to_numpy())
    return labelled


def read_database(name: str, spec: dict) -> pd.DataFrame:
    """The database's table as written (file absolute, start and end in seconds, end NaN for
    whole files), no audio read: what its content digests and the samples stage start from."""
    path = Path(os.path.abspath(spec["path"]))
    kind = spec.get("type") or ("audformat" if path.is_dir() else "csv")
    if not path.exists():
        raise SautiError(
            f"DATA.{name}: {path} does not exist",
            hint=(  # a shipped example's corpus not built yet: the command that builds it
                f"build it with: {corpus_build_command(path)}"
                if corpus_build_command(path)
                else "check the path (relative to the working directory)"
            ),
        )
    table = (
        _read_audformat(name, path, spec) if kind == "audformat" else _read_csv(name, path, spec)
    )
    table = table.rename(columns=spec.get("colnames") or {})
    if table.empty:
        raise SautiError(f"DATA.{name}: {path} has no rows")
    return table


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
    table["file"] = [_csv_file(f, base) for f in table["file"]]
    for column in ("start", "end"):
        if column in table.columns:
            table[column] = _seconds(table[column])
        else:
            table[column] = 0.0 if column == "start" else np.nan
    return _id_first(table)


def _read_audformat(name: str, path: Path, spec: dict) -> pd.DataFrame:
    """An audformat database as Nkululeko reads it: the tables it names (files_tables,
    target_tables and the train/dev/test tables; every table when none is named), their
    columns plus the fields of their schemes (a `speaker` column whose scheme maps speakers to
    gender and age brings `gender` and `age`), one row per file or segment. `split` comes from
    the train/dev/test tables (split_strategy specified), else from each table's split_id
    (or, failing that, its name)."""
    import audformat

    try:
        db = audformat.Database.load(str(path), load_data=True)
    except Exception as exc:
        raise SautiError(
            f"DATA.{name}: cannot load audformat database {path} ({str(exc).splitlines()[0]})"
        ) from exc
    split_tables = {s: list(spec.get(f"{s}_tables") or []) for s in SPLITS}
    named = [*(spec.get("files_tables") or []), *(spec.get("target_tables") or [])]
    named += [t for s in SPLITS for t in split_tables[s]]
    missing = [t for t in named if t not in db.tables]
    if missing:
        raise SautiError(
            f"DATA.{name}: no table {', '.join(map(repr, missing))} in {path} (tables: {', '.join(db.tables)})"
        )
    names = list(dict.fromkeys(named)) or list(db.tables)
    segmented, filewise = [], []
    for table_name in names:
        df = _read_table(db, table_name)
        split = _table_split(db, table_name, split_tables)
        if split:
            df = df.assign(split=split)
        if "start" in df.columns:
            segmented.append(df)
        else:
            filewise.append(df)
    files = _coalesce(filewise, on=["file"])
    if segmented:
        table = _coalesce(segmented, on=ID)
        if files is not None:
            table = table.merge(
                files.drop(columns=[c for c in files if c in table and c != "file"]),
                on="file",
                how="left",
            )
    else:
        table = files.assign(start=0.0, end=np.nan)
    if named:  # as Nkululeko's db.get: speaker, gender, age ... from the other file tables too
        others = [_read_table(db, t) for t in db.tables if t not in names and _is_info(db, t)]
        more = _coalesce(others, on=["file"])
        if more is not None:
            table = table.merge(
                more.drop(columns=[c for c in more if c in table and c != "file"]),
                on="file",
                how="left",
            )
    root = Path(db.root or path)
    table["file"] = [_absolute(f, root) for f in table["file"]]
    return _id_first(table)


def _read_table(db, table_name: str) -> pd.DataFrame:
    """One table with its scheme fields, index as columns, times in seconds."""
    df = db[table_name].get(map=_scheme_fields(db, table_name)).reset_index()
    return df.apply(lambda c: c.dt.total_seconds() if pd.api.types.is_timedelta64_dtype(c) else c)


def _is_info(db, table_name: str) -> bool:
    """A filewise table that is no split (emodb's files and emotion tables)."""
    import audformat

    filewise = db[table_name].type == audformat.define.IndexType.FILEWISE
    return filewise and not _table_split(db, table_name, {})


def _scheme_fields(db, table_name: str) -> dict:
    """`map` for audformat's Table.get: each column whose scheme labels carry fields (a dict per
    label, or a misc table) keeps its value and gains the fields it does not have already."""
    table = db[table_name]
    out = {}
    for column_id, column in table.columns.items():
        scheme = db.schemes.get(column.scheme_id) if column.scheme_id else None
        if scheme is None or scheme.labels is None:
            continue
        if scheme.uses_table:
            fields = list(db[scheme.labels].columns)
        elif isinstance(scheme.labels, dict) and all(
            isinstance(v, dict) for v in scheme.labels.values()
        ):
            fields = list(dict.fromkeys(k for v in scheme.labels.values() for k in v))
        else:
            continue
        fields = [f for f in fields if f not in table.columns]
        if fields:
            out[column_id] = [column_id, *fields]
    return out


def _table_split(db, table_name: str, split_tables: dict) -> str | None:
    if any(split_tables.values()):
        return next((s for s in SPLITS if table_name in split_tables[s]), None)
    split_id = db[table_name].split_id
    if split_id and db.splits[split_id].type in SPLITS:
        return db.splits[split_id].type
    return next((s for s in SPLITS if s in table_name.lower()), None)


def _coalesce(frames: list[pd.DataFrame], on: list[str]) -> pd.DataFrame | None:
    """One row per `on` key from several tables: a column several tables hold (the target in
    both the emotion table and the train/test tables) takes the first value that is not NaN."""
    if not frames:
        return None
    stacked = pd.concat(frames, ignore_index=True)
    return stacked.groupby(on, sort=False, dropna=False).first().reset_index()


def _absolute(file: str, base: Path) -> str:
    return os.path.normpath(file if os.path.isabs(str(file)) else base / str(file))


def _csv_file(file: str, base: Path) -> str:
    """A CSV's file entry as an absolute path. A relative entry is read against the CSV's folder
    (or `audio_path`); where no file is there but one is relative to the working directory, that
    one, because Nkululeko (absolute_path = True, its default) reads entries against the working
    directory, and its users' CSVs are written that way."""
    resolved = _absolute(file, base)
    if not os.path.isabs(str(file)) and not os.path.exists(resolved) and os.path.exists(file):
        return os.path.abspath(file)
    return resolved


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


def _check_audio(
    name: str, table: pd.DataFrame, check_size: int, skip_bad: bool | None, drops: DropLog
) -> pd.DataFrame:
    """Every referenced file must exist and hold audio; segments must fit in their file.

    Unusable files (each with its reason, all listed in bad_audio.csv) and segments are dropped
    when DATA.skip_bad is true, or when it is null (the default) and they are at most 1 % of the
    database: one bad file must not stop a study of thousands; more is a problem to look at.
    """
    problems: dict[str, str] = {}
    small, durations = [], {}
    for file in pd.unique(table["file"]):
        size = os.path.getsize(file) if os.path.isfile(file) else None
        if size and check_size and size < check_size:
            small.append(file)
            continue
        duration, problems[file] = _audio_problem(file, size)
        if problems[file] is None:
            del problems[file]
            durations[file] = duration
    n_files = table["file"].nunique()
    if small:
        log.warning("DATA.%s: %d files smaller than DATA.check_size dropped", name, len(small))
        drops.record(name, f"DATA.check_size ({check_size} bytes: smaller files)", small, n_files,
                     unit="audio files", kind="selected")  # fmt: skip
    if problems:
        csv = drops.write_bad_audio(problems)
        reasons = set(problems.values())
        first = list(problems.items())[:5]
        if len(reasons) == 1:
            shown = f"{reasons.pop()}: " + ", ".join(f for f, _ in first)
        else:
            shown = "unusable: " + ", ".join(f"{f} ({why})" for f, why in first)
        message = f"DATA.{name}: {len(problems)} of {n_files} audio files are {shown}"
        message += f"{', ...' if len(problems) > 5 else ''}{f'; full list in {csv}' if csv else ''}"
        where = (  # a missing file is most often a relative path resolved against another folder
            f"relative paths resolve against the CSV's folder or {name}.audio_path, else the working directory; "
            if "missing" in problems.values()
            else ""
        )
        _allow_drop(message, len(problems), n_files, skip_bad, "files", where)
        for why in sorted(set(problems.values())):
            files = [f for f, w in problems.items() if w == why]
            drops.record(name, f"unusable audio: {why}", files, n_files, unit="audio files")
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
        message = f"DATA.{name}: {int(bad.sum())} of {len(table)} segments are empty or end after their file, e.g. {first['file']} [{first['start']}, {first['end']}]"
        _allow_drop(message, int(bad.sum()), len(table), skip_bad, "segments")
        drops.record_rows(table.assign(db=name), bad, "segment empty or after the end of its file")
        table = table[~bad]
    return table


BAD_SHARE = 0.01  # unusable files or segments dropped by default (DATA.skip_bad null)


def _allow_drop(
    message: str, n_bad: int, total: int, skip_bad: bool | None, what: str, hint: str = ""
) -> None:
    """Raise one line unless DATA.skip_bad allows dropping `n_bad` of `total`; else warn."""
    hint += "fix or remove them, or set DATA.skip_bad: true to go on without them"
    if skip_bad is None and n_bad > BAD_SHARE * total:
        raise SautiError(
            f"{message} ({100 * n_bad / total:.1f} % of the {what}: more than the "
            f"{100 * BAD_SHARE:.0f} % sauti drops by default)",
            hint=hint,
        )
    if skip_bad is False:
        raise SautiError(message + " (DATA.skip_bad: false)", hint=hint)
    log.warning(
        "%s: dropped (DATA.skip_bad %s)", message, "true" if skip_bad else "null: up to 1 %"
    )


#: Leading bytes of containers libsndfile does not read: such a file is audio in a codec sauti
#: cannot decode (convert it to wav or flac), not "not audio".
FOREIGN_AUDIO = {
    b"#!AMR": "AMR",
    b"\x1aE\xdf\xa3": "WebM/Matroska",
    b"0&\xb2u": "WMA/ASF",
    b"MAC ": "Monkey's Audio",
    b"wvpk": "WavPack",
}
#: Leading bytes of containers libsndfile reads: opening one fails on its header or its codec.
KNOWN_AUDIO = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b".snd", b"ID3", b"caff")
#: WAV format tags libsndfile decodes (PCM, ADPCM, float, A-law, mu-law, IMA, GSM, MP3, extensible).
WAV_CODECS = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0055, 0xFFFE}


def _audio_problem(file: str, size: int | None) -> tuple[float, str | None]:
    """(duration, None) for usable audio, else (0, the reason in a few words)."""
    if size is None:
        return 0.0, "missing"
    if size == 0:
        return 0.0, "empty (0 bytes)"
    try:
        duration, _ = audio.info(file)
    except SautiError as err:
        return 0.0, _unreadable_reason(file, str(err))
    return (duration, None) if duration > 0 else (0.0, "too short (no samples)")


def _unreadable_reason(file: str, error: str) -> str:
    with open(file, "rb") as handle:
        head = handle.read(64)
    for magic, kind in FOREIGN_AUDIO.items():
        if head.startswith(magic):
            return f"unsupported codec ({kind})"
    if head[4:8] == b"ftyp":
        return "unsupported codec (MP4/M4A/AAC)"
    if head.startswith((b"RIFF", b"RF64")) and head[12:16] == b"fmt ":
        tag = int.from_bytes(head[20:22], "little")
        if tag not in WAV_CODECS:
            return f"unsupported codec (WAV format 0x{tag:04x})"
    if head.startswith(KNOWN_AUDIO):
        detail = error.rsplit(": ", 1)[-1].strip(" ()")
        return f"unreadable header ({detail})"
    return "not audio"


# --------------------------------------------------------------------------- selection and split


def select_and_split(
    tables: dict[str, pd.DataFrame], params: dict, drops: DropLog | None = None
) -> pd.DataFrame:
    """Filter, label-map and split the databases; return one table with `split` in train/dev/test.

    params: target, labels, type, min_length, max_length, samples_per_speaker, random_seed,
    traindevtest and `databases`: {name: {split_strategy, test_size, dev_size, mapping, filter, balance}}.
    Every row left out is recorded in `drops` (sauti.ml.drops) with its reason.
    """
    seed = int(params["random_seed"])
    drops = drops or DropLog("split")
    parts = []
    for name, table in tables.items():
        spec = params["databases"][name]
        table = filter_rows(name, table, spec.get("filter") or [], drops)
        table = prepare_target(name, table, params, spec.get("mapping") or {}, drops)
        parts.append(table)
    data = pd.concat(parts, ignore_index=True)
    data = _filter_labels(data, params, drops)
    data = filter_length(data, params, drops)
    data = _limit_per_speaker(data, params.get("samples_per_speaker"), seed, drops)
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
        drops.record_rows(data, dupes, "the same sample twice (file, start, end)")
        data = data[~dupes]
    split = pd.Series("train", index=data.index)
    for name in tables:
        rows = data.index[data["db"] == name]
        split[rows] = _split_database(name, data.loc[rows], params["databases"][name], params, seed)
    data["split"] = split
    _check_splits(data, params)
    return data.sort_values(ID, kind="stable").reset_index(drop=True)


def filter_rows(
    name: str, table: pd.DataFrame, filters: list, drops: DropLog | None = None
) -> pd.DataFrame:
    def bad(why: str):
        raise SautiError(f"DATA.{name}.filter {filters!r}: {why} is not supported")

    for entry in filter_list(filters, bad):
        column, values = entry[0], [label_text(v) for v in entry[1:]]
        if column not in table.columns:
            raise SautiError(
                f"DATA.{name}.filter: no column '{column}' (columns: {', '.join(table.columns)})"
            )
        keep = table[column].map(label_text).isin(values)
        if drops is not None:  # asked for: counted as a selection, not as a drop
            drops.record_rows(
                table.assign(db=name), ~keep, f"DATA.{name}.filter {column} in {values}", "selected"
            )
        table = table[keep]
    if table.empty:
        raise SautiError(f"DATA.{name}.filter {filters} leaves no samples")
    return table


def prepare_target(
    name: str, table: pd.DataFrame, params: dict, mapping: dict, drops: DropLog | None = None
) -> pd.DataFrame:
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
        if drops is not None:
            drops.record_rows(table.assign(db=name), missing, f"no '{target}' label")
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
    table[target] = table[target].map(label_text)
    flat = {}
    for source, dest in mapping.items():
        for key in str(source).split(","):
            flat[key.strip()] = label_text(dest)
    if flat:
        table[target] = table[target].map(lambda v: flat.get(v, v))
    return table


def label_text(value) -> str:
    """Labels are strings everywhere (1 and 1.0 read from CSVs must be the same label)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _filter_labels(data: pd.DataFrame, params: dict, drops: DropLog | None = None) -> pd.DataFrame:
    labels = params.get("labels", "all")
    if params["type"] == "regression" or labels == "all":
        return data
    wanted = [label_text(label) for label in labels]
    present = set(data[params["target"]])
    absent = [label for label in wanted if label not in present]
    if absent:
        raise SautiError(
            f"DATA.labels: label {absent[0]!r} does not occur in '{params['target']}' (found: {', '.join(sorted(present))})",
            hint="fix the label or add a DATA.<db>.mapping",
        )
    keep = data[params["target"]].isin(wanted)
    others = sorted(set(data.loc[~keep, params["target"]]))
    if drops is not None:
        drops.record_rows(data, ~keep, f"label not in DATA.labels ({', '.join(others[:5])})")
    return data[keep]


def filter_length(data: pd.DataFrame, params: dict, drops: DropLog | None = None) -> pd.DataFrame:
    low, high = params.get("min_length"), params.get("max_length")
    short = data["duration"] < low if low is not None else pd.Series(False, index=data.index)
    long = data["duration"] > high if high is not None else pd.Series(False, index=data.index)
    keep = ~(short | long)
    if not keep.all():
        log.info("min/max_length: %d of %d samples dropped", int((~keep).sum()), len(data))
    if drops is not None:
        drops.record_rows(data, short, f"shorter than DATA.min_length ({low} s)")
        drops.record_rows(data, long, f"longer than DATA.max_length ({high} s)")
    return data[keep]


def _limit_per_speaker(
    data: pd.DataFrame, limit, seed: int, drops: DropLog | None = None
) -> pd.DataFrame:
    if not limit:
        return data
    _need_speaker(data, "DATA.samples_per_speaker")
    # not groupby().apply(): pandas >= 3 drops the grouping column ('speaker') from its result
    picked = [
        g.sample(n=min(len(g), int(limit)), random_state=seed) for _, g in data.groupby("speaker")
    ]
    kept = pd.concat(picked) if picked else data.iloc[:0]
    if drops is not None:
        drops.record_rows(
            data, ~data.index.isin(kept.index), f"over DATA.samples_per_speaker ({limit})"
        )
    return kept


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
    return speaker_split(
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


def speaker_split(table, test_share, dev_share, stratify, seed, balance=None) -> pd.Series:
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
