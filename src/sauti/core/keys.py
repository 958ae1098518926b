"""Cache keys: a keyed stage instance is its name plus a hash of everything that decides its output.

Why keys: every stage writes under `<root>/cache/<stage>/<key>/`, where `key` is a short hash of
the stage's own config slice (key-sorted), the keys of the stages it reads from, the content
digests of the data it reads directly (sauti.core.digests), the versions of the libraries that
make its values (sauti.core.versions) and its version number (Keyed.version). Changing one config key or
data file therefore changes the keys of exactly the stages that depend on it, Snakemake re-runs
only those, and switching back finds the old folders still there. Experiments that share a slice
share the folder, so one DAG computes it once. The sauti version is no part of a key: a release
keeps every cached result whose stage code it does not change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sauti.core.versions import stage_libraries


@dataclass(frozen=True)
class Keyed:
    """A kind of keyed stage instance: what its cache folder is called and what it computes.

    `version`: bump it when the stage's code changes what it writes, to invalidate old caches
    (tests/test_stage_sources.py fails when a module in `sources` changes without a decision).
    `output`: the file in its folder that downstream rules read. `sources`: the modules under
    src/sauti whose code makes its values (files, or folders ending in /). Each stage module
    declares its own (sauti.stages.base.StageSpec), so these facts live in one place.
    """

    name: str
    version: int
    output: str | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    stage: str
    key: str
    params: dict = field(hash=False, compare=False)
    upstream: tuple = ()
    # digests of the data files the stage reads itself (sauti.core.digests): in the key, not in params
    content: dict | None = field(default=None, hash=False, compare=False)
    kind: Keyed | None = field(default=None, hash=False, compare=False, repr=False)


def canonical(value) -> str:
    """Key-sorted JSON: equal slices give equal text whatever the key order in the file."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sort_keys(value):
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def make_stage(
    kind: Keyed, params: dict, upstream: tuple = (), content: dict | None = None
) -> Stage:
    """The keyed stage: `content` holds digests of the data files it reads (not config), which
    its job checks again before it writes (sauti.core.digests)."""
    params = sort_keys(params)
    stage = kind.name
    text = canonical(
        {
            "stage": stage,
            "params": params,
            "upstream": [u.key for u in upstream],
            "libraries": stage_libraries(stage, params),
            "stage_version": kind.version,
            **({"content": content} if content is not None else {}),
        }
    )
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Stage(stage, key, params, tuple(upstream), content, kind)


def rekey(stage: Stage, upstream: tuple) -> Stage:
    """The same stage (kind, params, content) reading from other upstream stages: e.g. the train
    stage of aug_train, which also reads the augmented table."""
    return make_stage(stage.kind, stage.params, upstream, stage.content)


def experiment_root(out_path: str) -> Path:
    """The experiment root of a keyed output, <root>/cache/<stage>/<key>/<file>: where the
    digest state lives (sauti.core.digests)."""
    return Path(out_path).parents[3]
