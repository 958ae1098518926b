"""Which source modules compute each keyed stage, and their digests: the STAGE_VERSIONS guard.

Why: cache keys no longer carry the sauti version (a release would throw away every cached
result), so a change to a stage's code must bump its version (Keyed.version in the stage's module) or old
results of the old code would be reused. tests/test_stage_sources.py compares the digests of
each stage's modules with the ones recorded in tests/stage_sources.json and fails when they
differ; after deciding whether the change alters what the stage writes (then bump its
STAGE_VERSIONS number), record the new digests deliberately with

    python -m sauti.workflow.stage_sources --record

A module's digest is that of its syntax tree without docstrings, so comments, docstrings and
formatting never ask for a bump.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

from sauti.core.digests import hash_bytes
from sauti.stages import KEYED

PACKAGE = Path(__file__).resolve().parents[1]
RECORD = PACKAGE.parents[1] / "tests" / "stage_sources.json"

#: Keyed stage -> its version and the modules (files, or folders ending in /) under src/sauti
#: whose code makes its values; each stage module declares them (sauti.stages.<stage>.SPEC).
STAGE_VERSIONS = {name: kind.version for name, kind in KEYED.items()}
STAGE_SOURCES = {name: kind.sources for name, kind in KEYED.items()}


def _files(entries) -> list[Path]:
    files = []
    for entry in entries:
        path = PACKAGE / entry
        files += sorted(path.rglob("*.py")) if entry.endswith("/") else [path]
    return files


def module_digest(path: Path) -> str:
    """Digest of a module's code: its syntax tree with docstrings removed."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return hash_bytes(ast.dump(tree))


def current() -> dict:
    """{stage: {"version", "sources": {module: digest}}} of the working tree."""
    return {
        stage: {
            "version": STAGE_VERSIONS[stage],
            "sources": {
                str(f.relative_to(PACKAGE)): module_digest(f) for f in _files(STAGE_SOURCES[stage])
            },
        }
        for stage in sorted(STAGE_SOURCES)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help=f"write {RECORD}")
    args = parser.parse_args()
    text = json.dumps(current(), indent=1, sort_keys=True) + "\n"
    if args.record:
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(text, encoding="utf-8")
        print(f"recorded {RECORD}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
