"""The config's JSON-Schema and what is read straight from it: ConfigError, the schema itself,
which DATA keys are databases, and a schema error in one line.

Why a module of its own: every check of the config (config.resolve, config.compose,
config.nkululeko, the section checks in config.sections) raises ConfigError and reads the
schema; with both here none of them has to import another, so config has no import cycle.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jsonschema
import yaml

from sauti.core.errors import SautiError
from sauti.core.paths import SCHEMA_PATH
from sauti.core.suggest import did_you_mean

#: Keys of DATA that are not database names.
DATA_RESERVED = (
    "databases target labels min_length max_length samples_per_speaker check_size skip_bad "
    "no_reuse tests unlabelled"
).split()


class ConfigError(SautiError):
    """A config problem; the message names the file, section and key."""


@lru_cache(maxsize=1)
def schema() -> dict:
    # libyaml's loader when present: 0.3 s -> 0.03 s, paid at every Snakemake start
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA_PATH.read_text(encoding="utf-8"), Loader=loader)


def database_properties() -> dict:
    """The schema of one database's options (`DATA.<db>.<option>`)."""
    return schema()["properties"]["DATA"]["additionalProperties"]["oneOf"][1]["properties"]


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


def describe_error(err: jsonschema.ValidationError, path: list[str], cfg: dict) -> str:
    """A schema error in one line: `[MODEL] C_val must be a number, not 'x' (str): ...`."""
    where = f"[{path[0]}] " if path else ""
    key = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path[1:]).lstrip(".")
    if err.validator == "oneOf" and err.context:
        # descend into the branch that matches the value's type, where the real problem is
        relevant = [e for e in err.context if e.validator != "type" and e.validator != "const"]
        if relevant:
            sub = max(relevant, key=lambda e: len(e.absolute_path))
            return describe_error(sub, path + [str(p) for p in sub.path], cfg)
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
            f"{did_you_mean(str(value), [str(o) for o in options])}{about}"
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
