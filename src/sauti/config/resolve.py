"""Experiment configuration: read YAML or Nkululeko-style INI, normalise, validate, fill defaults.

Why here and not in the Snakefile: the same checks run from `sauti run`, from `snakemake
--configfile` and from tests, and a bad key must stop everything before any job starts with one
line naming the file, section and key (plus a "did you mean"). The JSON-Schema in
workflow/schemas/ is the single source of keys, types, defaults and descriptions.

The config is resolved, and checked, in one pass, always in this order:

1. read: the file into a dict (config.read; a YTE template is refused there);
2. normalise: INI and shorthand forms, Nkululeko's keys (`normalise`);
3. expand: lists, grids, multidb and ensembles into plain experiments (config.compose.expand,
   which calls `resolve` on each experiment);
4. schema and defaults: unknown keys, the JSON-Schema, every default filled, DATA's databases;
5. the section checks, in the order of SECTIONS (config.sections.<section>.check_config);
6. names and roots, across the experiments run together (config.compose: unique names, no
   experiment named 'cache', one EXP.root).

Planning (sauti.workflow.plan, the stage modules) and the registry are pure functions of the
result: they never raise ConfigError (tests/test_config_pass.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from sauti.config import nkululeko
from sauti.config.read import read_file
from sauti.config.schema import (
    ConfigError,
    database_keys,
    database_properties,
    describe_error,
    schema,
)
from sauti.config.sections import (
    augment,
    feats,
    finetune,
    model,
    optim,
    plot,
    predict,
    segment,
    selftrain,
    separate,
    spectra,
    ssl,
    tests,
)
from sauti.config.sections.optim import normalise_section
from sauti.core.suggest import did_you_mean

#: Nkululeko spellings accepted and rewritten to sauti's one name for the same thing.
ALIASES = {("DATA", "limit_samples_per_speaker"): "samples_per_speaker"}
#: The sections whose checks go beyond the schema, checked in this order once every default is
#: filled (AUGMENT's also fills each augmentation's parameters); see sauti.config.sections.
#: After the checks of each section on its own come those that planning used to make (in the
#: order it met them): SSL.enabled for the encoder's users (in ssl), SEGMENT.databases,
#: what MODEL.type finetune refuses, PREDICT.targets and device, DATA.tests' names and the
#: FEATS.<type>.device words.
SECTIONS = (
    augment,
    model,
    spectra,
    selftrain,
    ssl,
    separate,
    optim,
    segment,
    finetune,
    predict,
    tests,
    feats,
    plot,
)


def normalise(raw: dict, source: str | None = None) -> dict:
    """Bring INI-style and shorthand forms to the canonical nested form the schema describes.

    - `DATA.<db>.<option>` flat keys go into `DATA.<db>` mappings; a bare path becomes {path: ...}
    - a single FEATS.type / EXPL list value given as a string becomes a one-element list
    - Nkululeko aliases get sauti's name
    - every key of Nkululeko's INI reference is translated or acknowledged (sauti.config.nkululeko,
      one warning line each)
    """
    cfg = copy.deepcopy(raw)
    source = source or str(raw.get("_source", "config"))
    for (section, old), new in ALIASES.items():
        body = cfg.get(section)
        if isinstance(body, dict) and old in body and new not in body:
            body[new] = body.pop(old)
    feats = cfg.get("FEATS")
    if isinstance(feats, dict) and isinstance(feats.get("type"), str):
        feats["type"] = [feats["type"]]
    for key in ("model", "scatter"):
        expl = cfg.get("EXPL")
        if isinstance(expl, dict) and isinstance(expl.get(key), str):
            expl[key] = [expl[key]]
    data = cfg.get("DATA")
    if isinstance(data, dict):
        dbs = data.get("databases")
        if isinstance(dbs, str):
            data["databases"] = dbs = [dbs]
        names = set(database_keys(data))
        for key in list(data):
            if "." in key and key.split(".", 1)[0] in names:
                db, option = key.split(".", 1)
                spec = data.get(db)
                if not isinstance(spec, dict):
                    spec = {} if spec is None else {"path": spec}
                    data[db] = spec
                spec[option] = data.pop(key)
        for name in names:
            if isinstance(data.get(name), str):
                data[name] = {"path": data[name]}
    cfg, notes = nkululeko.translate(cfg, source)
    for line in notes:
        nkululeko.warn(line)
    optim = cfg.get("OPTIM")
    # Nkululeko writes [OPTIM] C_val = [...] flat: its MODEL keys go into OPTIM.params
    if isinstance(optim, dict) and set(optim) - set(schema()["properties"]["OPTIM"]["properties"]):
        cfg["OPTIM"] = normalise_section(cfg["OPTIM"])
    return cfg


def resolve(raw: dict, source: str = "config") -> dict:
    """Normalise, validate and fill defaults; return the resolved experiment config.

    Raises ConfigError with one line like
    `my.ini: [MODEL] unknown key 'C_vall' (did you mean 'C_val'?)`.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (EXP, DATA, ...)")
    source = raw.get("_source", source)
    cfg = normalise(raw, source)
    _check_unknown(cfg, source)
    _check_schema(cfg, source)
    _fill_defaults(cfg)
    _check_databases(cfg, source)
    for section in SECTIONS:
        section.check_config(cfg, source)
    cfg["_source"] = source
    return cfg


