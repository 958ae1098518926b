"""Dropped data accounted for (sauti.ml.drops): what each stage left out, shown at the end of
`sauti run` and in report.html, on the real demo corpus.

Why: a run that silently drops rows (a NaN label, an empty file, a length limit) looks exactly
like one that used everything; the user must see how many, why and which.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import workflow_support as wf

from sauti.ml.data import load_database, select_and_split
from sauti.ml.drops import Drop, DropLog, collect, summary_lines


def split_params(**overrides) -> dict:
    """select_and_split params as the plan hands them over (resolved defaults)."""
    spec = {"split_strategy": "speaker_split", "test_size": 20, "dev_size": None}
    out = {
        "target": "gender",
        "labels": "all",
        "type": "classification",
        "min_length": None,
        "max_length": None,
        "samples_per_speaker": None,
        "random_seed": 42,
        "traindevtest": False,
        "databases": {"demo": {**spec, "mapping": {}, "filter": [], "balance": []}},
    }
    out.update(overrides)
    return out


@pytest.fixture(scope="module")
def demo(demo_dir) -> pd.DataFrame:
    return load_database("demo", {"path": str(demo_dir / "demo.csv")})


def test_split_records_each_reason_with_counts_and_examples(demo):
    table = demo.copy()
    table.loc[[3, 7], "gender"] = np.nan  # two rows without a label
    drops = DropLog("split")
    data = select_and_split(
        {"demo": table}, split_params(min_length=0.6, samples_per_speaker=8), drops
    )
    by_reason = {d.reason: d for d in drops.entries}
    missing = by_reason["no 'gender' label"]
    assert (missing.count, missing.total, missing.database) == (2, len(demo), "demo")
    assert missing.examples == [Path(demo.loc[i, "file"]).name for i in (3, 7)]
    short = by_reason["shorter than DATA.min_length (0.6 s)"]
    assert short.count == int((table["gender"].notna() & (table["duration"] < 0.6)).sum()) > 0
    capped = by_reason["over DATA.samples_per_speaker (8)"]
    assert capped.count > 0 and capped.kind == "dropped"
    # every row that entered is either in the split or counted once in a drop
    assert len(data) + sum(d.count for d in drops.entries) == len(demo)


def test_filter_is_a_selection_and_labels_outside_data_labels_are_drops(demo):
    drops = DropLog("split")
    params = split_params(target="language", labels=["en"])
    params["databases"]["demo"]["filter"] = [["source", "real"]]
    data = select_and_split({"demo": demo}, params, drops)
    selected, dropped = drops.entries
    assert selected.kind == "selected" and "filter source in ['real']" in selected.reason
    assert selected.count == int((demo["source"] != "real").sum())
    assert dropped.kind == "dropped" and dropped.reason.startswith("label not in DATA.labels")
    assert dropped.count == int(((demo["source"] == "real") & (demo["language"] != "en")).sum())
    assert set(data["language"]) == {"en"}


def test_summary_lines_warn_over_ten_percent_in_colour_only_on_a_terminal(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    entries = [
        Drop("split", "demo", "no 'gender' label", 2, 59, examples=["a.wav"]),
        Drop("samples", "demo", "unusable audio: empty (0 bytes)", 9, 60, "audio files"),
    ]
    (exp / "drops.json").write_text(json.dumps([e.__dict__ for e in entries]))
    plain = summary_lines(tmp_path, ["exp"], colour=False)
    assert plain == [
        "exp: demo: 2 of 59 rows dropped: no 'gender' label [split], e.g. a.wav",
        "warning: exp: demo: 9 of 60 audio files (15 %) dropped: unusable audio: empty (0 bytes) [samples]",
    ]
    coloured = summary_lines(tmp_path, ["exp"], colour=True)
    assert coloured[0] == plain[0] and coloured[1] == f"\033[33m{plain[1]}\033[0m"
    assert summary_lines(tmp_path, ["other"]) == []


def test_nan_labels_and_an_empty_file_run_through_and_are_shown(tmp_path, demo_dir):
    """`sauti run` on real speech with 2 NaN labels and 1 empty file of 103 (under the 1 %
    dropped by default): exit 0, the summary at the end, the same table in report.html."""
    table = wf.small_table(demo_dir, per_speaker=7)  # 102 real recordings
    assert len(table) >= 100
    nan_rows = table.index[[0, 20]]
    table.loc[nan_rows, "gender"] = np.nan
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    table = pd.concat([table, table.tail(1).assign(file=str(empty))], ignore_index=True)
    corpus = wf.write_csv(tmp_path, table)
    cfg = {
        "EXP": {"name": "exp", "shards": 1},
        "DATA": {"databases": ["small"], "small": {"path": str(corpus)}, "target": "gender"},
        "FEATS": {"type": ["os"]},
        "MODEL": {"type": "svm"},
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sauti"), "run", str(wf.write(tmp_path, cfg)), "-j2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=wf.TIMEOUT_S,
    )
    assert result.returncode == 0, wf.output(result)[-3000:]
    lines = result.stdout.strip().splitlines()[-2:]  # the summary ends the output
    assert lines == [
        f"exp: small: 1 of {len(table)} audio files dropped: unusable audio: empty (0 bytes) [samples], e.g. {empty}",
        f"exp: small: 2 of {len(table) - 1} rows dropped: no 'gender' label [split], e.g. {Path(table.loc[nan_rows[0], 'file']).name}",
    ]
    bad = list((tmp_path / "results/cache/samples").glob("*/bad_audio.csv"))
    assert len(bad) == 1 and pd.read_csv(bad[0]).values.tolist() == [
        [str(empty), "empty (0 bytes)"]
    ]
    report = (tmp_path / "results/exp/report.html").read_text()
    assert 'id="drops"' in report
    assert (
        "unusable audio: empty (0 bytes)" in report and f"1 of {len(table)} audio files" in report
    )
    assert "no &#39;gender&#39; label" in report and f"2 of {len(table) - 1} rows" in report
    assert json.loads((tmp_path / "results/exp/drops.json").read_text())[1]["count"] == 2


def test_collect_reads_the_drops_of_the_experiments_stages(tmp_path):
    log = DropLog("split", tmp_path / "cache/split/abc")
    log.record("demo", "no 'gender' label", ["a.wav"], 10)
    log.write()
    DropLog("samples", tmp_path / "cache/samples/def").write()  # nothing dropped: an empty list
    found = collect(tmp_path, {"samples demo": "def", "split": "abc", "train": "xyz"})
    assert [(d.stage, d.count, d.total) for d in found] == [("split", 1, 10)]


def test_segment_records_recordings_without_speech(demo_table, tmp_path):
    """SEGMENT drops a recording with no speech of min_length: a real recording of 4 joined
    utterances keeps its segments, 2 s of room silence (no speech) is recorded as dropped."""
    import soundfile as sf
    from speech_support import join_with_pauses

    from sauti.stages.segment import segment_stage

    clips = demo_table[demo_table["speaker"] == "allison"].head(4)["file"]
    signal, _ = join_with_pauses(clips, np.random.default_rng(0))
    sf.write(tmp_path / "speech.wav", signal, 16000)
    quiet = np.random.default_rng(1).normal(0, 1e-4, 32000).astype("float32")
    sf.write(tmp_path / "quiet.wav", quiet, 16000)
    rows = [("speech.wav", len(signal) / 16000, "train"), ("quiet.wav", 2.0, "test")]
    data = pd.DataFrame(
        [
            {
                "file": str(tmp_path / f),
                "start": 0.0,
                "end": end,
                "duration": end,
                "db": "demo",
                "speaker": "allison",
                "gender": "female",
                "split": split,
            }
            for f, end, split in rows
        ]  # fmt: skip
    )
    data.to_parquet(tmp_path / "split.parquet")
    params = {"method": "silero", "databases": ["demo"], "sample_selection": "all",
              "min_length": 0.2, "max_length": None, "segment_target": "_seg"}  # fmt: skip
    segment_stage(str(tmp_path / "split.parquet"), params, tmp_path / "seg")
    (entry,) = json.loads((tmp_path / "seg" / "drops.json").read_text())
    assert (entry["stage"], entry["count"], entry["total"]) == ("segment", 1, 2)
    assert entry["reason"] == "no speech of SEGMENT.min_length (0.2 s)"
    assert entry["examples"] == ["quiet.wav"]


def test_extra_test_database_records_what_it_leaves_out(demo):
    """DATA.tests: rows of a test database without a label, or with a label outside
    DATA.labels, are recorded by its test stage as the split records its own."""
    from sauti.stages.test import select_test_data

    table = demo.copy()
    table.loc[[0, 1], "gender"] = np.nan
    table.loc[[2], "gender"] = "child"
    params = {"name": "demo", "target": "gender", "labels": ["female", "male"],
              "type": "classification", "min_length": None, "max_length": None,
              "mapping": {}, "filter": []}  # fmt: skip
    drops = DropLog("test")
    data = select_test_data(table, params, ["female", "male"], drops)
    assert [(d.reason, d.count) for d in drops.entries] == [
        ("no 'gender' label", 2),
        ("label not in DATA.labels", 1),
    ]
    assert len(data) == len(demo) - 3
