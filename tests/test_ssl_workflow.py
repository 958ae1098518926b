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


def test_spkrec_ssl_features_come_from_the_last_round(tmp_path, demo_dir):
    """FEATS.type spkrec_ssl: the SSL encoder embeds every clip (embedding_dim columns), a
    model trains on them, and a new round re-keys the features (they follow the encoder)."""
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=4))
    workdir = tmp_path / "work"
    workdir.mkdir()
    cfg = {**experiment(corpus), "FEATS": {"type": ["spkrec_ssl"]}}
    run_ok(workdir, write(workdir, cfg))
    (table,) = [
        pd.read_parquet(p) for p in (workdir / "results/cache/features").glob("*/features.parquet")
    ]
    columns = [c for c in table.columns if c.startswith("spkrec_ssl_")]
    assert len(columns) == TINY["embedding_dim"] and len(table) == len(pd.read_csv(corpus))
    norms = (table[columns] ** 2).sum(axis=1) ** 0.5
    assert norms.between(0.999, 1.001).all()  # the encoder's L2-normalised embeddings
    assert (workdir / "results/sslexp/predictions.csv").exists()
    two = {**cfg, "SSL": {**TINY, "rounds": 2}}
    jobs = planned_jobs(workdir, write(workdir, two, "two.yaml"))
    assert jobs["ssl_round"] == 1 and jobs["features"] == 1 and jobs["train"] == 1


def test_spkrec_ssl_without_ssl_is_one_config_error(tmp_path, demo_dir):
    from workflow_support import snakemake

    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=2))
    cfg = {**experiment(corpus), "FEATS": {"type": ["spkrec_ssl"]}, "SSL": {"enabled": False}}
    result = snakemake(tmp_path, write(tmp_path, cfg), "--dry-run")
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "spkrec_ssl" in text and "SSL.enabled is false" in text and "Traceback" not in text


def test_predict_speaker_can_cluster_with_the_ssl_encoder(tmp_path, demo_dir):
    """PREDICT.speaker_embedding ssl: speaker clusters from the experiment's own encoder; the
    predict stage follows the encoder (a new round re-runs it)."""
    corpus = write_csv(tmp_path, small_table(demo_dir, per_speaker=4))
    workdir = tmp_path / "work"
    workdir.mkdir()
    predict = {"targets": ["speaker"], "speaker_embedding": "ssl", "n_speakers": 4}
    cfg = {**experiment(corpus), "PREDICT": predict}
    run_ok(workdir, write(workdir, cfg))
    (folder,) = (workdir / "results/cache/predict").glob("*")
    facts = json.loads((folder / "predict.json").read_text())
    assert facts["speaker"]["embedding"] == "ssl" and facts["speaker"]["n_speakers"] == 4
    table = pd.read_parquet(folder / "predicted.parquet")
    assert table["est_speaker"].dropna().nunique() == 4
    two = {**cfg, "SSL": {**TINY, "rounds": 2}}
    jobs = planned_jobs(workdir, write(workdir, two, "two.yaml"))
    assert jobs["ssl_round"] == 1 and jobs["predict"] == 1 and "train" not in jobs
