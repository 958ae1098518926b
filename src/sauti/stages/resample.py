"""Nkululeko's resample module: the experiment's audio as 16 kHz mono wav files.

    sauti resample exp.ini          (or python -m sauti.resample --config exp.ini)

Why a keyed stage although sauti never needs it: every sauti reader already resamples on load
(sauti.core.audio.read), so experiments never wait for this. People resample to share a database or
to feed tools that expect 16 kHz files. The `resample` stage reads the experiment's data table
(after the split, so EXP.sample_selection can pick train, dev or test), writes each selected file
once as a 16 kHz mono wav into `<root>/cache/resample/<key>/audio/` and a table of the rows with
`file` pointing at the new wavs; its key is the data table's key and the selection, so a second
run is free. `sauti resample` then copies that table to `<root>/<name>/<RESAMPLE.target>`, a CSV
database other experiments can read, and with RESAMPLE.replace = True writes the 16 kHz version
over each original file (Nkululeko's in-place form; the originals' content digests then change,
so experiments that read them are re-keyed, as they must be).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd
import soundfile

from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.fileio import atomic_path, copy_file, read_table, write_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.stages.base import StageSpec

log = logging.getLogger("sauti.resample")

RESAMPLE = Keyed("resample", 1, None, ("stages/resample.py", "core/audio.py"))


TABLE = "resampled.parquet"


def resample_stage_for(plan) -> Stage:
    """The keyed resample stage of an experiment (its sauti.workflow.plan.ExperimentPlan): its
    data table and the selection."""
    params = {
        "sample_selection": plan.config["EXP"]["sample_selection"],
        "sample_rate": audio.SAMPLE_RATE,
    }
    return make_stage(RESAMPLE, params, (plan.data,))


def resample_stage(data_path: str, params: dict, out_path: str) -> None:
    """Write every selected file once as a mono wav at params['sample_rate'] and the table."""
    table = read_table(data_path)
    selection = params["sample_selection"]
    if selection != "all":
        table = table[table["split"] == selection]
        if table.empty:
            raise SautiError(f"EXP.sample_selection: the {selection} split is empty")
    folder = Path(out_path).parent / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    new = {}
    for file in table["file"].unique():
        target = folder / _name(file)
        signal = audio.read(file, sample_rate=params["sample_rate"])
        with atomic_path(target) as tmp:
            soundfile.write(str(tmp), signal, params["sample_rate"], format="WAV")
        new[file] = str(target.resolve())
    log.info("resampled %d files (%d rows) to %d Hz", len(new), len(table), params["sample_rate"])
    out = table.assign(original=table["file"], file=table["file"].map(new))
    write_table(out_path, out.reset_index(drop=True))


def _name(file: str) -> str:
    """A unique, readable name: the original stem and a hash of its full path."""
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:8]
    return f"{Path(file).stem}-{digest}.wav"


def publish(table_path: str, target: str | Path, replace: bool) -> pd.DataFrame:
    """Copy the stage's table to `target` as CSV; with `replace`, write the 16 kHz files over the
    originals (the table then points at the originals again)."""
    table = read_table(table_path)
    if replace:
        for new, original in table[["file", "original"]].drop_duplicates().itertuples(index=False):
            copy_file(new, original)
        table = table.assign(file=table["original"])
        log.info("replaced %d original files by their 16 kHz version", table["file"].nunique())
    write_table(Path(target), table.drop(columns=["original"]))
    return table


def check_target(name: str) -> None:
    if "/" in name or not name.endswith(".csv"):
        raise SautiError(
            f"RESAMPLE.target {name!r}: expected a CSV file name such as data_resampled.csv"
        )


SPEC = StageSpec("resample", (RESAMPLE,))
