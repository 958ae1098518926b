"""What a stage is to the rest of sauti: one StageSpec per stage module, listed in sauti.stages.

A stage's facts used to be spread over the planner, the registry, the version table and the
source table; now its module declares them, and everything else loops over the list:
- `name`: the stage's module (sauti.stages.<name>), rule file (workflow/rules/<name>.smk),
  docs page (docs/<name>.md) and, for its main keyed stage, the rule and cache folder;
- `keyed`: the kinds of keyed instances it plans (their cache folder, version, output file and
  source modules: sauti.core.keys.Keyed);
- `rules`: the class that answers its rules' questions (inputs, params that need the plan),
  built once per registry: `REG.spec("<name>")` in its .smk;
- `plan` and `report_section`, for a stage that reads the experiment's results and adds to its
  report (an extension, e.g. uncertainty): `plan(cfg, plan)` returns its keyed stage or None
  (not asked for), called by sauti.workflow.plan after the experiment's own stages;
  `report_section(output_path)` returns the report section made from its output (a dict with
  id, title, note, table and images, as sauti.ml.report_view renders it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sauti.core.keys import Keyed


@dataclass(frozen=True)
class StageSpec:
    name: str
    keyed: tuple[Keyed, ...] = ()
    rules: Callable | None = None  # called with the registry: the stage's rule helpers
    plan: Callable | None = None  # (cfg, ExperimentPlan) -> Stage | None: an extension stage
    report_section: Callable | None = None  # (its output's path) -> the report's section
