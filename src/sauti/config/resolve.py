"""Experiment configuration: read YAML or Nkululeko-style INI, normalise, validate, fill defaults.

Why here and not in the Snakefile: the same checks run from `sauti run`, from `snakemake
--configfile` and from tests, and a bad key must stop everything before any job starts with one
line naming the file, section and key (plus a "did you mean"). The JSON-Schema in
workflow/schemas/ is the single source of keys, types, defaults and descriptions.
"""

from __future__ import annotations

import ast
import configparser
import copy
import difflib
import re
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

from sauti.core.errors import SautiError
from sauti.core.paths import SCHEMA_PATH

#: Keys of DATA that are not database names.
DATA_RESERVED = (
    "databases target labels min_length max_length samples_per_speaker check_size skip_bad "
    "no_reuse tests unlabelled"
).split()

#: Nkululeko spellings accepted and rewritten to sauti's one name for the same thing.
ALIASES = {("DATA", "limit_samples_per_speaker"): "samples_per_speaker"}


class ConfigError(SautiError):
    """A config problem; the message names the file, section and key."""


@lru_cache(maxsize=1)
def schema() -> dict:
    # libyaml's loader when present: 0.3 s -> 0.03 s, paid at every Snakemake start
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA_PATH.read_text(encoding="utf-8"), Loader=loader)


def read_file(path: str | Path) -> dict:
    """Read an experiment file (.ini/.cfg or .yaml/.yml/.json) into a plain nested dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".ini", ".cfg", ".conf"):
        return parse_ini(text, str(path))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (EXP, DATA, ...) at the top")
    return data


def parse_ini(text: str, source: str = "<ini>") -> dict:
    """Parse Nkululeko INI text: values are Python literals (parsed safely), else strings."""
    # `key = value  # note` as in Nkululeko's docs: a # or ; after whitespace starts a comment
    parser = configparser.ConfigParser(
        interpolation=None, strict=True, inline_comment_prefixes=("#", ";")
    )
    parser.optionxform = str  # keys are case-sensitive (C_val, K_val)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise ConfigError(f"{source}: not a valid INI file ({str(exc).splitlines()[0]})") from exc
    return {
        section: {key: literal(value) for key, value in parser.items(section)}
        for section in parser.sections()
    }


def literal(value: str):
    """'True' -> True, "['os']" -> ['os'], '0.5' -> 0.5, './data' -> './data' (no eval)."""
    value = value.strip()
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value.lower() in ("none", "null"):
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value.strip("'\"")


def normalise(raw: dict, source: str | None = None) -> dict:
    """Bring INI-style and shorthand forms to the canonical nested form the schema describes.

    - `DATA.<db>.<option>` flat keys go into `DATA.<db>` mappings; a bare path becomes {path: ...}
    - a single FEATS.type / EXPL list value given as a string becomes a one-element list
    - Nkululeko aliases get sauti's name
    - every key of Nkululeko's INI reference is translated or acknowledged (sauti.nkululeko,
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
    from sauti.config.nkululeko import translate, warn

    cfg, notes = translate(cfg, source)
    for line in notes:
        warn(line)
    optim = cfg.get("OPTIM")
    # Nkululeko writes [OPTIM] C_val = [...] flat; only then import sauti.optim (scikit-learn,
    # 0.9 s): a resolved config (what Snakemake reads at every start) has the section keys only
    if isinstance(optim, dict) and set(optim) - set(schema()["properties"]["OPTIM"]["properties"]):
        from sauti.stages.optim import normalise_section

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
    _check_augmentations(cfg, source)
    _check_neural(cfg, source)
    _check_spectra(cfg, source)
    from sauti.stages.selftrain import check_config

    check_config(cfg, source)  # SELFTRAIN with DATA.unlabelled
    from sauti.stages.ssl import check_config as check_ssl

    check_ssl(cfg, source)  # SSL.device
    from sauti.stages.separate import check_config as check_separate

    check_separate(cfg, source)  # SEPARATE against DATA.databases and itself
    cfg["_source"] = source
    return cfg


def _check_neural(cfg: dict, source: str) -> None:
    """MODEL.device, and MODEL.loss / measure against EXP.type, at config time: a typo or a
    regression loss in a classification run should stop `sauti check`, not a train job later."""
    from sauti.config.model_options import resolve_loss, resolve_measure
    from sauti.ml.deep.device import check_device  # torch-free

    model, task = cfg["MODEL"], cfg["EXP"]["type"]
    try:
        check_device(model["device"], "MODEL.device")
        resolve_loss(model["loss"], task)
        resolve_measure(model["measure"], task)
    except SautiError as err:
        raise ConfigError(f"{source}: [MODEL] {err}") from err


def _check_spectra(cfg: dict, source: str) -> None:
    """FEATS spectra options and MODEL.type = cnn (spectra only, classification) at config time."""
    from sauti.ml.features.spectra import check_config

    try:
        check_config(cfg)
    except SautiError as err:
        raise ConfigError(f"{source}: {err}") from err


def _check_augmentations(cfg: dict, source: str) -> None:
    """AUGMENT.augmentations: known types and parameters (did-you-mean), every default filled."""
    from sauti.stages.augment import resolve_augmentations

    section = cfg["AUGMENT"]
    section["augmentations"] = resolve_augmentations(section["augmentations"], source)


