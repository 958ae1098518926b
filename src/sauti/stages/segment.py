"""SEGMENT: cut recordings into speech segments, as an alternative samples source.

Why after the split and not per database before it: a segment inherits the split of the
recording it comes from, so segments of one file can never land in train and test at once (a
random split of segments would leak a speaker's recording into both), and
`SEGMENT.sample_selection` (segment only train, or only test) has a meaning. The segments table
has the split table's columns, so every later stage (features, train, explore, predict, augment)
reads it exactly where it would read the split table; rows outside `databases` or
`sample_selection` pass through unchanged.

Lengths: speech stretches from the VAD that are shorter than `min_length` are merged with
their neighbours when the pause between them is short (at most MERGE_GAP seconds) and the
result stays within `max_length`; what is still too short is dropped. Segments longer than
`max_length` are cut into equal pieces, each at most `max_length` long.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.config.sections.segment import selected_databases
from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.core.fileio import (
    atomic_path,
    publish_images,
    read_json,
    read_table,
    write_json,
    write_table,
)
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.core.progress import bar as progress_bar
from sauti.ml.drops import DropLog
from sauti.ml.vad import speech_segments
from sauti.stages.base import StageSpec

log = logging.getLogger("sauti")

SEGMENT = Keyed("segment", 1, "segments.parquet", ("stages/segment.py", "ml/vad.py"))


#: Speech stretches are merged across pauses at most this long (seconds).
MERGE_GAP = 1.0
#: Provenance columns the segments table adds (the bias check skips them).
PROVENANCE = ["source_start", "source_end"]
#: The diarisation model SEGMENT.method pyannote loads (a Hugging Face id or a local folder).
PYANNOTE_MODEL = "pyannote/speaker-diarization-3.1"


# --------------------------------------------------------------------------- plan


def plan_segment(cfg: dict, split: Stage) -> Stage | None:
    """The segment stage (SEGMENT slice + split key), or None when no database is segmented
    (SEGMENT.databases is checked against DATA.databases by sauti.config.sections.segment)."""
    databases = selected_databases(cfg)
    if not databases:
        return None
    section = cfg["SEGMENT"]
    params = {k: v for k, v in section.items() if k != "databases"}
    params["databases"] = databases
    if section["method"] == "pyannote":
        params["hf_token_set"] = bool(cfg["MODEL"].get("hf_token"))  # never the token itself
    return make_stage(SEGMENT, params, (split,))


# --------------------------------------------------------------------------- lengths


def fit_lengths(
    speech: list[tuple[float, float]], min_length: float, max_length: float | None
) -> list[tuple[float, float]]:
    """Merge short stretches with close neighbours, drop what stays short, split long ones."""
    groups: list[list[float]] = []
    for begin, end in speech:
        if groups:
            last = groups[-1]
            short = last[1] - last[0] < min_length or end - begin < min_length
            fits = max_length is None or end - last[0] <= max_length
            if short and fits and begin - last[1] <= MERGE_GAP:
                last[1] = end
                continue
        groups.append([begin, end])
    out = []
    for begin, end in groups:
        length = end - begin
        if length < min_length:
            continue
        pieces = math.ceil(length / max_length) if max_length else 1
        step = length / pieces
        out += [(begin + i * step, begin + (i + 1) * step) for i in range(pieces)]
    return out


# --------------------------------------------------------------------------- methods


def speech_silero(signal: np.ndarray) -> list[tuple[float, float]]:
    return speech_segments(signal)


def speech_pyannote(file: str, start: float, end: float, token: str | None):
    """Speech turns from pyannote.audio's diarisation pipeline (seconds relative to `start`).

    Real code path for users who have pyannote.audio and access to its gated model; sauti
    neither installs it nor ships the model.
    """
    pipeline = _pyannote_pipeline(token)
    import torch

    signal = audio.read(file, start, end)
    result = pipeline(
        {"waveform": torch.from_numpy(signal)[None], "sample_rate": audio.SAMPLE_RATE}
    )
    annotation = getattr(result, "speaker_diarization", result)  # pyannote 4 wraps it
    return [(turn.start, turn.end) for turn, _, _ in annotation.itertracks(yield_label=True)]


_PIPELINE = {}


def _pyannote_pipeline(token: str | None):
    if "pipeline" in _PIPELINE:
        return _PIPELINE["pipeline"]
    try:
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise SautiError(
            "SEGMENT.method pyannote: the pyannote.audio package is not installed",
            hint="pip install pyannote.audio, accept the model's terms on Hugging Face and set "
            "MODEL.hf_token; or use SEGMENT.method silero (works offline)",
        ) from exc
    try:
        pipeline = Pipeline.from_pretrained(PYANNOTE_MODEL, use_auth_token=token)
    except Exception as exc:  # network, gated model, bad token: all say the same to the user
        raise SautiError(
            f"SEGMENT.method pyannote: cannot load {PYANNOTE_MODEL} "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
            hint="it needs network access and MODEL.hf_token with the model's terms accepted",
        ) from exc
    if pipeline is None:
        raise SautiError(
            f"SEGMENT.method pyannote: {PYANNOTE_MODEL} could not be loaded (gated model)",
            hint="set MODEL.hf_token to a token that has accepted the model's terms",
        )
    _PIPELINE["pipeline"] = pipeline
    return pipeline


# --------------------------------------------------------------------------- the stage


def segment_table(
    data: pd.DataFrame, params: dict, token: str | None = None, drops=None
) -> pd.DataFrame:
    """Every selected row replaced by its speech segments (labels, speaker and split inherited);
    other rows unchanged. Adds source_start/source_end: the row a segment was cut from.
    Rows without speech of min_length are recorded in `drops` (a sauti.ml.drops.DropLog)."""
    selection = params["sample_selection"]
    chosen = data["db"].isin(params["databases"]) if "db" in data else pd.Series(True, data.index)
    if selection != "all":
        chosen &= data["split"] == selection
    if not chosen.any():
        raise SautiError(
            f"SEGMENT: no samples to segment in databases {params['databases']} "
            f"(sample_selection {selection})",
            hint="check SEGMENT.databases and SEGMENT.sample_selection",
        )
    min_length, max_length = float(params["min_length"]), params["max_length"]
    rows, dropped = [], pd.Series(False, index=data.index)
    for _, row in progress_bar(data.iterrows(), total=len(data), desc="segment", mininterval=2):
        record = row.to_dict()
        record.update(source_start=row["start"], source_end=row["end"])
        if not chosen[row.name]:
            rows.append(record)
            continue
        offset = float(row["start"])
        if params["method"] == "pyannote":
            speech = speech_pyannote(row["file"], offset, row["end"], token)
        else:
            speech = speech_silero(audio.read(row["file"], offset, row["end"]))
        pieces = fit_lengths(speech, min_length, max_length)
        dropped[row.name] = not pieces
        for begin, end in pieces:
            rows.append(
                {**record, "start": round(offset + begin, 4), "end": round(offset + end, 4)}
            )
    table = pd.DataFrame(rows, columns=[*data.columns, *PROVENANCE])
    if "duration" in table:
        table["duration"] = table["end"] - table["start"]
    if table.empty or (table.loc[:, "split"] == "train").sum() == 0:
        raise SautiError(
            f"SEGMENT: no train segments left with min_length {min_length} s "
            f"({int(dropped.sum())} of {int(chosen.sum())} recordings had no speech that long)",
            hint="lower SEGMENT.min_length",
        )
    log.info(
        "segmented %d of %d recordings into %d segments; %d without speech of min_length %.2f s",
        int(chosen.sum()),
        len(data),
        len(table) - int((~chosen).sum()),
        int(dropped.sum()),
        min_length,
    )
    if drops is not None:
        drops.record_rows(data, dropped, f"no speech of SEGMENT.min_length ({min_length} s)")
    return table.reset_index(drop=True)


def segment_stage(split_path: str, params: dict, out_dir: str, token: str | None = None) -> None:
    """The `segment` rule: split table in; segments table, duration histogram and manifest out."""
    out = Path(out_dir)
    data = read_table(split_path)
    drops = DropLog("segment", out)
    table = segment_table(data, params, token, drops)
    drops.write()
    before = (data["end"] - data["start"]).to_numpy(float)
    after = (table["end"] - table["start"]).to_numpy(float)
    image = durations_plot(before, after, out / "durations.png")
    manifest = {
        "method": params["method"],
        "databases": params["databases"],
        "sample_selection": params["sample_selection"],
        "min_length": params["min_length"],
        "max_length": params["max_length"],
        "before": _describe(before),
        "after": _describe(after),
        "images": [
            {
                "file": image.name,
                "caption": "Sample durations before and after segmentation.",
            }
        ],
    }
    write_json(out / "segment.json", manifest)
    write_table(out / "segments.parquet", table)  # last: the rule's main output


def _describe(durations: np.ndarray) -> dict:
    return {
        "samples": int(len(durations)),
        "hours": round(float(durations.sum()) / 3600, 4),
        "mean_s": round(float(durations.mean()), 3) if len(durations) else None,
        "median_s": round(float(np.median(durations)), 3) if len(durations) else None,
        "max_s": round(float(durations.max()), 3) if len(durations) else None,
    }


def durations_plot(before: np.ndarray, after: np.ndarray, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharex=True)
    bins = np.linspace(0, max(before.max(initial=0), after.max(initial=0)) or 1, 30)
    for ax, values, title in ((axes[0], before, "before"), (axes[1], after, "after")):
        ax.hist(values, bins=bins, color="#4c72b0")
        ax.set_title(f"{title} segmentation: {len(values)} samples")
        ax.set_xlabel("duration (s)")
    axes[0].set_ylabel("samples")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- report


def publish(manifest_path: str, segments_path: str, exp_dir: Path, target: str) -> dict:
    """Copy the segments table (as `<db><segment_target>.csv` per database, usable as a
    database CSV by other experiments) and the histogram next to the report; return the
    report section."""
    manifest = read_json(manifest_path)
    table = read_table(segments_path)
    files = []
    for db in manifest["databases"]:
        part = table[table["db"] == db] if "db" in table else table
        name = f"{db}{target}.csv"
        write_table(exp_dir / name, part.reset_index(drop=True))
        files.append(name)
    images = publish_images(
        manifest["images"], Path(manifest_path).parent, exp_dir / "images" / "segment"
    )
    b, a = manifest["before"], manifest["after"]
    return {
        "id": "segment",
        "title": "Segmentation",
        "note": (
            f"Method {manifest['method']}, databases {', '.join(manifest['databases'])}, "
            f"samples {manifest['sample_selection']}, min_length {manifest['min_length']} s, "
            f"max_length {manifest['max_length']} s. Tables: {', '.join(files)}."
        ),
        "table": {
            "caption": "Samples and durations before and after segmentation",
            "header": ["", "Samples", "Hours", "Mean (s)", "Median (s)", "Max (s)"],
            "rows": [
                [label, d["samples"], d["hours"], d["mean_s"], d["median_s"], d["max_s"]]
                for label, d in (("before", b), ("after", a))
            ],
        },
        "images": images,
    }


# --------------------------------------------------------------------------- rules


class Rules:
    """What workflow/rules/segment.smk asks about a segment stage (kept out of sauti.workflow.registry)."""

    def __init__(self, registry):
        self.registry = registry

    def split(self, w) -> str:
        split = self.registry.stage("segment", w.key).upstream[0]  # split, or SEPARATE's table
        return self.registry.path(split.stage, split.key)

    def token(self, w) -> str | None:
        """MODEL.hf_token for pyannote, looked up at run time so it never enters a cache key."""
        for plan in self.registry.plans:
            if plan.segment is not None and plan.segment.key == w.key:
                return plan.config["MODEL"].get("hf_token")
        return None


SPEC = StageSpec("segment", (SEGMENT,), rules=Rules)
