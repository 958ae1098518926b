"""Scaling decisions taken when the DAG is built (sauti.ml.scaling, via sauti.workflow.registry.Registry):
`EXP.shards: auto`, the rows it counts without reading audio, the cluster resources each job
asks for, and how cheap building the DAG stays (it runs at every Snakemake start, twice per
SLURM job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from sauti.config.resolve import resolve
from sauti.config.schema import ConfigError
from sauti.ml import scaling
from sauti.stages.features import shard_rows
from sauti.workflow.registry import registry_from_files


def write_csv(path, rows: int, trailing_newline: bool = True) -> None:
    lines = ["file,speaker,gender"] + [f"wav/{i}.wav,s{i % 7},female" for i in range(rows)]
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""))


def experiment(tmp_path, csv, shards) -> str:
    cfg = {
        "EXP": {"name": "e", "shards": shards},
        "DATA": {"databases": ["db"], "db": str(csv), "target": "gender"},
        "FEATS": {"type": ["os", "praat"]},
    }
    path = tmp_path / f"exp-{shards}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.mark.parametrize(
    ("rows", "threaded", "shards"),
    [
        (0, True, 1), (None, True, 1), (1, True, 1), (9999, True, 1), (10_000, True, 2),
        (20_000, True, 4), (10**6, True, 100),
        # kinds that run in one thread get 2 shards, so two cores work on a small database
        (None, False, 1), (1, False, 1), (2, False, 2), (517, False, 2), (15_000, False, 3),
    ],
)  # fmt: skip
def test_auto_shards_one_per_5000_rows_capped(rows, threaded, shards):
    assert scaling.auto_shards(rows, threaded) == shards


@pytest.mark.parametrize("n_rows", [0, 1, 7, 100])
def test_balanced_rows_cover_every_row_once_in_contiguous_blocks(n_rows):
    durations = np.random.default_rng(n_rows).uniform(0.1, 10, n_rows)
    durations[::5] = np.nan  # unknown durations count as the mean one
    for n_shards in range(1, 7):
        parts = [
            range(n_rows)[scaling.balanced_rows(durations, i, n_shards)] for i in range(n_shards)
        ]
        assert [row for part in parts for row in part] == list(range(n_rows)), n_shards


def test_balanced_rows_split_a_sorted_database_by_seconds_not_rows():
    """Long read sentences first, short prompts last (like the large benchmark corpus): equal
    row counts would give the first job 10x the audio of the second."""
    durations = np.array([5.0] * 100 + [0.5] * 100)
    cost = durations + scaling.PER_FILE_SECONDS  # what a shard job spends, in audio seconds
    halves = [cost[scaling.balanced_rows(durations, i, 2)].sum() for i in range(2)]
    assert abs(halves[0] - halves[1]) <= cost.max()
    by_rows = [cost[shard_rows(200, i, 2)].sum() for i in range(2)]
    assert by_rows == [550.0, 100.0]


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_csv_rows_are_counted_without_parsing(tmp_path, trailing_newline):
    csv = tmp_path / "db.csv"
    write_csv(csv, 1234, trailing_newline)
    assert scaling.count_rows({"path": str(csv), "type": None}) == 1234 == len(pd.read_csv(csv))
    assert scaling.count_rows({"path": str(tmp_path / "missing.csv"), "type": None}) is None


def test_audformat_rows_are_the_largest_wanted_table(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    (folder / "db.yaml").write_text("name: db\n")
    write_csv(folder / "db.files.csv", 300)
    pd.DataFrame({"file": [f"{i}.wav" for i in range(700)]}).to_parquet(folder / "db.big.parquet")
    params = {"path": str(folder), "type": None}
    assert scaling.count_rows(params) == 700
    assert scaling.count_rows({**params, "files_tables": ["files"]}) == 300


def test_auto_shards_follow_the_database_size_in_the_dag(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_csv(small, 120)
    write_csv(large, 20_500)
    for csv, expected in ((small, {"os": 1, "praat": 2}), (large, {"os": 4, "praat": 4})):
        registry = registry_from_files([experiment(tmp_path, csv, "auto")])
        features = {
            s.params["type"]: s for s in registry.plans[0].stages() if s.stage == "features"
        }
        assert {kind: registry.shards[s.key] for kind, s in features.items()} == expected
        n = expected["praat"]
        paths = registry.feature_shards(SimpleNamespace(key=features["praat"].key))
        assert [p.rsplit("/", 1)[1] for p in paths][-1] == f"shard-{n - 1}-of-{n}.parquet"
        # a one-shard database's features job extracts itself: no shard inputs, all threads
        os_job = SimpleNamespace(key=features["os"].key)
        inputs = registry.features_inputs(os_job)
        assert ("shards" in inputs) == (expected["os"] > 1)
        assert registry.features_threads(os_job) == (
            scaling.FEATURE_THREADS if expected["os"] == 1 else 1  # a merge job needs one
        )
        praat_shard = SimpleNamespace(key=features["praat"].key, shard="0", n=str(n))
        assert registry.features_threads(praat_shard) == 1  # parselmouth is not thread-safe
    # the count is no part of any cache key: a fixed count keys the same features
    auto = registry_from_files([experiment(tmp_path, large, "auto")]).plans[0]
    fixed = registry_from_files([experiment(tmp_path, large, 3)]).plans[0]
    assert [s.key for s in auto.stages()] == [s.key for s in fixed.stages()]


def test_shards_setting_is_validated_in_one_line(tmp_path):
    base = {"EXP": {"name": "e"}, "DATA": {"databases": ["db"], "db": "x.csv"}}
    assert resolve(base)["EXP"]["shards"] == "auto"
    assert resolve({**base, "EXP": {"name": "e", "shards": 3}})["EXP"]["shards"] == 3
    for bad in ("many", 0):
        with pytest.raises(ConfigError) as err:
            resolve({**base, "EXP": {"name": "e", "shards": bad}}, "exp.yaml")
        message = str(err.value)
        assert "\n" not in message and "EXP" in message and "shards" in message


def test_memory_grows_with_input_and_attempt():
    assert scaling.mem_mb("train", 0) == 1000
    assert scaling.mem_mb("train", 100) == 1000 + 12 * 100
    assert scaling.mem_mb("train", 100, attempt=2) == 2 * scaling.mem_mb("train", 100)
    assert scaling.mem_mb("features_shard", 0.01) % 100 == 0  # whole hundreds of MB
    assert scaling.runtime("features_shard", 0) < scaling.runtime("features_shard", 1000)
    assert scaling.runtime("train", 0, attempt=3) == 3 * scaling.runtime("train", 0)


def test_rule_resource_functions_read_input_size_rows_and_attempt(tmp_path):
    csv = tmp_path / "db.csv"
    write_csv(csv, 1000)
    registry = registry_from_files([experiment(tmp_path, csv, 4)])
    key = next(s.key for s in registry.plans[0].stages() if s.stage == "features")
    mem = registry.mem_mb("train")
    assert mem({}, SimpleNamespace(size_mb=50.0), 1) == scaling.mem_mb("train", 50.0)
    assert mem({}, SimpleNamespace(size_mb=50.0), 2) == 2 * scaling.mem_mb("train", 50.0)
    runtime = registry.runtime("features_shard")
    wildcards = SimpleNamespace(key=key, shard="0", n="4")
    assert runtime(wildcards, 1) == scaling.runtime("features_shard", 250)
    assert runtime(wildcards, 2) == 2 * runtime(wildcards, 1)


@pytest.mark.parametrize("resolved", [False, True])
def test_building_the_dag_imports_no_heavy_library(tmp_path, demo_dir, resolved):
    """Every Snakemake start builds the DAG (twice per SLURM job), so planning must not import
    what only jobs need; each of these costs 0.3-1 s per start. `resolved`: the file as
    `sauti run` writes it for Snakemake, every section filled (OPTIM's defaults once imported
    scikit-learn this way)."""
    exp = experiment(tmp_path, demo_dir / "demo.csv", "auto")
    if resolved:
        from sauti.config.read import read_file
        from sauti.config.resolve import to_yaml

        Path(exp).write_text(to_yaml(resolve(read_file(exp), exp)))
    code = (
        "import sys, json; from sauti.workflow.registry import registry_from_files; "
        f"registry_from_files([{exp!r}]); print(json.dumps(sorted(sys.modules)))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    heavy = {"matplotlib", "sklearn", "scipy", "torch", "opensmile", "parselmouth", "librosa"}
    heavy |= {"xgboost", "imblearn", "audformat", "jinja2"}
    assert heavy & loaded == set()


def test_auto_shards_for_an_augmented_table_count_its_databases_times_copies(tmp_path):
    """Features of an augment table (not written before its job) get a count from the config:
    the database rows it derives from times `copies`, so the count never changes later."""
    csv = tmp_path / "db.csv"
    write_csv(csv, 30_000)
    cfg = yaml.safe_load(Path(experiment(tmp_path, csv, "auto")).read_text())
    cfg["AUGMENT"] = {"copies": 2, "augmentations": [{"type": "gain"}]}
    path = tmp_path / "augmented.yaml"
    path.write_text(yaml.safe_dump(cfg))
    registry = registry_from_files([str(path)])
    counts = {
        stage.upstream[0].stage: registry.shards[key]
        for (kind, key), stage in registry.stages.items()
        if kind == "features"
    }
    assert (
        counts
        == {"samples": 6, "augment": scaling.auto_shards(60_000)}
        == {"samples": 6, "augment": 12}
    )
    augment_features = next(
        key
        for (kind, key), s in registry.stages.items()
        if kind == "features" and s.upstream[0].stage == "augment"
    )
    runtime = registry.runtime("features_shard")
    assert runtime(SimpleNamespace(key=augment_features, shard="0", n="12"), 1) == (
        scaling.runtime("features_shard", 5000)
    )
