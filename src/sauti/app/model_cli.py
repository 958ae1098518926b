"""The `sauti` commands that use a trained model: demo, test and export.

    sauti demo exp.ini --file x.wav [y.wav ...] | --folder d/ | --list files.txt [--outfile p.csv]
    sauti demo exp.ini --mic [--seconds 3]
    sauti demo exp.ini --serve [--port 8765]
    sauti demo --bundle DIR --file x.wav            (an exported bundle instead of an experiment)
    sauti test exp.ini [--data new.csv ...] [snakemake options]
    sauti export exp.ini --to DIR

Why separate from cli.py: these commands share the bundle lookup and output formatting, and the
logic lives in sauti.ml.bundle / sauti.stages.test / sauti.app.webdemo so it is tested without a shell.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from sauti.app.export import experiment_bundle, export_bundle
from sauti.app.running import run_experiments
from sauti.app.webdemo import serve
from sauti.config.compose import expand_files
from sauti.config.read import read_file
from sauti.config.resolve import resolve, to_yaml
from sauti.core.audio import SAMPLE_RATE
from sauti.core.errors import SautiError
from sauti.core.fileio import read_json, write_table, write_text
from sauti.ml import bundle as inference
from sauti.ml.bundle import load_bundle
from sauti.stages.test import summary_line, test_databases

COMMANDS = ("demo", "test", "export")
DEFAULT_PORT = 8765


def add_commands(sub) -> None:
    """Add the demo, test and export sub-commands to `sauti`'s argument parser."""
    demo = sub.add_parser(
        "demo",
        help="predict unlabelled audio with a trained experiment or an exported bundle",
        description="Predict unlabelled audio with the training-time pipeline (features, "
        "scaler, model). Long files are predicted whole, as one sample.",
    )
    demo.add_argument("config", nargs="?", help="experiment file (.ini, .yaml) that was run")
    demo.add_argument("--bundle", help="an exported bundle folder (sauti export) instead")
    source = demo.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", nargs="+", help="audio file(s)")
    source.add_argument("--folder", help="every *.wav, *.flac, *.ogg below this folder")
    source.add_argument("--list", help="a text file with one audio path per line")
    source.add_argument("--mic", action="store_true", help="record from the microphone")
    source.add_argument("--serve", action="store_true", help="a local web page to upload audio")
    demo.add_argument("--outfile", help="also write the predictions to this CSV file")
    demo.add_argument("--seconds", type=float, default=3.0, help="--mic: recording length")
    demo.add_argument("--port", type=int, default=DEFAULT_PORT, help="--serve: port on 127.0.0.1")
    test = sub.add_parser(
        "test",
        help="evaluate a trained experiment on other labelled databases (DATA.tests or --data)",
    )
    test.add_argument("config", help="experiment file (.ini, .yaml)")
    test.add_argument(
        "--data",
        action="append",
        default=[],
        help="a labelled CSV file or audformat folder (repeatable); added to DATA.tests",
    )
    export = sub.add_parser("export", help="write a trained experiment as a self-contained bundle")
    export.add_argument("config", help="experiment file (.ini, .yaml) that was run")
    export.add_argument("--to", required=True, help="new folder for the bundle")


def run_command(args: argparse.Namespace, extra: list[str]) -> int:
    if args.command == "demo":
        return demo_command(args)
    if args.command == "test":
        return test_command(args.config, args.data, extra)

    dest = export_bundle(args.config, args.to)
    print(f"exported {args.config} to {dest}/ (try: sauti demo --bundle {dest} --file x.wav)")
    return 0


# --------------------------------------------------------------------------- demo


def demo_command(args: argparse.Namespace) -> int:
    bundle, name = load_for_demo(args.config, args.bundle)
    if args.serve:
        serve(bundle, name, port=args.port)
        return 0
    if args.mic:
        with tempfile.TemporaryDirectory(prefix="sauti-mic-") as folder:
            path = record(args.seconds, Path(folder) / "microphone.wav")
            table = inference.predict(bundle, [path])
            table["file"] = "microphone"
            show(table, args.outfile)
        return 0
    if args.file:
        files = args.file
    elif args.folder:
        files = inference.audio_files_in(args.folder)
    else:
        files = inference.files_from_list(args.list)
    samples = inference.samples_from_files(files)
    table = inference.predict(bundle, samples, progress=len(samples) > 20)
    show(table, args.outfile)
    return 0


