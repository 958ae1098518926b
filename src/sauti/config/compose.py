"""Several experiments from one config: lists, grids, multidb matrices, ensembles and OPTIM.

Why a step before `config.resolve`: a GRID or MULTIDB section describes *many* experiments and
an ENSEMBLE file describes none of its own, so neither is one experiment the schema could
resolve. `expand` turns any config file into the plain experiment configs it stands for, plus
descriptions of what to compare or combine over them. The registry then plans those
experiments exactly as if they had been listed one by one, so stages they share get equal keys
and run once, and `sauti.workflow.composite.Composite` adds the stages and per-name rules on
top:

=============  ==========================================  ===================================
config         expands to                                  writes
=============  ==========================================  ===================================
experiments:   the listed files' experiments               (with EXP.name) <name>/grid/summary
GRID           one experiment per combination              <name>/grid/summary.{csv,md,png}
MULTIDB        one per (train db, test db) pair            <name>/multidb/matrix.{csv,md}, ...
ENSEMBLE       its members (their own files)               <name>/metrics.json, report.html ...
OPTIM          (inside one experiment) a keyed optim stage <name>/optim/results.{csv,md}, ...
=============  ==========================================  ===================================
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

from sauti.config.read import read_file
from sauti.config.resolve import experiment_files, normalise, resolve
from sauti.config.schema import ConfigError, describe_error, schema
from sauti.config.sections import ensemble as ensemble_section
from sauti.core.suggest import did_you_mean

#: Sections that make a file stand for other experiments (at most one per file).
COMPOSITE_SECTIONS = ("GRID", "MULTIDB", "ENSEMBLE")
#: Sections a GRID may not vary (they describe the grid itself, or the name it derives).
NOT_GRIDDABLE = ("GRID", "MULTIDB", "ENSEMBLE", "EXP.name", "EXP.root")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
#: EXP keys a file without experiments of its own (ensemble, list comparison) may hold.
NAME_ONLY_EXP = ("name", "root")


@dataclass
class EnsembleSpec:
    name: str
    root: str
    members: list[str]
    method: str
    threshold: float
    sources: dict[str, str]


@dataclass
class SummarySpec:
    """A grid (axes and each member's values) or a listed comparison (no axes)."""

    name: str
    root: str
    members: list[str]
    axes: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class MultiDBSpec:
    name: str
    root: str
    databases: list[str]
    cells: list[tuple[str, str, str]]  # (train db, test db, experiment name)


@dataclass
class Expansion:
    """Plain experiment configs (resolved, unique names) and what to build over them."""

    configs: list[dict] = field(default_factory=list)
    ensembles: list[EnsembleSpec] = field(default_factory=list)
    grids: list[SummarySpec] = field(default_factory=list)
    multidbs: list[MultiDBSpec] = field(default_factory=list)

    def names(self) -> list[str]:
        return [c["EXP"]["name"] for c in self.configs]

    def add(self, cfg: dict) -> None:
        """Add one experiment; the same experiment reached twice (an ensemble member that is
        also listed) is kept once, two different ones with one name are an error."""
        name = cfg["EXP"]["name"]
        for known in self.configs:
            if known["EXP"]["name"] == name:
                if _comparable(known) != _comparable(cfg):
                    raise ConfigError(
                        f"{cfg.get('_source')}: two different experiments share the name {name!r} "
                        f"(the other is in {known.get('_source')}); EXP.name must be unique"
                    )
                return
        self.configs.append(cfg)

    def merge(self, other: Expansion) -> None:
        for cfg in other.configs:
            self.add(cfg)
        self.ensembles += other.ensembles
        self.grids += other.grids
        self.multidbs += other.multidbs

    def roots(self) -> set[str]:
        return {s.root for s in (*self.ensembles, *self.grids, *self.multidbs)}

    def root(self) -> str:
        """The EXP.root of everything expanded: one, after `check_together`."""
        return min({c["EXP"]["root"] for c in self.configs} | self.roots())

    def composite_names(self) -> list[str]:
        return [s.name for s in (*self.ensembles, *self.grids, *self.multidbs)]


def _comparable(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "_source"}


# --------------------------------------------------------------------------- expansion


def expand(raw: dict, source: str = "config") -> Expansion:
    """Any config (one experiment, a list, a grid, a multidb or an ensemble) -> Expansion of
    experiments that can run together (`check_together`)."""
    out = _expand(raw, source)
    check_together(out, source)
    return out


def _expand(raw: dict, source: str) -> Expansion:
    """`expand` without the check across everything run together: a listed file's part."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (EXP, DATA, ...)")
    source = raw.get("_source", source)
    if "FLAGS" in raw or "ENSEMBLE" in raw:  # Nkululeko's keys (FLAGS is its GRID) first
        raw = {**normalise(raw, source), "_source": source}
    if "experiments" in raw:
        out = _expand_list(raw, source)
    else:
        active = [s for s in COMPOSITE_SECTIONS if _active(raw, s)]
        if len(active) > 1:
            raise ConfigError(
                f"{source}: a file may hold one of [GRID], [MULTIDB] or [ENSEMBLE], not {' and '.join(active)}",
                hint="put the others in files of their own and list them under experiments",
            )
        if active == ["ENSEMBLE"]:
            out = _expand_ensemble(raw, source)
        elif active == ["GRID"]:
            out = _expand_grid(raw, source)
        elif active == ["MULTIDB"]:
            out = _expand_multidb(raw, source)
        else:
            out = Expansion()
            out.add(_resolve_one(raw, source))
    _check_names(out, source)
    return out


def expand_files(files: list[str]) -> Expansion:
    out = Expansion()
    for f in files:
        raw = read_file(f)
        raw.setdefault("_source", str(f))
        out.merge(expand(raw, str(f)))
    _check_names(out, ", ".join(map(str, files)))
    check_together(out, ", ".join(map(str, files)))
    return out


def _active(raw: dict, section: str) -> bool:
    body = raw.get(section)
    if section == "ENSEMBLE":
        # an ensemble file has no DATA of its own; a resolved experiment carries the defaults
        return section in raw and (
            "DATA" not in raw or bool(isinstance(body, dict) and body.get("experiments"))
        )
    if section == "MULTIDB":
        return isinstance(body, dict) and bool(body.get("databases"))
    return bool(body)


def _resolve_one(raw: dict, source: str) -> dict:
    """One experiment: resolved and checked (config.resolve), and a name of its own."""
    cfg = resolve(raw, source)
    if cfg["EXP"]["name"] == "cache":
        raise ConfigError(
            f"{cfg.get('_source', source)}: [EXP] name 'cache' is reserved (it holds the keyed stages)"
        )
    return cfg


def member_path(entry: str, source: str) -> Path:
    """A listed file: relative to the working directory, else to the listing file's folder."""
    path = Path(entry)
    if path.is_absolute() or path.exists():
        return path
    beside = Path(source).parent / entry
    if beside.exists():
        return beside
    raise ConfigError(
        f"{source}: listed experiment file {entry} not found",
        hint="paths are relative to the working directory",
    )


def _read_member(entry: str, source: str) -> Expansion:
    path = member_path(entry, source)
    raw = read_file(path)
    raw.setdefault("_source", str(entry))
    return _expand(raw, str(entry))


def _expand_list(raw: dict, source: str) -> Expansion:
    """`experiments: [a.yaml, b.ini]`; with `EXP: {name}` also a comparison summary."""
    rest = {k: v for k, v in raw.items() if k != "EXP"}
    files = experiment_files(rest, source)
    out = Expansion()
    members: list[str] = []
    for entry in files:
        sub = _read_member(entry, source)
        members += [n for n in sub.names() if n not in members]
        out.merge(sub)
    if "EXP" in raw:
        name, root = _name_root(raw["EXP"], source)
        out.grids.append(SummarySpec(name, root or _members_root(out, members), members))
    return out


def _members_root(out: Expansion, members: list[str]) -> str:
    """The root a name-only file inherits: its members' (check_together: they agree)."""
    roots = [c["EXP"]["root"] for c in out.configs if c["EXP"]["name"] in members]
    return roots[0] if roots else schema()["properties"]["EXP"]["properties"]["root"]["default"]


def _name_root(exp, source: str) -> tuple[str, str | None]:
    """EXP of a file without an experiment of its own: only name (required) and root (None
    when not given: the members' root is used)."""
    props = schema()["properties"]["EXP"]["properties"]
    spec = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {k: props[k] for k in NAME_ONLY_EXP},
    }
    if not isinstance(exp, dict):
        raise ConfigError(f"{source}: [EXP] must be a section of keys, got {exp!r}")
    for key in exp:
        if key not in NAME_ONLY_EXP:
            raise ConfigError(
                f"{source}: [EXP] {key!r} has no effect here; this file only names the result (EXP.name, EXP.root)",
                hint="set it in the member experiments",
            )
    _validate(exp, spec, ["EXP"], source)
    return exp["name"], exp.get("root")


