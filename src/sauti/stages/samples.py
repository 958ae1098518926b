"""The samples stage: one database's audio, checked, keyed by what the audio is.

Planned per database (`database_stages`, which also plans the labels stage beside it) and run
by rule samples (workflow/rules/samples.smk). Keyed by the load options, a digest of the
file/start/end columns and every audio file's content digest, so features follow what the audio
is, not its name or modification time.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sauti.core.fileio import write_table
from sauti.core.keys import Keyed, Stage, experiment_root, make_stage
from sauti.ml.data import audio_samples, read_database
from sauti.ml.data_digests import check_unchanged, database_content
from sauti.ml.drops import DropLog
from sauti.stages.base import StageSpec
from sauti.stages.labels import LABELS

log = logging.getLogger("sauti")

#: Per-database options that decide what audio a database holds (the samples stage).
LOAD_OPTIONS = (
    "path",
    "type",
    "audio_path",
    "colnames",
    "files_tables",
    "target_tables",
    "train_tables",
    "dev_tables",
    "test_tables",
)

#: 2: audio only (file, start, end, duration, db, row); 3: cwd-relative CSV entries
SAMPLES = Keyed(
    "samples", 3, "samples.parquet", ("ml/data.py", "ml/data_digests.py", "core/audio.py")
)


def database_stages(name: str, spec: dict, cfg: dict) -> tuple[Stage, Stage]:
    """The samples and labels stages of one database (also DATA.tests and DATA.unlabelled).

    samples: the checked audio, keyed by the load options, the file/start/end columns and every
    audio file's content digest (so features follow what the audio is, not its name or time).
    labels: samples plus the table's other columns, keyed by the samples key and the table's
    digest: a label edit re-keys it (and the split) but never the samples or features.
    """
    data = cfg["DATA"]
    params = {k: spec.get(k) for k in LOAD_OPTIONS}
    params["path"] = os.path.abspath(spec["path"])
    if params["audio_path"]:
        params["audio_path"] = os.path.abspath(params["audio_path"])
    params.update(name=name, check_size=data["check_size"], skip_bad=data["skip_bad"])
    content = database_content(name, params, cfg["EXP"]["root"])
    audio = {k: v for k, v in content.items() if k != "table"}
    samples = make_stage(SAMPLES, params, content=audio)
    table = {"table": content["table"]} if "table" in content else content
    return samples, make_stage(LABELS, params, (samples,), table)


def samples_stage(params: dict, content: dict, out_path: str) -> None:
    """One database's samples table: the audio checked (file, start, end, duration, db, row),
    no labels (sauti.ml.data.audio_samples). `content`: the digests in its key, checked again
    after the audio was read (sauti.core.digests.check_unchanged)."""
    name = params["name"]
    root = experiment_root(out_path)
    drops = DropLog("samples", Path(out_path).parent)  # drops.json and bad_audio.csv go there
    table = audio_samples(
        name, read_database(name, params), params["check_size"], params["skip_bad"], drops
    )
    log.info("database %s: %d samples, %d files", name, len(table), table["file"].nunique())
    check_unchanged(name, params, root, content)
    drops.write()
    write_table(out_path, table)


SPEC = StageSpec("samples", (SAMPLES,))
