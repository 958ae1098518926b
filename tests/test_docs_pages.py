"""The docs site has one page per workflow stage, named like the stage, and no page outside the nav.

Why: a newcomer looks a stage up by its name (the nav's Stages section lists them in pipeline
order, each page `docs/<stage>.md` starting `# <stage>:`), while `mkdocs build --strict` only
notes a page that no nav entry reaches. Nothing is listed here: the stages are read from
mkdocs.yml, the rules from the workflow.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def nav() -> list:
    return yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]


def nav_pages(entries: list) -> list[str]:
    """Every page a nav (sub)tree links, in order."""
    found = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found += nav_pages(value) if isinstance(value, list) else [value]
    return found


def stage_pages() -> dict[str, str]:
    """{nav title: page} of the Stages section."""
    section = next(e["Stages"] for e in nav() if isinstance(e, dict) and "Stages" in e)
    return {title: page for entry in section for title, page in entry.items()}


def test_every_stage_has_a_page_named_like_it():
    stages = stage_pages()
    assert stages, "mkdocs.yml has no Stages section"
    for title, page in stages.items():
        assert page == f"{title}.md", f"nav Stages: '{title}' links {page}, not {title}.md"
        path = DOCS / page
        assert path.is_file(), f"nav Stages: docs/{page} is missing"
        heading = path.read_text(encoding="utf-8").splitlines()[0]
        assert heading.startswith(f"# {title}:"), f"docs/{page} starts {heading!r}"


def test_every_docs_page_is_in_the_nav():
    listed = nav_pages(nav())
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(on_disk - set(listed)) == [], "pages no nav entry reaches"
    assert sorted(set(listed) - on_disk) == [], "nav entries without a page"
    assert len(listed) == len(set(listed)), "a page is listed twice"


def test_every_workflow_rule_belongs_to_a_stage_page():
    """A rule is a stage (`train`), a part of one (`train_net`, `optim_report`,
    `grid_summary`) or named on a stage's page (the `vad` rule on selftrain's); `all` is
    Snakemake's target rule, no stage."""
    stages = stage_pages()
    texts = [(DOCS / page).read_text(encoding="utf-8") for page in stages.values()]
    sources = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    rules = re.findall(r"^rule (\w+):", "\n".join(p.read_text() for p in sources), re.M)
    assert len(rules) > len(stages)
    orphans = [
        rule
        for rule in rules
        if rule != "all"
        and not any(rule == s or rule.startswith(f"{s}_") or rule.endswith(f"_{s}") for s in stages)
        and not any(f"`{rule}`" in text for text in texts)
    ]
    assert orphans == [], f"rules without a stage page: {orphans}"
