"""Where sauti's shipped files live.

sauti is installed from its repository checkout (`pip install -e .` via `make`), because the
Snakemake workflow (Snakefile, workflow/) is part of the checkout; the library finds it from here.
SAUTI_WORKFLOW_DIR overrides the location for unusual installs.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(os.environ.get("SAUTI_WORKFLOW_DIR", Path(__file__).resolve().parents[2]))
SNAKEFILE = REPO / "Snakefile"
SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"