def _validate(body, spec: dict, path: list[str], source: str) -> None:
    errors = sorted(
        jsonschema.Draft202012Validator(spec).iter_errors(body),
        key=lambda e: len(e.absolute_path),
    )
    if errors:
        err = errors[0]
        raise ConfigError(
            f"{source}: {describe_error(err, path + [str(p) for p in err.absolute_path], body)}"
        )


def _section(raw: dict, section: str, source: str) -> dict:
    """Validate one composite section against its schema (did-you-mean on unknown keys) and
    fill its defaults."""
    spec = schema()["properties"][section]
    body = raw.get(section)
    if not isinstance(body, dict):
        raise ConfigError(f"{source}: [{section}] must be a section of keys, got {body!r}")
    known = spec.get("properties", {})
    for key in body:
        if known and key not in known:
            raise ConfigError(
                f"{source}: [{section}] unknown key '{key}'{did_you_mean(key, known)}"
            )
    _validate(body, spec, [section], source)
    filled = copy.deepcopy(body)
    for key, keyspec in known.items():
        if "default" in keyspec:
            filled.setdefault(key, copy.deepcopy(keyspec["default"]))
    return filled


# --------------------------------------------------------------------------- ENSEMBLE


def _expand_ensemble(raw: dict, source: str) -> Expansion:
    extra = sorted(set(raw) - {"EXP", "ENSEMBLE", "_source"})
    if extra:
        raise ConfigError(
            f"{source}: an ensemble file holds only [EXP] (name, root) and [ENSEMBLE], not {extra}",
            hint="these settings belong in the member experiments",
        )
    if "EXP" not in raw:
        raise ConfigError(f"{source}: missing required section [EXP] (the ensemble's name)")
    name, root = _name_root(raw["EXP"], source)
    section = _section(raw, "ENSEMBLE", source)
    out = Expansion()
    members: list[str] = []
    sources: dict[str, str] = {}
    for entry in section["experiments"]:
        sub = _read_member(entry, source)
        if sub.ensembles:
            raise ConfigError(
                f"{source}: [ENSEMBLE] member {entry} is itself an ensemble; list its members instead"
            )
        for member in sub.names():
            if member not in members:
                members.append(member)
                sources[member] = str(entry)
        out.merge(sub)
    if len(members) < 2:
        raise ConfigError(
            f"{source}: [ENSEMBLE] experiments: an ensemble needs at least 2 member experiments (found {len(members)})"
        )
    configs = {c["EXP"]["name"]: c for c in out.configs}
    ensemble_section.check_members(name, section, [configs[m] for m in members], source)
    out.ensembles.append(
        EnsembleSpec(
            name,
            root or _members_root(out, members),
            members,
            section["method"],
            float(section["threshold"]),
            sources,
        )
    )
    return out


