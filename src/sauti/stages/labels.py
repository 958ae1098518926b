"""The labels stage: a database's samples with the table's other columns (labels, speaker ...).

Keyed by the samples key plus the table's digest (planned with the samples stage, see
sauti.stages.samples.database_stages): a label edit re-keys it and the split, never the samples
or the features. Runs inside Snakemake's process (sauti.workflow.jobs).
"""

from __future__ import annotations

from sauti.core.fileio import read_table, write_table
from sauti.core.keys import Keyed, experiment_root
from sauti.ml.data import read_database, with_labels
from sauti.ml.data_digests import check_unchanged
from sauti.stages.base import StageSpec

#: 2: cwd-relative CSV entries (sauti.ml.data._csv_file)
LABELS = Keyed("labels", 2, "labels.parquet", ("ml/data.py", "ml/data_digests.py"))


def labels_stage(samples_path: str, params: dict, content: dict, out_path: str) -> None:
    """The samples table with the database table's other columns (labels, speaker ...) joined
    back: what the split and the test stages select from."""
    name = params["name"]
    table = read_database(name, params)
    check_unchanged(name, params, experiment_root(out_path), content)
    write_table(out_path, with_labels(table, read_table(samples_path)))


class Rules:
    """What workflow/rules/labels.smk asks the registry (REG.spec("labels"))."""

    def __init__(self, registry):
        self.registry = registry

    def samples(self, w) -> str:
        return self.registry.path_of(self.registry.stage("labels", w.key).upstream[0])


SPEC = StageSpec("labels", (LABELS,), rules=Rules)
