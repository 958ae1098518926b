"""A stage's code cannot change without a deliberate decision about its STAGE_VERSIONS number.

Cache keys carry STAGE_VERSIONS, not the sauti version (sauti.workflow.plan): a changed stage module whose
number stays the same would let old cached results of the old code stand. The recorded digests
in tests/stage_sources.json make that change visible.
"""

from __future__ import annotations

import json

from sauti.workflow import stage_sources
from sauti.workflow.stage_sources import STAGE_VERSIONS

COMMAND = "python -m sauti.workflow.stage_sources --record"


def test_every_keyed_stage_names_its_source_modules():
    assert set(stage_sources.STAGE_SOURCES) == set(STAGE_VERSIONS)
    for stage in stage_sources.STAGE_SOURCES:
        files = stage_sources._files(stage_sources.STAGE_SOURCES[stage])
        assert files and all(f.is_file() for f in files), stage


def test_stage_sources_match_the_recorded_digests():
    recorded = json.loads(stage_sources.RECORD.read_text(encoding="utf-8"))
    problems = []
    for stage, now in stage_sources.current().items():
        before = recorded.get(stage)
        if before is None:
            problems.append(f"{stage}: not recorded yet")
            continue
        changed = sorted(
            m for m in set(now["sources"]) | set(before["sources"])
            if now["sources"].get(m) != before["sources"].get(m)
        )  # fmt: skip
        if changed and now["version"] == before["version"]:
            problems.append(
                f"{stage}: {', '.join(changed)} changed but STAGE_VERSIONS[{stage!r}] is still "
                f"{now['version']}: bump it if the change alters what the stage writes"
            )
        elif changed or now["version"] != before["version"]:
            problems.append(f"{stage}: version {now['version']} with new sources, not recorded")
    assert not problems, "\n".join(problems) + f"\nthen record the new digests: {COMMAND}"


def test_docstrings_and_comments_do_not_change_a_digest(tmp_path):
    plain = tmp_path / "a.py"
    documented = tmp_path / "b.py"
    changed = tmp_path / "c.py"
    plain.write_text("def f(x):\n    return x + 1\n")
    documented.write_text(
        '"""Module."""\n\n\ndef f(x):  # why\n    """Add one."""\n    return x + 1\n'
    )
    changed.write_text("def f(x):\n    return x + 2\n")
    digest = stage_sources.module_digest
    assert digest(plain) == digest(documented) != digest(changed)
