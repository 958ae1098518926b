"""Running experiment files: resolve each, write it as YAML, and run Snakemake once over all.

Shared by `sauti run`, the Nkululeko module commands, `sauti test` and `sauti watch`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sauti.app import worker
from sauti.config import compose
from sauti.config.read import read_file
from sauti.config.resolve import to_yaml
from sauti.config.schema import ConfigError
from sauti.core.paths import SNAKEFILE
from sauti.ml import drops
from sauti.workflow import runs
from sauti.workflow import snakemake as snakemake_cli


def run_experiments(files: list[str], snakemake_args: list[str]) -> int:
    """Resolve each file, write it as YAML, and run Snakemake once over all of them."""
    configfile, written = write_run_config(files)
    command = snakemake_cli.command(configfile, Path.cwd(), *snakemake_args)
    if not any(a.startswith(("-j", "--jobs", "--cores", "-c")) for a in snakemake_args):
        command += ["--cores", "all"]
    spawner = worker.Spawner(runs.popen)  # the warm worker's fork, else a subprocess
    code = runs.supervise(command, Path.cwd(), files, spawner)  # process group, record, locks
    spawner.after_run()  # no worker answered: start one for the next run
    if code == 0:  # the rows and files the stages left out, and why (sauti.ml.drops)
        drops.print_summary(written)
    return code


def write_run_config(files: list[str]) -> tuple[Path, list[Path]]:
    """(the config file to give Snakemake, the resolved YAML written per experiment file);
    shared by `sauti run` and `sauti watch`. Errors name the original file."""
    written = []
    for path in files:
        raw = read_file(path)
        raw["_source"] = str(path)
        cfg, name, root = compose.runnable(raw, str(path))  # lists, grids, ensembles too
        folder = Path(root) / ".configs"
        folder.mkdir(parents=True, exist_ok=True)
        text = to_yaml(cfg)
        target = folder / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}.yaml"
        if not target.exists():
            target.write_text(text, encoding="utf-8")
        written.append(target)
    if len(written) == 1:
        configfile = written[0]
    else:
        listing = "\n".join(f"  - {w}" for w in written)
        text = f"experiments:\n{listing}\n"
        configfile = written[0].parent / f"run-{hashlib.sha256(text.encode()).hexdigest()[:8]}.yaml"
        configfile.write_text(text, encoding="utf-8")
    if not SNAKEFILE.exists():
        raise ConfigError(
            f"the sauti workflow was not found at {SNAKEFILE}",
            hint="set SAUTI_WORKFLOW_DIR to the sauti checkout",
        )
    return configfile, written