# --------------------------------------------------------------------------- GRID


def value_label(value) -> str:
    """A grid value as part of an experiment name: lists joined with +, odd characters -> _."""
    if isinstance(value, list | tuple):
        text = "+".join(value_label(v) for v in value)
    elif value is None:
        text = "none"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, dict):
        text = "+".join(f"{k}{value_label(v)}" for k, v in value.items())
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text) or "empty"


def _name_part(key: str, value, label: str) -> str:
    return f"{key}{label}" if value is None or isinstance(value, bool | int | float) else label


def set_key(cfg: dict, dotted: str, value) -> None:
    """Set a dotted key (FEATS.type, DATA.<db>.test_size) in a normalised config."""
    parts = dotted.split(".")
    node = cfg
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None else {"path": child} if isinstance(child, str) else child
            if not isinstance(child, dict):
                raise ConfigError(f"GRID key {dotted}: {part} is not a section")
            node[part] = child
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def _grid_axes(grid, source: str) -> dict:
    if not isinstance(grid, dict):
        raise ConfigError(f"{source}: [GRID] must map config keys to lists of values, got {grid!r}")
    sections = schema()["properties"]
    for key, values in grid.items():
        section = str(key).split(".", 1)[0]
        if "." not in str(key) or section not in sections or section.startswith("_"):
            raise ConfigError(
                f"{source}: [GRID] {key!r} is not a dotted config key like FEATS.type or MODEL.C_val"
                f"{did_you_mean(section, [s for s in sections if not s.startswith('_')])}"
            )
        if any(str(key) == n or section == n for n in NOT_GRIDDABLE):
            raise ConfigError(
                f"{source}: [GRID] {key} cannot be varied (each grid experiment gets its own name)"
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"{source}: [GRID] {key}: expected a non-empty list of values, got {values!r}"
            )
    return grid


