"""Dropped data, accounted for: which stage dropped how many rows or files of which database, why.

Why a file per stage: a run that drops rows (a NaN label, an unreadable file, a length limit)
must not look like a run that used everything. Each stage that drops something writes
`drops.json` into its keyed cache folder (an empty list when it dropped nothing, so a re-run
never leaves a stale one); the report stage collects the files of the experiment's stages into
`<root>/<name>/drops.json` and the report's Data section, and `sauti run` prints the same lines
at its end. Filters the user asked for (`DATA.<db>.filter`, `check_size`, SELFTRAIN's
`vad_threshold`) are recorded as kind "selected" (the rows they left out), not as drops.
Unusable audio files are also listed one per line, with their reason, in `bad_audio.csv`
next to the samples stage's log.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from sauti.config.compose import expand_files
from sauti.core.errors import SautiError
from sauti.core.fileio import write_json, write_table

FILE = "drops.json"
BAD_AUDIO = "bad_audio.csv"
EXAMPLES = 5  # the first few dropped items each entry names
WARN_SHARE = 0.10  # a drop of more than this share of a database is a warning line


@dataclass
class Drop:
    """One reason in one stage for one database: `count` of `total` rows or files."""

    stage: str
    database: str
    reason: str
    count: int
    total: int
    unit: str = "rows"  # rows | audio files | segments
    kind: str = "dropped"  # dropped | selected (left out by a filter the user asked for)
    examples: list[str] = field(default_factory=list)

    @property
    def warn(self) -> bool:
        return self.kind == "dropped" and self.count > WARN_SHARE * self.total

    def line(self) -> str:
        """'demo: 2 of 59 rows dropped: no 'gender' label [split], e.g. a.wav'; a filter the
        user asked for reads 'left out by DATA.demo.filter ...'."""
        verb = "left out by" if self.kind == "selected" else "dropped:"
        example = f", e.g. {self.examples[0]}" if self.examples else ""
        share = f" ({100 * self.count / self.total:.0f} %)" if self.warn else ""
        return (
            f"{self.database}: {self.count} of {self.total} {self.unit}{share} "
            f"{verb} {self.reason} [{self.stage}]{example}"
        )


class DropLog:
    """What one stage dropped; `folder` is its cache folder (None in unit tests: nothing written)."""

    def __init__(self, stage: str, folder: str | Path | None = None):
        self.stage, self.folder = stage, Path(folder) if folder else None
        self.entries: list[Drop] = []

    def record(
        self,
        database: str,
        reason: str,
        items,
        total: int,
        unit: str = "rows",
        kind: str = "dropped",
        count: int | None = None,
    ) -> None:
        """Record the dropped `items` (files or rows, as text; `count` of them when only the
        first few are given) unless there are none."""
        items = [str(i) for i in items]
        count = len(items) if count is None else int(count)
        if count:
            self.entries.append(
                Drop(self.stage, database, reason, count, int(total), unit, kind, items[:EXAMPLES])
            )

    def record_rows(self, data: pd.DataFrame, dropped, reason: str, kind: str = "dropped") -> None:
        """Per database (column `db`, else one unnamed database): rows of `data` where `dropped`."""
        dropped = pd.Series(dropped, index=data.index).astype(bool)
        databases = data["db"] if "db" in data.columns else pd.Series("", index=data.index)
        for name in pd.unique(databases):
            mine = databases == name
            rows = data[mine & dropped]
            self.record(
                str(name), reason, _describe(rows), int(mine.sum()), kind=kind, count=len(rows)
            )

    def write_bad_audio(self, problems: dict[str, str]) -> Path | None:
        """The full list of unusable files (file, reason) as a CSV in the stage folder."""
        if self.folder is None or not problems:
            return None
        path = self.folder / BAD_AUDIO
        write_table(path, pd.DataFrame({"file": list(problems), "reason": list(problems.values())}))
        return path

    def write(self) -> None:
        if self.folder is not None:
            write_json(self.folder / FILE, [asdict(e) for e in self.entries])


def _describe(rows: pd.DataFrame) -> list[str]:
    """A row as the user finds it in their table: the file, with the segment if it is one."""
    texts = []
    for row in rows.head(EXAMPLES).itertuples(index=False):
        file = os.path.basename(str(row.file)) if hasattr(row, "file") else str(row)
        start, end = getattr(row, "start", 0.0), getattr(row, "end", None)
        texts.append(file if not start else f"{file} [{start:g}, {end:g}]")
    return texts


# --------------------------------------------------------------------------- collecting


def read(path: str | Path) -> list[Drop]:
    path = Path(path)
    if not path.exists():
        return []
    return [Drop(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]


def collect(root: str | Path, keys: dict[str, str]) -> list[Drop]:
    """The drops of an experiment's stages; `keys` is the report's {stage label: key}, whose
    label starts with the stage name ('samples demo', 'split', 'selftrain round 1')."""
    entries, seen = [], set()
    for label, key in keys.items():
        stage = label.split()[0]
        if (stage, key) in seen:
            continue
        seen.add((stage, key))
        entries += read(Path(root) / "cache" / stage / key / FILE)
    return entries


def summary_lines(root: str | Path, names: list[str], colour: bool | None = None) -> list[str]:
    """The lines `sauti run` prints at its end: what each experiment's stages dropped (read from
    `<root>/<name>/drops.json`, which the report stage writes). Drops over 10 % of a database
    are yellow when `colour` (default: stdout is a terminal)."""
    colour = sys.stdout.isatty() if colour is None else colour
    lines = []
    for name in names:
        for entry in read(Path(root) / name / FILE):
            text = f"{name}: {entry.line()}"
            if entry.warn:
                text = f"\033[33mwarning: {text}\033[0m" if colour else f"warning: {text}"
            lines.append(text)
    return lines


def print_summary(configfiles: list[str | Path]) -> None:
    """Print the drop lines of every experiment in the files `sauti run` handed to Snakemake."""
    try:
        configs = expand_files([str(f) for f in configfiles]).configs
    except SautiError:  # already reported by the run itself
        return
    for cfg in configs:
        for line in summary_lines(cfg["EXP"]["root"], [cfg["EXP"]["name"]]):
            print(line, flush=True)
