"""The split stage: select, label and split the experiment's samples (seeded, persisted).

Keyed by the target, the selection keys (lengths, samples per speaker, filters, mappings), the
split options of every database and the seed; runs inside Snakemake's process.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sauti.core.fileio import read_table, write_table
from sauti.core.keys import Keyed, Stage, make_stage
from sauti.ml.data import select_and_split
from sauti.ml.drops import DropLog
from sauti.stages.base import StageSpec

log = logging.getLogger("sauti")

SPLIT = Keyed("split", 1, "split.parquet", ("ml/data.py",))


#: Per-database options that decide the selection and split (the split stage).
SPLIT_OPTIONS = ("split_strategy", "test_size", "dev_size", "mapping", "filter", "balance")


def plan_split(cfg: dict, labels: dict) -> Stage:
    """The split stage over the experiment's databases (their labels stages upstream)."""
    exp, data = cfg["EXP"], cfg["DATA"]
    params = {
        "target": data["target"],
        "labels": data["labels"],
        "type": exp["type"],
        "min_length": data["min_length"],
        "max_length": data["max_length"],
        "samples_per_speaker": data["samples_per_speaker"],
        "random_seed": exp["random_seed"],
        "traindevtest": exp["traindevtest"],
        "databases": {n: {k: data[n].get(k) for k in SPLIT_OPTIONS} for n in data["databases"]},
    }
    return make_stage(SPLIT, params, tuple(labels.values()))


def split_stage(samples_paths: list[str], names: list[str], params: dict, out_path: str) -> None:
    """Select, label and split the experiment's samples (seeded, persisted)."""
    tables = {name: read_table(path) for name, path in zip(names, samples_paths, strict=True)}
    drops = DropLog("split", Path(out_path).parent)
    data = select_and_split(tables, params, drops)
    counts = data.groupby("split").size().to_dict()
    log.info("split: %s", counts)
    drops.write()
    write_table(out_path, data)


class Rules:
    """What workflow/rules/split.smk asks the registry (REG.spec("split"))."""

    def __init__(self, registry):
        self.registry = registry

    def samples(self, w) -> list[str]:
        return [self.registry.path_of(u) for u in self.registry.upstream("split", w.key, "labels")]

    def names(self, w) -> list[str]:
        return [u.params["name"] for u in self.registry.upstream("split", w.key, "labels")]


SPEC = StageSpec("split", (SPLIT,), rules=Rules)