def _check_unknown(cfg: dict, source: str) -> None:
    """Unknown sections/keys first: they deserve a "did you mean" rather than a schema dump."""
    props = schema()["properties"]
    for section, body in cfg.items():
        if section not in props:
            from sauti.config.nkululeko import sections

            raise ConfigError(
                f"{source}: unknown section [{section}]{_suggest(section, [*props, *sections()])}"
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
                if section == "DATA" and not _suggest(key, list(known)):
                    raise ConfigError(
                        f"{source}: [DATA] unknown key '{key}' (a database must also be listed in DATA.databases, DATA.tests or DATA.unlabelled)"
                    )
                from sauti.config.nkululeko import keys as nk_keys

                raise ConfigError(
                    f"{source}: [{section}] unknown key '{key}'"
                    f"{_suggest(key, [*known, *nk_keys(section)]) or _elsewhere(key, section)}"
                )


def _check_database_options(name: str, spec, source: str) -> None:
    if not isinstance(spec, dict):
        return
    known = _db_properties()
    for option in spec:
        if option not in known:
            from sauti.config.nkululeko import keys as nk_keys

            raise ConfigError(
                f"{source}: [DATA] unknown option '{name}.{option}'"
                f"{_suggest(option, [*known, *nk_keys('DATABASE')])}"
            )
    errors = list(
        jsonschema.Draft202012Validator({"type": "object", "properties": known}).iter_errors(spec)
    )
    if errors:
        err = errors[0]
        path = ["DATA", name] + [str(p) for p in err.absolute_path]
        raise ConfigError(f"{source}: {_describe(err, path, spec)}")


def _db_properties() -> dict:
    return schema()["properties"]["DATA"]["additionalProperties"]["oneOf"][1]["properties"]


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
    raise ConfigError(f"{source}: {_describe(err, path, cfg)}{more}")


def _describe(err: jsonschema.ValidationError, path: list[str], cfg: dict) -> str:
    where = f"[{path[0]}] " if path else ""
    key = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path[1:]).lstrip(".")
    if err.validator == "oneOf" and err.context:
        # descend into the branch that matches the value's type, where the real problem is
        relevant = [e for e in err.context if e.validator != "type" and e.validator != "const"]
        if relevant:
            sub = max(relevant, key=lambda e: len(e.absolute_path))
            return _describe(sub, path + [str(p) for p in sub.path], cfg)
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return (
            # name the mapping it is missing from, e.g. "[DATA] demo: missing required key 'path'"
            f"{where}{key + ': ' if key else ''}missing required key '{missing}'"
            if path
            else f"missing required section [{missing}]"
        )
    subject = f"{where}{key}" if key else where.strip()
    value = err.instance
    about = _about(err)
    if err.validator == "enum":
        options = err.validator_value
        return (
            f"{subject}: {value!r} is not one of {', '.join(map(str, options))}"
            f"{_suggest(str(value), [str(o) for o in options])}{about}"
        )
    if err.validator == "type":
        got = f"{value!r} ({type(value).__name__})"
        return f"{subject} must be {_types(err.validator_value)}, not {got}{about}"
    if err.validator in _LIMITS:
        limit = err.validator_value
        return f"{subject} must be {_LIMITS[err.validator]} {limit}, not {value!r}{about}"
    if err.validator == "oneOf":
        return f"{subject}: {value!r} is not allowed here ({_oneof_hint(err)})"
    if err.validator == "pattern":
        return f"{subject}: {value!r} contains characters that are not allowed (letters, digits, _ . + -)"
    if err.validator == "minItems":
        return f"{subject}: needs at least {err.validator_value} entries"
    return f"{subject}: {err.message}"


#: A failed bound in words: `test_size must be below 100`.
_LIMITS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "above",
    "exclusiveMaximum": "below",
}


def _about(err: jsonschema.ValidationError) -> str:
    """': <the key's description>' from the schema (the failing part or the key around it)."""
    while err is not None:
        text = err.schema.get("description") if isinstance(err.schema, dict) else None
        if text:
            text = text.strip().rstrip(".")
            return f": {text[0].lower()}{text[1:]}" if text[:2] != text[:2].upper() else f": {text}"
        err = err.parent
    return ""


def _oneof_hint(err) -> str:
    parts = []
    for sub in err.validator_value:
        if "const" in sub:
            parts.append(repr(sub["const"]))
        elif "enum" in sub:
            parts.append(" | ".join(map(str, sub["enum"])))
        elif "type" in sub:
            parts.append(_types(sub["type"]))
    return "expected " + " or ".join(parts) if parts else "see config/README.md"


def _types(value) -> str:
    names = {
        "string": "text",
        "number": "a number",
        "integer": "a whole number",
        "boolean": "True/False",
        "array": "a list",
        "object": "a mapping",
        "null": "None",
    }
    values = value if isinstance(value, list) else [value]
    return " or ".join(names.get(v, v) for v in values)


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
    db_props = _db_properties()
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


#: A DATA.tests entry of this form names a database defined in DATA; anything else is a path.
DB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def database_keys(data: dict) -> list[str]:
    """Names whose DATA keys define databases: `databases`, then DATA.tests entries given by name."""
    dbs = data.get("databases")
    names = list(dbs) if isinstance(dbs, list) else []
    tests, unlabelled = data.get("tests"), data.get("unlabelled")
    for item in tests if isinstance(tests, list) else []:
        if isinstance(item, str) and DB_NAME.fullmatch(item) and item not in names + DATA_RESERVED:
            names.append(item)
    for item in unlabelled if isinstance(unlabelled, list) else []:  # SELFTRAIN's pools
        if isinstance(item, str) and item not in names + DATA_RESERVED:
            names.append(item)
    return names


def _suggest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if not match:
        lowered = {o.lower(): o for o in options}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f" (did you mean '{match[0]}'?)" if match else ""


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