def _expand_grid(raw: dict, source: str) -> Expansion:
    axes = _grid_axes(raw["GRID"], source)
    base = normalise({k: v for k, v in raw.items() if k not in ("GRID", "_source")}, source)
    name = _base_name(base, source)
    combos = list(itertools.product(*axes.values()))
    labels = [[value_label(v) for v in combo] for combo in combos]
    short = [k.rsplit(".", 1)[-1] for k in axes]
    # a number says nothing without its key (C_val1), a word does (svm, praat+mfcc)
    names = [
        f"{name}-"
        + "-".join(_name_part(s, v, p) for s, v, p in zip(short, combo, parts, strict=True))
        for combo, parts in zip(combos, labels, strict=True)
    ]
    if len(set(names)) < len(names):  # words that repeat across axes: say the key everywhere
        names = [
            f"{name}-{'-'.join(f'{s}{p}' for s, p in zip(short, parts, strict=True))}"
            for parts in labels
        ]
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ConfigError(
            f"{source}: [GRID] two combinations give the same experiment name {twice!r}",
            hint="grid values must differ in letters, digits or _ . + -",
        )
    out = Expansion()
    values = {}
    for experiment, combo, parts in zip(names, combos, labels, strict=True):
        cfg = copy.deepcopy(base)
        for key, value in zip(axes, combo, strict=True):
            set_key(cfg, key, value)
        cfg.setdefault("EXP", {})["name"] = experiment
        out.add(_resolve_one(cfg, f"{source} (grid experiment {experiment})"))
        values[experiment] = [
            parts[i] if isinstance(v, list | dict) else str(v) for i, v in enumerate(combo)
        ]
    out.grids.append(SummarySpec(name, _root(base), names, list(axes), values))
    return out


def _base_name(base: dict, source: str) -> str:
    exp = base.get("EXP")
    if not isinstance(exp, dict) or "name" not in exp:
        raise ConfigError(
            f"{source}: [EXP] missing required key 'name' (the grid's experiments are named after it)"
        )
    if not isinstance(exp["name"], str) or not NAME.match(exp["name"]):
        raise ConfigError(
            f"{source}: [EXP] name: {exp['name']!r} contains characters that are not allowed (letters, digits, _ . + -)"
        )
    return exp["name"]


def _root(base: dict) -> str:
    return (base.get("EXP") or {}).get("root") or schema()["properties"]["EXP"]["properties"][
        "root"
    ]["default"]


# --------------------------------------------------------------------------- MULTIDB


