"""Read an experiment file (.ini/.cfg or .yaml/.yml/.json) into a plain nested dict, and take
the config Snakemake read (refusing YTE templates).

Why apart from config.resolve: the Nkululeko translation reads files too (DATA.root_folders),
and resolve translates Nkululeko's keys; with the reading here neither imports the other.
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import yaml

from sauti.config.schema import ConfigError


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


def snakemake_config(config: dict, configfiles) -> tuple[dict, str]:
    """(the config, its source) of a Snakemake run: the first step of the pass when Snakemake
    read the files (`snakemake --configfile`); the registry expands and plans what it returns."""
    source = str(configfiles[-1]) if configfiles else "config"
    for path in configfiles or []:
        refuse_template(path)
    if not config:
        raise ConfigError(
            "no config given", hint="run: snakemake --configfile config/config.yaml -j8"
        )
    return dict(config), source


def refuse_template(path) -> None:
    """Stop when a config file is a YTE template (`__use_yte__: true`). Snakemake evaluates such
    a file's expressions as Python while it loads it, before sauti sees the config (the key is
    gone by then, so the file is read again here); `sauti run` refuses them the same way. An
    experiment file must be data: one from someone else must never run code."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        if "__use_yte__" not in text:
            return
        loaded = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return
    if isinstance(loaded, dict) and loaded.get("__use_yte__"):
        raise ConfigError(
            f"{path}: __use_yte__ makes this file a YTE template, whose expressions Snakemake "
            "ran as Python code",
            hint="write plain values (sauti's lists, grids and ensembles expand experiments)",
        )
