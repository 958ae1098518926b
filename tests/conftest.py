"""Shared fixtures: the real-speech demo corpus and small samples tables cut from it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import sauti.core.audio

REPO = Path(__file__).resolve().parents[1]
# `sauti run` in tests runs Snakemake as a subprocess and leaves no warm worker behind
# (sauti.app.worker); tests/test_worker.py turns it on for its own runs, in private folders.
os.environ["SAUTI_WORKER"] = "0"
# absolute: `make test` passes SAUTI_DEMO_DIR=data/demo, and workflow tests run in other folders
DEMO_DIR = Path(os.environ.get("SAUTI_DEMO_DIR", REPO / "data" / "demo")).resolve()


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The demo corpus (built by `make demo-data`); built here if missing so tests never skip."""
    if not (DEMO_DIR / ".complete").exists():
        subprocess.run(
            ["bash", str(REPO / "resources/demo/build_demo_corpus.sh"), str(DEMO_DIR)], check=True
        )
    return DEMO_DIR


@pytest.fixture(scope="session")
def demo_table(demo_dir) -> pd.DataFrame:
    """demo.csv with absolute `file` paths and whole-file start/end columns."""
    table = pd.read_csv(demo_dir / "demo.csv")
    table["file"] = [str((demo_dir / f).resolve()) for f in table["file"]]
    table["start"] = 0.0
    table["end"] = [sauti.core.audio.info(f)[0] for f in table["file"]]
    return table


@pytest.fixture(scope="session")
def small_samples(demo_table) -> pd.DataFrame:
    """24 real recordings: 3 clips from each of 4 real and 4 synthetic speakers, both genders."""
    speakers = [
        "allison",
        "carlo",
        "gcin_m",
        "gcin_f",
        "espeak_en-us_f1",
        "espeak_en-us_m1",
        "espeak_de_f2",
        "espeak_de_m2",
    ]
    rows = demo_table[demo_table["speaker"].isin(speakers)].groupby("speaker").head(3)
    return rows.reset_index(drop=True)