def load_for_demo(config: str | None, bundle_dir: str | None) -> tuple[dict, str]:
    """(bundle, a name to show) from an experiment file or an exported bundle folder."""
    if bool(config) == bool(bundle_dir):
        raise SautiError(
            "give either an experiment file or --bundle DIR",
            hint="sauti demo exp.ini --file x.wav, or sauti demo --bundle DIR --file x.wav",
        )
    if bundle_dir:
        return load_bundle(bundle_dir), Path(bundle_dir).name

    name = expand_files([config]).configs[0]["EXP"]["name"]  # the page shows EXP.name
    return load_bundle(experiment_bundle(config)), name


def show(table: pd.DataFrame, outfile: str | None) -> None:
    """Print the predictions (paths relative to the working directory, 3 decimals); write CSV."""
    if outfile:
        write_table(outfile, table)
    shown = table.drop(columns=["start"]).rename(columns={"end": "seconds"})
    shown["file"] = [_short_path(f) for f in shown["file"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if outfile:
        print(f"wrote {len(table)} predictions to {outfile}")


def _short_path(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative


def record(seconds: float, path: Path) -> str:
    """Record `seconds` of 16 kHz mono audio from the default input device into `path`.

    sounddevice (PortAudio) is optional: it is missing on servers and containers, where there is
    no microphone anyway, so its absence is one clear message and not an install requirement.
    """
    import soundfile

    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        raise SautiError(
            f"--mic needs the sounddevice package and PortAudio ({exc})",
            hint="pip install sounddevice (and apt install libportaudio2), or record a file and use --file",
        ) from exc
    try:
        sounddevice.query_devices(kind="input")
    except Exception as exc:
        raise SautiError(
            "no microphone found (no audio input device)",
            hint="record a file elsewhere and use --file",
        ) from exc
    if seconds <= 0:
        raise SautiError("--seconds must be positive")
    print(f"recording {seconds:g} s from the microphone ...", file=sys.stderr)
    signal = sounddevice.rec(
        int(seconds * SAMPLE_RATE), samplerate=SAMPLE_RATE, channels=1, dtype="float32"
    )
    sounddevice.wait()
    soundfile.write(str(path), signal, SAMPLE_RATE)
    return str(path)


# --------------------------------------------------------------------------- test


def test_command(config: str, data: list[str], snakemake_args: list[str]) -> int:
    """Run the experiment's DATA.tests (plus --data files) and print one line per database.

    The --data files join DATA.tests in a resolved copy of the config; DATA.tests does not
    enter the train key, so the saved model of `sauti run` is reused (trained first if absent).
    """
    raw = read_file(config)
    raw["_source"] = str(config)
    cfg = resolve(raw, str(config))
    cfg["DATA"]["tests"] = list(cfg["DATA"]["tests"]) + [_as_path(d) for d in data]
    names = list(test_databases(cfg))
    if not names:
        raise SautiError(
            f"{config}: no test databases", hint="give --data new.csv or set DATA.tests"
        )
    root, name = cfg["EXP"]["root"], cfg["EXP"]["name"]
    with tempfile.TemporaryDirectory(prefix="sauti-test-") as folder:
        configfile = Path(folder) / f"{name}.yaml"
        write_text(configfile, to_yaml(cfg))
        targets = [f"{root}/{name}/tests/{db}/metrics.json" for db in names]
        code = run_experiments([str(configfile)], [*snakemake_args, *targets])
    if code != 0 or any(a in ("-n", "--dry-run", "--dryrun") for a in snakemake_args):
        return code
    for db, target in zip(names, targets, strict=True):
        print(f"{name} tested on {db}: {summary_line(read_json(target))} -> {Path(target).parent}/")
    return 0


def _as_path(item: str) -> str:
    """A --data argument is always a path: make it absolute, so it cannot be read as a name."""
    if not os.path.exists(item):
        raise SautiError(f"--data {item}: no such file or folder")
    return os.path.abspath(item)
