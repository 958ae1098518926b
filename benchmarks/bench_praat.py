"""Benchmark: cost of sauti's praat features per second of audio, the old set against the new.

    .venv/bin/python benchmarks/bench_praat.py [--csv data/demo/demo.csv] [--limit N]

Issue 16 grew the praat set from 18 measures to Nkululeko's set (51 columns, covering its
45): more Praat analyses per file (four formants' medians, eleven perturbation measures, the
de Jong & Wempe syllable and pause analysis with its own pitch track), and then took
Nkululeko's settings (pitch up to 300 Hz, formants up to 5000 Hz) and left out f0 min/max and
the intensity contour (47 columns), and then gave Nkululeko's own definitions as the default
(FEATS.praat.definitions, 45 columns). This measures what that costs: the extractors run on the
same recordings, one thread (praat stays single-threaded), alternating file by file so all
see the same machine load. The earlier extractors are the module as it was at OLD_COMMIT and
SET51_COMMIT, read from git, so no old code stays in the package.
With `--nkululeko DIR` (a folder holding Nkululeko's `nkululeko` package, e.g. the
site-packages of benchmarks/.nkululeko-venv or an unpacked nkululeko-1.14.1 wheel), Nkululeko's
own extractor (feats_praat_core.AudioFeatureExtractor, per file) is timed alongside.
Writes benchmarks/results/praat.md.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

from sauti.core import audio
from sauti.core.fileio import write_text
from sauti.ml.features import praat_features

REPO = Path(__file__).resolve().parents[1]
OLD_COMMIT = "62bd16d"  # the last commit with the 18-measure praat set
SET51_COMMIT = "1ee3586"  # the last with the 51-column set (pitch to 600 Hz, formants to 5500)
#: where the module was at each commit (the layered package moved it)
PATHS = {
    OLD_COMMIT: "src/sauti/features/praat_features.py",
    SET51_COMMIT: "src/sauti/ml/features/praat_features.py",
}


def old_extractor(commit: str = OLD_COMMIT):
    """The praat_features function of `commit` and its number of columns, loaded as a module."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:{PATHS[commit]}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # the 18-measure module imported sauti.audio, now sauti.core.audio, relatively
    source = source.replace("from ..audio import", "from sauti.core.audio import")
    module = types.ModuleType(f"praat_features_{commit}")
    exec(compile(source, f"{commit}:{PATHS[commit]}", "exec"), module.__dict__)
    return module.praat_features, len(module.NAMES)


def nkululeko_extractor(folder: Path):
    """Nkululeko's per-file praat extractor from `folder` (its set-level PCA/pF step is not
    timed: it runs once per table and costs little)."""
    sys.path.insert(0, str(folder))
    import parselmouth
    from nkululeko.constants import VERSION
    from nkululeko.feat_extract.feats_praat_core import AudioFeatureExtractor

    extractor = AudioFeatureExtractor()

    def extract(signal):
        return extractor.extract_all_features(parselmouth.Sound(signal, audio.SAMPLE_RATE))

    return VERSION, extract


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=REPO / "data" / "demo" / "demo.csv")
    parser.add_argument("--limit", type=int, default=None, help="only the first N recordings")
    parser.add_argument("--nkululeko", type=Path, default=None, help="also time Nkululeko's")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "praat.md")
    args = parser.parse_args()
    table = pd.read_csv(args.csv).head(args.limit)
    signals = [audio.read(str(args.csv.parent / path), None, None) for path in table["file"]]
    seconds_of_audio = sum(len(s) for s in signals) / audio.SAMPLE_RATE
    old, old_columns = old_extractor()
    sets = {
        f"sauti before issue 16 ({OLD_COMMIT})": (old, old_columns),
        f"sauti, Nkululeko's set, Praat's ceilings ({SET51_COMMIT})": old_extractor(SET51_COMMIT),
        "sauti, definitions nkululeko (the default)": (
            praat_features.nkululeko_praat_features,
            len(praat_features.NKULULEKO_NAMES),
        ),
        "sauti, definitions sauti": (praat_features.praat_features, len(praat_features.NAMES)),
    }
    if args.nkululeko:
        version, extract = nkululeko_extractor(args.nkululeko)
        sets[f"Nkululeko {version} (feats_praat_core)"] = (extract, 45)
    spent = dict.fromkeys(sets, 0.0)
    for signal in signals:  # alternate per file: both sets see the same load
        for name, (extract, _) in sets.items():
            started = time.perf_counter()
            extract(signal)
            spent[name] += time.perf_counter() - started
    base = spent[next(iter(sets))]
    lines = [
        "# praat features: cost per second of audio",
        "",
        # docs/benchmarks.md includes the section `cost` (pymdownx.snippets markers)
        "<!-- --8<-- [start:cost] -->",
        f"{len(signals)} recordings of {args.csv.name}, {seconds_of_audio:.1f} s of audio "
        f"(mean {seconds_of_audio / len(signals):.2f} s), one thread, "
        f"{platform.processor() or platform.machine()}, numpy {np.__version__}, "
        f"parselmouth (Praat {praat_features.parselmouth.PRAAT_VERSION}).",
        "",
        "| praat set | columns | extraction s | ms per file | s per s of audio | vs old |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (_, columns) in sets.items():
        seconds = spent[name]
        lines.append(
            f"| {name} | {columns} | {seconds:.1f} | {1000 * seconds / len(signals):.0f} | "
            f"{seconds / seconds_of_audio:.3f} | {seconds / base:.2f}x |"
        )
    lines += ["", "<!-- --8<-- [end:cost] -->"]
    text = "\n".join(lines) + "\n"
    write_text(args.out, text)  # atomic, parent folders made
    print(text)


if __name__ == "__main__":
    main()
