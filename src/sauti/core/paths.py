"""Where sauti's shipped files live.

sauti is installed from its repository checkout (`pip install -e .` via `make`), because the
Snakemake workflow (Snakefile, workflow/) is part of the checkout; the library finds it from here.
SAUTI_WORKFLOW_DIR overrides the location for unusual installs.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(os.environ.get("SAUTI_WORKFLOW_DIR", Path(__file__).resolve().parents[3]))
SNAKEFILE = REPO / "Snakefile"
SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"

#: The corpora sauti's examples use (data/<folder>/<csv>) and the scripts that build them, so a
#: missing one is answered with the command that makes it (examples are not shipped with audio).
CORPUS_BUILDERS = {
    "demo.csv": "build_demo_corpus.sh",
    "kws.csv": "build_kws_corpus.sh",
    "large.csv": "build_large_corpus.sh",
    "sentences.csv": "build_sentence_corpus.sh",
    "separation.csv": "build_separation_corpus.sh",
}


def corpus_build_command(path: str | Path) -> str | None:
    """`bash .../build_sentence_corpus.sh data/sentences` for a missing corpus CSV, else None."""
    script = CORPUS_BUILDERS.get(Path(path).name)
    if script is None:
        return None
    return f"bash {_shown(REPO / 'resources' / 'demo' / script)} {_shown(Path(path).parent)}"


def _shown(path: Path) -> str:
    """Relative to the working directory when inside it, else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative
