"""SSL end to end: real snakemake on real speech with a tiny encoder. Stage I, one round, the
evaluation and the report section; raising SSL.rounds then plans only the new round."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("speechbrain")

from workflow_support import planned_jobs, run_ok, small_table, write, write_csv  # noqa: E402

pytestmark = pytest.mark.workflow

TINY = {
    "enabled": True, "segment_duration": 0.3, "channels": [8, 8, 8, 8, 24],
    "attention_channels": 8, "embedding_dim": 16, "batch_size": 16, "epochs": 1,
    "round_epochs": 1, "rounds": 1, "clusters": 4, "test_speakers": 4,
    "trials_per_speaker": 10, "reference": False,
}  # fmt: skip


def experiment(corpus, **ssl) -> dict:
    return {
        "EXP": {"name": "sslexp"},
        "DATA": {
            "databases": ["small"],
            "small": {"path": str(corpus), "test_size": 25},
            "target": "gender",
            "labels": ["female", "male"],
        },
        "FEATS": {"type": ["praat"]},
        "MODEL": {"type": "tree"},
        "EXPL": {"bias": False},
        "SSL": {**TINY, **ssl},
    }


def test_ssl_stages_run_and_new_rounds_reuse_old_ones(tmp_path, demo_dir):
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=4))
    workdir = tmp_path / "work"
    workdir.mkdir()
    run_ok(workdir, write(workdir, experiment(corpus)))
    published = workdir / "results/sslexp/ssl"
    summary = json.loads((published / "ssl.json").read_text())
    assert [row["stage"] for row in summary["rows"]] == ["stage I", "round 1"]
    assert len(summary["held_out_speakers"]) == 4
    assert set(summary["references"]) == {"untrained encoder"}
    assert all(0 <= row["eer"] <= 1 for row in summary["rows"])
    assert summary["rows"][0]["purity"] is not None  # the demo corpus knows its speakers
    table = pd.read_csv(published / "ssl_rounds.csv")
    assert table["round"].tolist() == [0, 1]
    assert (published / "ssl_eer.png").read_bytes()[:4] == b"\x89PNG"
    report = (workdir / "results/sslexp/report.html").read_text()
    assert "Self-supervised speaker embeddings" in report and "ssl_round round 1" in report
    # held-out speakers never train: the pseudo-label table holds only the others
    labels = pd.read_parquet(
        next((workdir / "results/cache/ssl_round").glob("*/pseudo_labels.parquet"))
    )
    assert not set(labels["speaker"]) & set(summary["held_out_speakers"])
    assert set(planned_jobs(workdir, write(workdir, experiment(corpus)))) == set()
    # one more round: only that round, the evaluation and the publishing steps run
    more = planned_jobs(workdir, write(workdir, experiment(corpus, rounds=2), "two.yaml"))
    assert more == {"ssl_round": 1, "ssl_eval": 1, "ssl_results": 1, "report": 1, "all": 1}