def _expand_multidb(raw: dict, source: str) -> Expansion:
    section = _section(raw, "MULTIDB", source)
    base = normalise({k: v for k, v in raw.items() if k not in ("MULTIDB", "_source")}, source)
    name = _base_name(base, source)
    data = base.get("DATA") or {}
    available = list(data.get("databases") or [])
    dbs = section["databases"]
    if len(dbs) < 2 or len(set(dbs)) != len(dbs):
        raise ConfigError(
            f"{source}: [MULTIDB] databases: needs at least 2 different databases, got {dbs}"
        )
    for db in dbs:
        if db not in available:
            raise ConfigError(
                f"{source}: [MULTIDB] database {db!r} is not in DATA.databases {available}{did_you_mean(db, available)}"
            )
    if (base.get("EXP") or {}).get("traindevtest"):
        raise ConfigError(
            f"{source}: [MULTIDB] needs EXP.traindevtest = False: a cell that trains on one "
            "whole database and tests on another has no dev split"
        )
    out = Expansion()
    cells = []
    for train in dbs:
        for test in dbs:
            cfg = copy.deepcopy(base)
            keep = [train] if train == test else [train, test]
            for other in available:
                if other not in keep:
                    cfg["DATA"].pop(other, None)
            cfg["DATA"]["databases"] = keep
            if train != test:
                cfg["DATA"][train] = {**cfg["DATA"][train], "split_strategy": "train"}
                cfg["DATA"][test] = {**cfg["DATA"][test], "split_strategy": "test"}
            experiment = f"{name}-{train}-{test}"
            cfg["EXP"]["name"] = experiment
            out.add(_resolve_one(cfg, f"{source} (multidb cell {experiment})"))
            cells.append((train, test, experiment))
    out.multidbs.append(MultiDBSpec(name, _root(base), dbs, cells))
    return out


# --------------------------------------------------------------------------- names


def _check_names(out: Expansion, source: str) -> None:
    experiments = set(out.names())
    seen: set[str] = set()
    for spec in out.ensembles:
        if spec.name in experiments:
            raise ConfigError(
                f"{source}: ensemble {spec.name!r} has the name of an experiment; both would write {spec.root}/{spec.name}/"
            )
        if spec.name in seen:
            raise ConfigError(f"{source}: two ensembles share the name {spec.name!r}")
        seen.add(spec.name)
    for name in out.composite_names():
        if name == "cache":
            raise ConfigError(f"{source}: the name 'cache' is reserved (it holds the keyed stages)")


def check_together(out: Expansion, source: str) -> None:
    """What the experiments run together (one Snakemake run, one `sauti check`) must share:
    one EXP.root, under which `cache/` holds their keyed stages."""
    roots = {c["EXP"]["root"] for c in out.configs} | out.roots()
    if len(roots) > 1:
        raise ConfigError(
            f"{source}: experiments run together must share EXP.root (found {sorted(roots)})"
        )


# --------------------------------------------------------------------------- sauti run


def runnable(raw: dict, path: str) -> tuple[dict, str, str]:
    """What `sauti run` writes for Snakemake: (config, name, root).

    A single experiment is resolved (every default filled, so the written file is complete);
    a list, grid, multidb or ensemble file is checked by expanding it (errors name the
    original file before any job starts) and written as given, with listed files made absolute.
    """
    composite = "experiments" in raw or any(_active(raw, s) for s in COMPOSITE_SECTIONS)
    if not composite:
        cfg = _resolve_one(raw, path)
        return cfg, cfg["EXP"]["name"], cfg["EXP"]["root"]
    expansion = expand(raw, path)
    cfg = copy.deepcopy(raw)
    if "experiments" in cfg:
        cfg["experiments"] = [str(member_path(f, path).resolve()) for f in cfg["experiments"]]
    if isinstance(cfg.get("ENSEMBLE"), dict) and cfg["ENSEMBLE"].get("experiments"):
        cfg["ENSEMBLE"]["experiments"] = [
            str(member_path(f, path).resolve()) for f in cfg["ENSEMBLE"]["experiments"]
        ]
    exp = cfg.get("EXP") if isinstance(cfg.get("EXP"), dict) else {}
    name = exp.get("name") or Path(path).stem
    roots = sorted({c["EXP"]["root"] for c in expansion.configs} | expansion.roots())
    return cfg, name, exp.get("root") or roots[0]
