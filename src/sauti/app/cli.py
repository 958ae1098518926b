"""The `sauti` command: run experiments from INI or YAML files, convert INI to YAML, check configs.

    sauti run exp.ini [more.yaml ...] [snakemake options, e.g. -j8 -n]
    sauti watch exp.ini [more.yaml ...] [-j N]   (re-runs on every save: sauti.app.watch)
    sauti worker status | stop       (the warm worker behind `sauti run`: sauti.app.worker)
    sauti convert exp.ini > exp.yaml
    sauti check exp.ini
    sauti schema-doc > config/README.md
    sauti demo | test | export ...   (using a trained model: see sauti.app.model_cli)
    sauti ensemble a.ini b.yaml --method max_class [--threshold 1.0] [--name NAME] [-j8 ...]
                                     (sauti.app.ensemble_cli)
    sauti explore | segment | predict | augment | resample | optim | ... exp.ini
                                     (Nkululeko's module names: sauti.app.nk_commands)

Every command also takes its experiment files as `--config exp.ini`, Nkululeko's form.

`run` validates every file first (errors name the original file), writes the resolved configs
as YAML into <root>/.configs/ and hands them to Snakemake in one invocation, so experiments that
share stages compute them once. Snakemake runs as its own process group with a run record
(`sauti.workflow.runs`: stopping ends every job, locks are explained or cleared); what it shows on the
terminal is sauti's logger plugin (`sauti.app.terminal`).
"""

from __future__ import annotations

import argparse
import sys

from sauti import __version__
from sauti.app import ensemble_cli, model_cli, nk_commands, worker
from sauti.app.running import run_experiments
from sauti.app.watch import watch as watch_files
from sauti.config.doc import render
from sauti.config.nkululeko import render_doc
from sauti.config.read import read_file
from sauti.config.resolve import normalise, resolve, to_yaml
from sauti.core.errors import SautiError
from sauti.workflow.registry import registry_from_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sauti", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"sauti {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run experiments (INI or YAML); extra options go to snakemake")
    run.add_argument("configs", nargs="+", help="experiment files (.ini, .yaml)")
    watch = sub.add_parser("watch", help="run, then re-run whenever an experiment file is saved")
    watch.add_argument("configs", nargs="+", help="experiment files (.ini, .yaml)")
    watch.add_argument("-j", "--cores", type=int, default=None, help="cores (default: all)")
    warm = sub.add_parser("worker", help="the warm worker that speeds up sauti run: status, stop")
    warm.add_argument("action", choices=["status", "stop"])
    convert = sub.add_parser("convert", help="print an INI experiment as YAML")
    convert.add_argument("config")
    convert.add_argument("--resolved", action="store_true", help="include every default")
    check = sub.add_parser("check", help="validate experiment files and print their stage keys")
    check.add_argument("configs", nargs="+")
    sub.add_parser("schema-doc", help="print config/README.md generated from the schema")
    sub.add_parser("nkululeko-doc", help="print docs/nkululeko.md generated from the key table")
    model_cli.add_commands(sub)
    ensemble_cli.add_command(sub)
    nk_commands.add_commands(sub)  # Nkululeko's module names (explore, segment, ...)
    argv = nk_commands.config_flag(sys.argv[1:] if argv is None else list(argv))
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("run", "test", "ensemble", *nk_commands.COMMANDS):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "run":
            return run_experiments(args.configs, extra)
        if args.command == "watch":
            return watch_files(args.configs, args.cores)
        if args.command == "worker":
            return worker.command(args.action)
        if args.command == "convert":
            sys.stdout.write(convert_file(args.config, args.resolved))
            return 0
        if args.command == "check":
            return check_files(args.configs)
        if args.command == "ensemble":
            return ensemble_cli.run_command(args, extra)
        if args.command in nk_commands.COMMANDS:
            return nk_commands.run_command(args, extra)
        if args.command == "nkululeko-doc":
            sys.stdout.write(render_doc())
            return 0
        if args.command in model_cli.COMMANDS:
            return model_cli.run_command(args, extra)

        sys.stdout.write(render())
        return 0
    except SautiError as err:
        print(f"sauti: error: {err}", file=sys.stderr)
        return 2


def convert_file(path: str, resolved: bool = False) -> str:
    raw = read_file(path)
    raw.setdefault("_source", str(path))  # warnings name the file once
    cfg = resolve(raw, str(path))
    if not resolved:
        cfg = _normalised_only(raw)
    cfg.pop("_source", None)
    return f"# converted from {path} by sauti {__version__}\n" + to_yaml(cfg)


def _normalised_only(raw: dict) -> dict:
    return normalise(raw)


def check_files(files: list[str]) -> int:
    registry = registry_from_files(files)
    for plan in registry.plans:
        print(f"{plan.name}: " + ", ".join(f"{s.stage}={s.key}" for s in plan.stages()))
    for line in registry.composite.describe():  # ensembles, OPTIM, grids, multidb
        print(line)
    return 0


def module_main(command: str) -> None:
    """`python -m sauti.<module> --config exp.ini`: the sauti command of that name."""
    sys.exit(main([command, *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