def _check_unknown(cfg: dict, source: str) -> None:
    """Unknown sections/keys first: they deserve a "did you mean" rather than a schema dump."""
    props = schema()["properties"]
    for section, body in cfg.items():
        if section not in props:
            raise ConfigError(
                f"{source}: unknown section [{section}]"
                f"{did_you_mean(section, [*props, *nkululeko.sections()])}"
            )
        if not isinstance(body, dict):
            if section != "_source":
                raise ConfigError(f"{source}: [{section}] must be a section of keys, got {body!r}")
            continue
        if "properties" not in props[section]:
            continue  # a free-form mapping (GRID): the schema checks its keys and values
        known = props[section].get("properties", {})
        databases = database_keys(body) if section == "DATA" else []
        for key in body:
            if section == "DATA" and key in databases:
                _check_database_options(key, body[key], source)
                continue
            if key not in known:
                if section == "DATA" and not did_you_mean(key, list(known)):
                    raise ConfigError(
                        f"{source}: [DATA] unknown key '{key}' (a database must also be listed in DATA.databases, DATA.tests or DATA.unlabelled)"
                    )
                raise ConfigError(
                    f"{source}: [{section}] unknown key '{key}'"
                    f"{did_you_mean(key, [*known, *nkululeko.keys(section)]) or _elsewhere(key, section)}"
                )


def _check_database_options(name: str, spec, source: str) -> None:
    if not isinstance(spec, dict):
        return
    known = database_properties()
    for option in spec:
        if option not in known:
            raise ConfigError(
                f"{source}: [DATA] unknown option '{name}.{option}'"
                f"{did_you_mean(option, [*known, *nkululeko.keys('DATABASE')])}"
            )
    errors = list(
        jsonschema.Draft202012Validator({"type": "object", "properties": known}).iter_errors(spec)
    )
    if errors:
        err = errors[0]
        path = ["DATA", name] + [str(p) for p in err.absolute_path]
        raise ConfigError(f"{source}: {describe_error(err, path, spec)}")


def _check_schema(cfg: dict, source: str) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(
        validator.iter_errors(cfg),
        key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))),
    )
    if not errors:
        return
    err = errors[0]
    path = [str(p) for p in err.absolute_path]
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    raise ConfigError(f"{source}: {describe_error(err, path, cfg)}{more}")


def _fill_defaults(cfg: dict) -> None:
    """Every section gets every key's default, so stage keys never depend on what was omitted."""
    props = schema()["properties"]
    for section, spec in props.items():
        if section.startswith("_"):
            continue
        body = cfg.setdefault(section, {})
        for key, keyspec in spec.get("properties", {}).items():
            if "default" in keyspec and key not in body:
                body[key] = copy.deepcopy(keyspec["default"])
    db_props = database_properties()
    for name in database_keys(cfg["DATA"]):
        spec = cfg["DATA"].get(name)
        if isinstance(spec, dict):
            for key, keyspec in db_props.items():
                if "default" in keyspec and key not in spec:
                    spec[key] = copy.deepcopy(keyspec["default"])


def _check_databases(cfg: dict, source: str) -> None:
    data = cfg["DATA"]
    names = data["databases"]
    for name in names:
        if name not in data:
            raise ConfigError(
                f"{source}: [DATA] database '{name}' is listed in databases but has no key '{name}' giving its path"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: [DATA] databases lists a name twice: {names}")
    for name in database_keys(data)[len(names) :]:
        if name not in data:
            lists = [k for k in ("tests", "unlabelled") if name in (data.get(k) or [])]
            raise ConfigError(
                f"{source}: [DATA] {' and '.join(lists) or 'tests'} names database '{name}' but there is no key '{name}' giving its path",
                hint="add it like the training databases, or give a path (containing / or .) instead",
            )


def _elsewhere(key: str, section: str) -> str:
    """'random_seed' under MODEL: point to the section where the key lives."""
    for other, spec in schema()["properties"].items():
        if other != section and key in spec.get("properties", {}):
            return f" (it belongs in [{other}])"
    return ""


def experiment_files(raw: dict, source: str) -> list[str] | None:
    """A config may list experiment files under `experiments:` to run them in one DAG."""
    if "experiments" not in raw:
        return None
    files = raw["experiments"]
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise ConfigError(f"{source}: 'experiments' must be a non-empty list of config file paths")
    extra = sorted(set(raw) - {"experiments", "_source"})
    if extra:
        raise ConfigError(
            f"{source}: a file with 'experiments' holds only that list; move {extra} into the experiment files"
        )
    return files


def load_experiments(raw: dict, source: str, base: Path | None = None) -> list[dict]:
    """Resolve a config that is one experiment or lists several (`experiments: [a.ini, b.yaml]`)."""
    files = experiment_files(raw, source)
    if files is None:
        return [resolve(raw, source)]
    base = base or Path.cwd()
    configs = [resolve(read_file(base / f), str(f)) for f in files]
    names = [c["EXP"]["name"] for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f"{source}: two experiments share the name {dupes[0]!r}; EXP.name must be unique"
        )
    return configs


def to_yaml(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
