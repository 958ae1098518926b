"""`sauti ensemble a.ini b.yaml --method max_class [--threshold 1.0] [--name NAME] [-j8 ...]`.

Why a command of its own: combining experiments that were run before should not need an
ENSEMBLE file written by hand. The command writes that file (members as absolute paths) into
<root>/.configs/ and runs it like `sauti run`, so the members' cached results are reused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sauti.app.running import run_experiments
from sauti.config.compose import expand, expand_files
from sauti.config.resolve import to_yaml
from sauti.config.sections.ensemble import METHODS
from sauti.core.fileio import write_text


def add_command(sub) -> None:
    ensemble = sub.add_parser(
        "ensemble",
        help="combine experiments' predictions (reuses their cached results); extra options go to snakemake",
    )
    ensemble.add_argument("configs", nargs="+", help="member experiment files (.ini, .yaml)")
    ensemble.add_argument("--method", default="majority_voting", choices=METHODS)
    ensemble.add_argument(
        "--threshold", type=float, default=1.0, help="uncertainty limit for uncertainty_threshold"
    )
    ensemble.add_argument("--name", help="result folder name (default: members and method)")


def ensemble_file(files: list[str], method: str, threshold: float, name: str | None) -> dict:
    """The ENSEMBLE config `sauti ensemble` runs: members as absolute paths, a default name."""
    members = expand_files(files)
    if name is None:
        joined = "+".join(members.names()) + f"-{method}"
        name = joined if len(joined) <= 80 else f"ensemble-{method}"
    roots = sorted({c["EXP"]["root"] for c in members.configs})
    return {
        "EXP": {"name": name, "root": roots[0]},
        "ENSEMBLE": {
            "experiments": [str(Path(f).resolve()) for f in files],
            "method": method,
            "threshold": threshold,
        },
    }


def run_command(args, snakemake_args: list[str]) -> int:
    """Write the ensemble file into <root>/.configs/ and run it like `sauti run`."""
    cfg = ensemble_file(args.configs, args.method, args.threshold, args.name)
    expand(cfg, "sauti ensemble")  # every error before anything is written
    text = to_yaml(cfg)
    path = (
        Path(cfg["EXP"]["root"])
        / ".configs"
        / f"{cfg['EXP']['name']}-{hashlib.sha256(text.encode()).hexdigest()[:8]}.yaml"
    )
    if not path.exists():
        write_text(path, text)
    return run_experiments([str(path)], snakemake_args)
