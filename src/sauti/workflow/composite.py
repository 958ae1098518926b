"""The stages and per-name rules over several experiments: ensembles, grid and multidb
summaries, OPTIM searches and `sauti resample`.

Why in workflow: config.compose expands a file into plain experiments and the descriptions of
what to build over them (sauti.config.compose.Expansion); turning those into keyed stages and
the input functions of the per-name rules is the registry's part (sauti.workflow.registry
attaches a Composite), so config never imports the planner.
"""

from __future__ import annotations

import re

from sauti.config.compose import Expansion
from sauti.core.keys import Stage, make_stage
from sauti.stages.ensemble import ENSEMBLE
from sauti.stages.optim import OPTIM
from sauti.stages.resample import (
    resample_stage_for,  # built only when `sauti resample` asks
)
from sauti.workflow.plan import ExperimentPlan


def optim_stage_for(plan: ExperimentPlan) -> Stage | None:
    """The keyed optim stage of an experiment with OPTIM.params (None without)."""
    cfg = plan.config
    if not (cfg.get("OPTIM") or {}).get("params"):
        return None
    train = plan.train.params
    params = {
        "OPTIM": cfg["OPTIM"],
        **{
            k: train[k]
            for k in (
                "MODEL",
                "type",
                "random_seed",
                "scale",
                "balancing",
                "target",
                "feature_types",
            )
        },
    }
    return make_stage(OPTIM, params, (plan.data, *plan.features))


def _pattern(names) -> str:
    """A regex matching exactly these names (and nothing when there are none)."""
    names = sorted(set(names))
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


class Composite:
    """The stages and per-name rules over experiments: what `sauti.workflow.registry.Registry` adds for
    ensembles, grids, multidb matrices and OPTIM. Rules call its methods as input functions."""

    def __init__(self, expansion: Expansion, plans: list[ExperimentPlan]):
        self.plans = {p.name: p for p in plans}
        self.ensembles = {s.name: s for s in expansion.ensembles}
        self.grids = {s.name: s for s in _unique(expansion.grids)}
        self.multidbs = {s.name: s for s in _unique(expansion.multidbs)}
        self.ensemble_stages = {
            s.name: make_stage(
                ENSEMBLE,
                {
                    "method": s.method,
                    "members": s.members,
                    **({"threshold": s.threshold} if s.method == "uncertainty_threshold" else {}),
                },
                tuple(self.plans[m].train for m in s.members),
            )
            for s in expansion.ensembles
        }
        self.optim_stages = {
            name: stage for name, plan in self.plans.items() if (stage := optim_stage_for(plan))
        }

        self.resample_stages = {n: resample_stage_for(p) for n, p in self.plans.items()}
        self.registry = None

    def stages(self) -> list[Stage]:
        return [
            *self.ensemble_stages.values(),
            *self.optim_stages.values(),
            *self.resample_stages.values(),
        ]

    def attach(self, registry) -> None:
        self.registry = registry
        for stage in self.stages():
            registry.stages.setdefault((stage.stage, stage.key), stage)

    def targets(self, root: str) -> list[str]:
        return (
            [f"{root}/{n}/report.html" for n in self.ensembles]
            + [f"{root}/{n}/grid/summary.csv" for n in self.grids]
            + [f"{root}/{n}/multidb/matrix.csv" for n in self.multidbs]
            + [f"{root}/{n}/optim/best.json" for n in self.optim_stages]
        )

    def describe(self) -> list[str]:
        """One line per ensemble, OPTIM search, grid and multidb (for `sauti check`)."""
        lines = [
            f"{n} (ensemble {self.ensembles[n].method} of {', '.join(self.ensembles[n].members)}): "
            f"ensemble={s.key}"
            for n, s in self.ensemble_stages.items()
        ]
        lines += [f"{n}: optim={s.key}" for n, s in self.optim_stages.items()]
        lines += [f"{n} (grid): {', '.join(s.members)}" for n, s in self.grids.items()]
        lines += [
            f"{n} (multidb): {', '.join(c[2] for c in s.cells)}" for n, s in self.multidbs.items()
        ]
        return lines

    def pattern(self, kind: str) -> str:
        """Wildcard constraint for per-name rules: the names of this kind in this run."""
        names = {
            "experiment": self.plans,
            "ensemble": self.ensembles,
            "grid": self.grids,
            "multidb": self.multidbs,
            "optim": self.optim_stages,
        }[kind]
        return _pattern(names)

    # ensemble -------------------------------------------------------------------------
    def ensemble_inputs(self, w) -> dict:
        trains = self.registry.stage("ensemble", w.key).upstream  # train or finetune stages
        return {
            "predictions": [self.registry.path(t.stage, t.key) for t in trains],
            "info": [self.registry.path(t.stage, t.key, "info.json") for t in trains],
        }

    def ensemble_report_inputs(self, w) -> dict:
        key = self.ensemble_stages[w.name].key
        path = self.registry.path
        return {
            "metrics": path("ensemble", key, "metrics.json"),
            "predictions": path("ensemble", key, "predictions.parquet"),
            "comparison": path("ensemble", key, "comparison.csv"),
            "images": path("ensemble", key, "images.json"),
        }

    def ensemble_report_params(self, w) -> dict:
        spec = self.ensembles[w.name]
        return {"name": spec.name, "sources": spec.sources, "key": self.ensemble_stages[w.name].key}

    # grid / multidb -------------------------------------------------------------------
    def _metrics(self, names) -> list[str]:
        return [self.registry.path("evaluate", self.plans[n].evaluate.key) for n in names]

    def grid_inputs(self, w) -> list[str]:
        return self._metrics(self.grids[w.name].members)

    def grid_params(self, w) -> dict:
        spec = self.grids[w.name]
        return {
            "name": spec.name,
            "members": spec.members,
            "axes": spec.axes,
            "values": spec.values,
        }

    def multidb_inputs(self, w) -> list[str]:
        return self._metrics([c[2] for c in self.multidbs[w.name].cells])

    def multidb_params(self, w) -> dict:
        spec = self.multidbs[w.name]
        return {
            "name": spec.name,
            "databases": spec.databases,
            "cells": [list(c) for c in spec.cells],
        }

    # optim ----------------------------------------------------------------------------
    def optim_inputs(self, w) -> dict:
        reg = self.registry
        return {
            "split": reg.path_of(reg.data_upstream("optim", w.key)),  # the experiment's data table
            "features": [reg.path_of(u) for u in reg.upstream("optim", w.key, "features")],
        }

    # resample -------------------------------------------------------------------------
    def resample_inputs(self, w) -> str:
        data = self.registry.stage("resample", w.key).upstream[0]
        return self.registry.path(data.stage, data.key)

    def optim_report_inputs(self, w) -> dict:
        key = self.optim_stages[w.name].key
        path = self.registry.path
        return {
            "results": path("optim", key, "results.csv"),
            "best": path("optim", key, "best.json"),
            "plot": path("optim", key, "optim.png"),
        }


def _unique(specs: list) -> list:
    """The same grid reached twice (listed and as an ensemble member) is summarised once."""
    seen, out = set(), []
    for spec in specs:
        if spec.name not in seen:
            seen.add(spec.name)
            out.append(spec)
    return out
