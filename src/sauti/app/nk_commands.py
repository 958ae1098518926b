"""Nkululeko's module names as sauti commands, each a set of Snakemake targets of the same DAG.

    sauti explore --config exp.ini        python -m sauti.explore --config exp.ini
    sauti nkululeko | explore | augment | aug_train | predict | segment | resample | multidb |
          flags | optim --config exp.ini [snakemake options]
    (test, demo and ensemble are sauti's own commands, which take --config too)

Why targets and not separate programs: `sauti explore` asks Snakemake for the explore stage's
outputs only, so it computes exactly what exploring needs (samples, features, split) and reuses
whatever an earlier `sauti run` or `sauti explore` already built; a later `sauti nkululeko` finds
them cached. nkululeko, aug_train, multidb and flags run the whole experiment file, as their
Nkululeko modules do (AUGMENT, MULTIDB and FLAGS are sections of that file).
"""

from __future__ import annotations

from pathlib import Path

from sauti.app.running import run_experiments
from sauti.core.errors import SautiError
from sauti.stages.resample import check_target, publish
from sauti.workflow.registry import registry_from_files

#: Nkululeko module -> what its sauti command builds: None = the whole experiment file.
COMMANDS = {
    "nkululeko": None,
    "explore": "explore",
    "augment": "augment",
    "aug_train": None,
    "predict": "predict",
    "segment": "segment",
    "resample": "resample",
    "multidb": None,
    "flags": None,
    "optim": "optim",
}
#: The section an experiment needs for the command (a one-line error without it).
NEEDS = {
    "explore": "EXPL",
    "augment": "AUGMENT.augmentations",
    "predict": "PREDICT.targets",
    "segment": "SEGMENT.method",
    "optim": "OPTIM.params",
}
HELP = {
    "nkululeko": "train and evaluate (as sauti run)",
    "explore": "build only the explore stage's outputs (EXPL)",
    "augment": "build only the augmented audio (AUGMENT)",
    "aug_train": "train with augmentation (as sauti run with AUGMENT)",
    "predict": "build only the predicted est_<target> columns (PREDICT)",
    "segment": "build only the segments (SEGMENT)",
    "resample": "write the experiment's audio as 16 kHz mono wavs and a table (RESAMPLE)",
    "multidb": "the cross-database matrix (as sauti run with MULTIDB)",
    "flags": "the grid of FLAGS values (as sauti run)",
    "optim": "build only the hyper-parameter search (OPTIM)",
}


def config_flag(argv: list[str]) -> list[str]:
    """`--config a.ini [b.ini]` (Nkululeko's form) -> the positional form every sauti command
    takes. A value with `=` is Snakemake's own --config KEY=VALUE and is left alone."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--config" and i + 1 < len(argv) and "=" not in argv[i + 1]:
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                out.append(argv[i])
                i += 1
            continue
        if argv[i].startswith("--config=") and "=" not in argv[i][len("--config=") :]:
            out.append(argv[i][len("--config=") :])
        else:
            out.append(argv[i])
        i += 1
    return out


def add_commands(sub) -> None:
    for name in COMMANDS:
        parser = sub.add_parser(
            name,
            help=f"Nkululeko's {name} module: {HELP[name]}; extra options go to snakemake",
        )
        parser.add_argument("configs", nargs="+", help="experiment files (.ini, .yaml)")


def run_command(args, snakemake_args: list[str]) -> int:
    files = args.configs
    stage = COMMANDS[args.command]
    if stage is None:
        return run_experiments(files, snakemake_args)
    targets, resample = stage_targets(files, args.command)
    code = run_experiments(files, [*snakemake_args, *targets])
    if code != 0 or _dry(snakemake_args):
        return code
    if resample:
        return publish_resampled(resample)
    for target in targets:  # the cache folder is where the outputs (tables, images) are
        print(f"sauti {args.command}: {Path(target).parent}/")
    return 0


def _dry(snakemake_args: list[str]) -> bool:
    return any(a in ("-n", "--dry-run", "--dryrun") for a in snakemake_args)


def stage_targets(files: list[str], command: str) -> tuple[list[str], list]:
    """The Snakemake targets of a command: each experiment's stage outputs (one line of error
    when an experiment lacks the section the command needs)."""
    registry = registry_from_files(files)
    targets, resample = [], []
    for plan in registry.plans:
        if command == "resample":
            stage = registry.composite.resample_stages[plan.name]
            path = registry.path("resample", stage.key, "resampled.parquet")
            targets.append(path)
            resample.append((plan, path))
            continue
        stage = _stage(registry, plan, command)
        if stage is None:
            section, _, key = NEEDS[command].partition(".")
            raise SautiError(
                f"{plan.config.get('_source', plan.name)}: sauti {command} needs [{section}]"
                f"{' ' + key if key else ''} in the experiment file",
                hint=f"see docs/nkululeko.md ([{section}])",
            )
        targets.append(stage)
    return targets, resample


def _stage(registry, plan, command: str) -> str | None:
    if command == "optim":
        stage = registry.composite.optim_stages.get(plan.name)
        return f"{registry.root}/{plan.name}/optim/best.json" if stage else None
    if command == "augment":
        stage = plan.augmentation.augment if plan.augmentation else None
    else:
        stage = getattr(plan, command)
    return registry.path(stage.stage, stage.key) if stage else None


def publish_resampled(done: list) -> int:
    """After the resample stages: <root>/<name>/<RESAMPLE.target> (and replace = True)."""
    for plan, table in done:
        section = plan.config["RESAMPLE"]
        check_target(section["target"])
        target = Path(plan.root) / plan.name / section["target"]
        rows = publish(table, target, section["replace"])
        print(f"{plan.name}: {len(rows)} samples at 16 kHz mono -> {target}")
    return 0
