"""Nkululeko's experiment files, run unchanged: every key of its INI reference is honoured,
translated to sauti's spelling, or acknowledged with one warning line.

Why a table and not code spread around: `nkululeko_keys.yaml` lists every documented key once
with what sauti does with it; this module applies it (`translate`), the tests walk it and
`render_doc` turns it into docs/nkululeko.md, so the three cannot drift apart. The functions
named by `via:` in the table handle the value forms that differ (filters, split strategies,
pretrained model names as feature types, FLAGS); each is idempotent, so translating an already
translated config changes nothing.

`python -m sauti.nkululeko --config exp.ini` runs an experiment like Nkululeko's module of that
name (see sauti.app.nk_commands).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

import yaml

from sauti.config.read import read_file
from sauti.config.schema import ConfigError, database_keys, database_properties, schema
from sauti.core.errors import SautiError
from sauti.core.suggest import did_you_mean

TABLE_PATH = Path(__file__).with_name("nkululeko_keys.yaml")
#: Sections of the table that are not config sections.
NOT_SECTIONS = ("feature_types", "model_types")
#: Values that switch a {stop: ...} key off (then it is only acknowledged).
OFF = (False, None, 0, "", "False", "none", "None")

_warned: set[str] = set()


@lru_cache(maxsize=1)
def table() -> dict:
    # libyaml's loader when present: 0.3 s -> 0.03 s, paid at every Snakemake start
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(TABLE_PATH.read_text(encoding="utf-8"), Loader=loader)


def sections() -> list[str]:
    return [s for s in table() if s not in NOT_SECTIONS]


@lru_cache(maxsize=4096)
def entry(section: str, key: str):
    """The table's entry for a key (exact, then `<placeholder>` patterns), or None (callers
    only read it: it is cached, as translate runs for every experiment of a DAG)."""
    keys = table().get(section) or {}
    if key in keys:
        return _normal(keys[key])
    for pattern, value in keys.items():
        if "<" in pattern and re.fullmatch(_regex(pattern), key):
            return _normal(value)
    return None


def _regex(pattern: str) -> str:
    parts = re.split(r"<[^>]+>", pattern)
    return r"[A-Za-z0-9_.-]+?".join(re.escape(p) for p in parts)


def _normal(value) -> dict:
    if value == "honour":
        return {"honour": True}
    return dict(value)


@lru_cache(maxsize=64)
def keys(section: str) -> tuple[str, ...]:
    """Documented Nkululeko keys of a section (for "did you mean")."""
    return tuple(k for k in (table().get(section) or {}) if "<" not in k)


def kind(spec: dict) -> str:
    """honoured | translated | acknowledged | not supported yet (for tests and docs)."""
    if "stop" in spec:
        return "not supported yet"
    if "warn" in spec:
        return "acknowledged"
    if "to" in spec or "via" in spec:
        return "translated"
    return "honoured"


def warn(message: str) -> None:
    """One warning line on stderr, once per process (a config is resolved more than once)."""
    if message not in _warned:
        _warned.add(message)
        print(f"sauti: warning: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- translation


class Translation:
    """One config being translated: where values go, and the notes (warnings) it makes."""

    def __init__(self, cfg: dict, source: str, original: dict):
        self.cfg = cfg
        self.source = source
        self.original = original  # the config as given (read only)
        self.notes: list[str] = []

    def set(self, dotted: str, value) -> None:
        """Set a sauti key: SECTION.key (key may contain dots), DATA.<db>.option,
        GRID.<SECTION.key> and OPTIM.params.<key>."""
        section, _, rest = dotted.partition(".")
        body = self.cfg.setdefault(section, {})
        if section == "DATA" and "." in rest and rest.split(".", 1)[0] in self.databases():
            db, option = rest.split(".", 1)
            body[db][option] = value
        elif section == "OPTIM" and rest.startswith("params."):
            body.setdefault("params", {})[rest.split(".", 1)[1]] = value
        else:
            body[rest] = value

    def databases(self) -> list[str]:
        data = self.cfg.get("DATA")
        return database_keys(data) if isinstance(data, dict) else []


def translate(cfg: dict, source: str = "config") -> tuple[dict, list[str]]:
    """Apply the table to a config in sauti's nested form (DATA.<db> mappings).

    Returns the translated config and the warning lines; raises ConfigError for a documented
    key sauti cannot honour where that would change the results.
    """
    t = Translation(copy.deepcopy(cfg), source, cfg)
    data = t.cfg.get("DATA")
    if isinstance(data, dict) and data.get("root_folders"):
        _root_folders(t, data.pop("root_folders"))
    for section in list(t.cfg):
        body = t.cfg.get(section)
        if section not in table() or section in NOT_SECTIONS or not isinstance(body, dict):
            continue
        for key in list(body):
            if key not in body:
                continue  # taken by an earlier key (augment takes p_reverse)
            if section == "DATA" and key in t.databases():
                _translate_database(t, key)
                continue
            key = _case(body, key, _known(section))
            spec = entry(section, key)
            if spec is None or spec.get("honour") and "via" not in spec:
                _false_is_unset(body, key, _schema_of(section, key))
                continue  # sauti's own key, or unknown (the schema check names it)
            _apply(t, f"[{section}]", section, key, body.pop(key), spec, f"{section}.{key}")
        if section not in _schema_sections() and not t.cfg.get(section):
            t.cfg.pop(section, None)  # FLAGS, EXPORT, CROSSDB: moved or acknowledged
    return t.cfg, t.notes


def _root_folders(t: Translation, value) -> None:
    """DATA.root_folders = data_roots.ini: a file whose [DATA] entries for the experiment's
    databases (`emodb = path`, `emodb.split_strategy = ...`) are defaults the experiment file
    overrides, as in Nkululeko. Relative to the working directory."""
    path = Path(str(value))
    if not path.is_file():
        raise ConfigError(
            f"{t.source}: [DATA] root_folders = {value!r}: no such file",
            hint="the path is relative to the working directory",
        )
    roots = read_file(path).get("DATA") or {}
    data = t.cfg["DATA"]
    for key, entry in roots.items():
        db, _, option = key.partition(".")
        if db not in t.databases():
            continue
        spec = data.get(db)
        if not isinstance(spec, dict):
            spec = data[db] = {} if spec is None else {"path": spec}
        spec.setdefault(option or "path", entry)
    t.notes.append(
        f"{t.source}: [DATA] root_folders = {value!r}: its entries for "
        f"{', '.join(d for d in t.databases() if d in data)} were used"
    )


def root_folders(t, label, target, value):
    if value not in OFF:  # (translate reads the file before the other DATA keys)
        _root_folders(t, value)


def _translate_database(t: Translation, name: str) -> None:
    spec = t.cfg["DATA"][name]
    if not isinstance(spec, dict):
        return
    for option in list(spec):
        if option not in spec:
            continue  # taken by an earlier option (speakers_stated takes test)
        option = _case(spec, option, _known("DATABASE"))
        found = entry("DATABASE", option)
        if found is None or found.get("honour") and "via" not in found:
            _false_is_unset(spec, option, _schema_of("DATABASE", option))
            continue
        where = f"[DATA] {name}."
        _apply(t, where, "DATABASE", option, spec.pop(option), found, f"DATA.{name}.{option}")


def _apply(t: Translation, where: str, section: str, key: str, value, spec: dict, own: str):
    label = f"{where}{key}" if where.endswith(".") else f"{where} {key}"
    target = spec.get("to", own)
    if target.startswith("DATABASE."):
        target = own.rsplit(".", 1)[0] + "." + target.split(".", 1)[1]
    if "warn" in spec:
        _warn(t, label, value, spec["warn"])
    elif "stop" in spec:
        off = spec.get("unless", OFF)
        if value in off or str(value) in [str(o) for o in off]:
            _warn(t, label, value, f"ignored ({spec['stop']} is not supported yet)")
        else:
            _stop(t, label, value, spec["stop"])
    elif "via" in spec:
        VIA[spec["via"]](t, label, target, value)
    else:
        t.set(target, value)


@lru_cache(maxsize=64)
def _known(section: str) -> frozenset[str]:
    return frozenset([*keys(section), *_schema_keys(section)])


def _case(body: dict, key: str, known: frozenset[str]) -> str:
    """Nkululeko's INI parser ignores the case of keys (c_val is C_val): give the key the
    spelling of the one known key it matches, leaving unknown keys to the schema check."""
    if key in known:
        return key
    matches = sorted({k for k in known if k.lower() == key.lower()})
    if len(matches) == 1 and matches[0] not in body:
        body[matches[0]] = body.pop(key)
        return matches[0]
    return key


def _false_is_unset(body: dict, key: str, spec: dict | None) -> None:
    """Nkululeko writes False for "not set" (hf_token = False, logo = False): where sauti's
    key takes no True/False, that is its null, or its default when it has no null."""
    if body.get(key) is not False or spec is None:
        return
    validator = _validator(json.dumps(spec, sort_keys=True))
    if validator.is_valid(False):
        return
    if validator.is_valid(None):
        body[key] = None
    else:
        body.pop(key)


@lru_cache(maxsize=256)
def _validator(spec: str):
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(spec))


@lru_cache(maxsize=1024)
def _schema_of(section: str, key: str) -> dict | None:
    if section == "DATABASE":
        return database_properties().get(key)
    return schema()["properties"].get(section, {}).get("properties", {}).get(key)


def _schema_keys(section: str) -> list[str]:
    if section == "DATABASE":
        return list(database_properties())
    return list(schema()["properties"].get(section, {}).get("properties", {}))


@lru_cache(maxsize=1)
def _schema_sections() -> tuple[str, ...]:
    return tuple(schema()["properties"])


# --------------------------------------------------------------------------- value forms


def _stop(t: Translation, label: str, value, why: str, hint: str | None = None):
    raise ConfigError(f"{t.source}: {label} = {value!r}: {why} is not supported yet", hint=hint)


def _warn(t: Translation, label: str, value, why: str) -> None:
    t.notes.append(f"{t.source}: {label} = {value!r}: {why}")


def exp_name(t, label, target, value):
    """`results/my_exp`: Nkululeko writes to <root>/results/my_exp; sauti names the experiment
    my_exp and puts the folders before it under the root, so the result lands in the same place."""
    if isinstance(value, str) and "/" in value.strip("/"):
        parts = [p for p in value.strip("/").split("/") if p not in ("", ".")]
        exp = t.cfg["EXP"]
        root = str(exp.get("root") or _default("EXP", "root"))
        exp["root"] = os.path.normpath(Path(root, *parts[:-1]))
        value = parts[-1]
    t.set(target, value)


def folder(t, label, target, value):
    """./results/ -> results: the same folder, written as Snakemake wants its paths."""
    t.set(target, os.path.normpath(value) if isinstance(value, str) and value else value)


def zero_is_none(t, label, target, value):
    """Nkululeko's 0.0 (or False) duration limit means no limit."""
    t.set(target, None if value in (0, 0.0, False) else value)


def only_database(t, label, target, value):
    """A per-database limit is the experiment's own when the experiment has one database."""
    if value in OFF or value is False:
        return
    if len(t.cfg["DATA"].get("databases") or []) != 1:
        _stop(t, label, value, "a per-database limit with several databases")
    zero_is_none(t, label, target, value)


def filter_form(t, label, target, value):
    """[col, val], [[col, val, ...]], [[col, [val, ...]]] and {col: val or [vals]} -> sauti's
    [[col, val, ...], ...] (a row is kept when its column has one of the values)."""
    t.set(target, filters(value, lambda why: _stop(t, label, value, why)))


def filters(value, fail) -> list:
    if value in (None, False, []):
        return []
    if isinstance(value, dict):
        return [
            [col, *(vals if isinstance(vals, list | tuple) else [vals])]
            for col, vals in value.items()
        ]
    if isinstance(value, list | tuple) and value and isinstance(value[0], str):
        value = [value]  # one filter written flat: [col, val]
    out = []
    for item in value if isinstance(value, list | tuple) else [value]:
        if not isinstance(item, list | tuple) or len(item) < 2:
            fail("a filter other than [column, value, ...] or {column: values}")
        values = []
        for v in item[1:]:
            values += list(v) if isinstance(v, list | tuple) else [v]
        out.append([item[0], *values])
    return out


def filter_all_databases(t, label, target, value):
    for db in t.databases():
        spec = t.cfg["DATA"].get(db)
        if isinstance(spec, dict):
            spec["filter"] = (spec.get("filter") or []) + filters(
                value, lambda why: _stop(t, label, value, why)
            )


def balance_list(t, label, target, value):
    """{'emotion': 2, 'age': 1} -> [emotion, age]: sauti weighs the columns equally."""
    if isinstance(value, dict):
        if len(set(value.values())) > 1:
            _warn(t, label, value, "sauti balances the columns with equal weights")
        value = list(value)
    t.set(target, value)


def balance_all_databases(t, label, target, value):
    for db in t.databases():
        spec = t.cfg["DATA"].get(db)
        if isinstance(spec, dict) and not spec.get("balance"):
            balance_list(t, label, f"DATA.{db}.balance", value)


def split_strategy(t, label, target, value):
    """Nkululeko's strategies that sauti spells differently."""
    db = target.split(".")[1]
    spec = t.cfg["DATA"][db]
    if value == "database":  # the target's <target>.train/.dev/.test tables
        task = t.cfg["DATA"].get("target") or _default("DATA", "target")
        for split in ("train", "dev", "test"):
            spec.setdefault(f"{split}_tables", [f"{task}.{split}"] if split != "dev" else [])
        value = "specified"
    elif value == "reuse":
        _warn(t, label, value, "sauti's seeded split is the same every run: speaker_split")
        value = "speaker_split"
    elif value == "speakers_stated":
        if not spec.get("test"):
            _stop(t, label, value, "speakers_stated without test speakers")
        value = list(spec.pop("test"))
    elif value == "dev":
        _stop(t, label, value, "a whole database as dev set")
    t.set(target, value)


def stated_test_speakers(t, label, target, value):
    """<db>.test = [...] of speakers_stated: sauti's list-of-test-speakers split."""
    db = target.split(".")[1]
    spec = t.cfg["DATA"][db]
    if spec.get("split_strategy") in ("speakers_stated", None) or isinstance(
        spec.get("split_strategy"), list
    ):
        spec["split_strategy"] = list(value)
    else:
        _warn(
            t,
            label,
            value,
            f"used only with split_strategy speakers_stated, not {spec.get('split_strategy')}",
        )


def absolute_path(t, label, target, value):
    """absolute_path = False: Nkululeko reads relative files as <CSV folder>/<audio_path>/<file>;
    sauti reads audio_path relative to the working directory, so that folder becomes audio_path
    (and absolute_path True, which makes a second translation change nothing)."""
    spec = t.cfg["DATA"][target.split(".")[1]]
    audio = spec.get("audio_path")
    if value is False and audio and not Path(str(audio)).is_absolute() and spec.get("path"):
        spec["audio_path"] = str(Path(str(spec["path"])).parent / str(audio))
        value = True
    t.set(target, value)


def label_column(t, label, target, value):
    """<db>.label: this database's target column, renamed to DATA.target."""
    db = target.split(".")[1]
    goal = t.cfg["DATA"].get("target") or _default("DATA", "target")
    if value and value != goal:
        spec = t.cfg["DATA"][db]
        spec["colnames"] = {**(spec.get("colnames") or {}), value: goal}


def as_split(t, label, target, value):
    """as_test / as_train = True: the whole database is test (train) data."""
    if value is True or str(value) == "True":
        db, option = target.split(".")[1:]
        t.cfg["DATA"][db]["split_strategy"] = option.split("_")[1]


def feature_types(t, label, target, value):
    """Pretrained model names as feature types -> sauti's embedding kind + <kind>.model."""
    spec = table()["feature_types"]
    feats = t.cfg["FEATS"]
    if value in ([], "", None):  # Nkululeko's finetune files leave it empty: sauti's default
        return
    out = []
    for name in value if isinstance(value, list | tuple) else [value]:
        name = str(name)
        prefix = name.split("-", 1)[0]
        if name in spec["named"]:
            kind_, model = spec["named"][name]["type"], spec["named"][name]["model"]
        elif prefix in spec["unsupported"]:
            _stop(t, label, value, f"FEATS.type {name!r} ({spec['unsupported'][prefix]})")
        elif name in spec["bare"]:
            kind_, model = name, spec["bare"][name]
        elif prefix in spec["prefixes"] and "-" in name:
            kind_, model = prefix, f"{spec['prefixes'][prefix]}/{name}"
        else:
            out.append(name)  # sauti's own kinds; the schema names an unknown one
            continue
        if f"{kind_}.model" not in feats:
            feats[f"{kind_}.model"] = model
        if kind_ not in out:
            out.append(kind_)
    t.set(target, out)


#: imbalanced-learn methods Nkululeko offers that sauti spells differently.
BALANCING = {"randomundersampler": "rus"}


def balancing(t, label, target, value):
    """FEATS.balancing: Nkululeko's names; methods sauti lacks stop (they change the data)."""
    value = BALANCING.get(value, value)
    allowed = schema()["properties"]["FEATS"]["properties"]["balancing"]["enum"]
    if value not in allowed and str(value).lower() not in ("none", "false"):
        _stop(t, label, value, f"the balancing method {value!r}", hint=f"use one of {allowed[:-1]}")
    t.set(target, None if str(value).lower() in ("none", "false") else value)


def os_level(t, label, target, value):
    t.set(target, "functionals" if value == "functional" else value)


def import_file(t, label, target, value):
    if isinstance(value, list | tuple):
        if len(value) != 1:
            _stop(t, label, value, "several import files")
        value = value[0]
    t.set(target, value)


def scale(t, label, target, value):
    if value in ("bins", "maxabs", "normalizer", "powertransformer", "quantiletransformer"):
        _stop(t, label, value, f"feature scaling {value!r}")
    t.set(target, "none" if value in (False, None) else value)


def layer(t, label, target, value):
    if isinstance(value, int) and value >= 0 and t.source.endswith(".ini"):
        _warn(
            t,
            label,
            value,
            f"sauti counts layers from the input (Nkululeko from the top): for Nkululeko's layer {value} write {-(value + 1)}",
        )
    t.set(target, value)


def model_type(t, label, target, value):
    spec = table()["model_types"]
    if value in spec["unsupported"]:
        _stop(t, label, value, f"MODEL.type {value!r} ({spec['unsupported'][value]})")
    t.set(target, spec["named"].get(value, value))


def loss(t, label, target, value):
    if value in ("bce", "f1", "focal", "1-pcc", "weighted_bce"):
        _stop(t, label, value, f"the loss {value!r}")
    t.set(target, value)


def dropout(t, label, target, value):
    if isinstance(value, list | tuple):
        _stop(t, label, value, "a dropout per hidden layer", hint="give one number")
    t.set(target, value)


def measure(t, label, target, value):
    if value in ("eer", "pcc"):
        _stop(t, label, value, f"the measure {value!r}")
    t.set(target, value)


def scatter_method(t, label, target, value):
    """EXPL tsne/umap/pca = True: the method joins EXPL.scatter."""
    method = target.rsplit(".", 1)[1]
    if value is True or str(value) == "True":
        expl = t.cfg["EXPL"]
        current = expl.get("scatter") or []
        current = [current] if isinstance(current, str) else list(current)
        if method not in current:
            expl["scatter"] = current + [method]


#: audiomentations class names in Nkululeko's Compose([...]) -> sauti's augmentation types.
AUDIOMENTATIONS = {
    "AddGaussianNoise": "noise",
    "AddColorNoise": "noise",
    "Shift": "time_shift",
    "PitchShift": "pitch_shift",
    "Gain": "gain",
    "TimeStretch": "tempo",
}


def augmentations(t, label, target, value):
    if isinstance(value, str) and value.strip().startswith("Compose"):
        value = _compose(t, label, value)
    t.set(target, value)


def _compose(t, label, value: str) -> list:
    out = []
    for name, args in re.findall(r"(\w+)\(([^()]*)\)", value.split("(", 1)[1]):
        if name not in AUDIOMENTATIONS:
            _stop(t, label, value, f"the audiomentations transform {name}")
        item = {"type": AUDIOMENTATIONS[name]}
        p = re.search(r"\bp\s*=\s*([0-9.]+)", args)
        if p:
            item["p"] = float(p.group(1))
        out.append(item)
    _warn(t, label, value, "sauti's types with its own parameter defaults (only p is kept)")
    return out


#: Nkululeko's default augmentations ('traditional').
TRADITIONAL = "Compose([AddGaussianNoise(min_amplitude=0.001, max_amplitude=0.05), Shift(p=0.5), BandPassFilter(min_center_freq=100.0, max_center_freq=6000)])"


def augment_methods(t, label, target, value):
    """AUGMENT.augment = ['traditional', 'random_splice']: the augmentations sauti runs."""
    section = t.cfg["AUGMENT"]
    if isinstance(value, str) and value.strip().startswith("Compose"):  # the transforms given here
        section["augmentations"], value = value, ["traditional"]
    if isinstance(section.get("augmentations"), str):  # given after augment in the section
        augmentations(t, label, "AUGMENT.augmentations", section["augmentations"])
    out = list(section.get("augmentations") or [])
    for method in value if isinstance(value, list | tuple) else [value]:
        if method == "traditional":
            if not out:
                out = _compose(t, label, TRADITIONAL.replace("BandPassFilter", "Gain"))
                _warn(t, label, method, "sauti has no band-pass filter; a gain change stands in")
        elif method == "random_splice":
            p = section.pop("p_reverse", t.original.get("AUGMENT", {}).get("p_reverse", 0.3))
            out.append({"type": "splice", "p_reverse": float(p)})
        elif method in (False, None, "none"):
            continue
        else:
            _stop(t, label, value, f"the augmentation method {method!r}")
    section["augmentations"] = out


def splice_option(t, label, target, value):
    """p_reverse belongs to the splice augmentation (augment = ['random_splice'])."""
    for item in t.cfg["AUGMENT"].get("augmentations") or []:
        if isinstance(item, dict) and item.get("type") == "splice":
            item["p_reverse"] = float(value)
            return
    augment = t.original.get("AUGMENT", {}).get("augment")
    if "random_splice" not in (augment or []):
        _warn(t, label, value, "used only with augment = ['random_splice']")
    else:
        t.cfg["AUGMENT"]["p_reverse"] = value  # augment comes later in the section


def search_strategy(t, label, target, value):
    if value not in ("grid", "random"):
        _stop(t, label, value, f"the search strategy {value!r}", hint="use grid or random")
    t.set(target, value)


def optim_metric(t, label, target, value):
    if value in ("precision", "recall", "sensitivity", "specificity"):
        _stop(t, label, value, f"the optimisation metric {value!r}")
    t.set(target, {"f1": "f1_macro"}.get(value, value))


def flag_features(t, label, target, value):
    """FLAGS features = ['os', 'praat']: one experiment per feature type."""
    values = value if isinstance(value, list | tuple) else [value]
    spec = table()["feature_types"]
    for name in (str(n) for v in values for n in (v if isinstance(v, list) else [v])):
        prefix = name.split("-", 1)[0]
        if name in spec["named"] or prefix in spec["unsupported"] or "-" in name:
            _stop(
                t,
                label,
                value,
                f"a pretrained model name ({name}) as a FLAGS feature",
                hint="write one experiment file per model, or a GRID over FEATS.<kind>.model",
            )
    t.set(target, [v if isinstance(v, list) else [v] for v in values])


def flag_none(t, label, target, value):
    """'none' in FLAGS balancing means no balancing (sauti's null); for scale sauti's 'none'."""
    values = value if isinstance(value, list | tuple) else [value]
    empty = None if target.endswith("balancing") else "none"
    t.set(target, [empty if str(v).lower() == "none" else v for v in values])


def flag_key(t, label, target, value):
    """Any other FLAGS key (learning_rate, epochs, C_val, ...) is a GRID axis of its section."""
    key = target.split(".", 1)[1]
    owners = [s for s, body in schema()["properties"].items() if key in body.get("properties", {})]
    if not owners:
        raise ConfigError(
            f"{t.source}: [FLAGS] unknown key '{key}'{did_you_mean(key, keys('FLAGS'))}",
            hint="FLAGS keys are models, features, balancing, scale or a key of EXP, MODEL or FEATS",
        )
    owner = "MODEL" if "MODEL" in owners else owners[0]
    values = value if isinstance(value, list | tuple) else [value]
    t.set(f"GRID.{owner}.{key}", list(values))


def _default(section: str, key: str):
    return schema()["properties"][section]["properties"][key].get("default")


VIA = {
    f.__name__: f
    for f in (
        exp_name,
        folder,
        root_folders,
        zero_is_none,
        only_database,
        filter_form,
        filter_all_databases,
        balance_list,
        balance_all_databases,
        split_strategy,
        stated_test_speakers,
        absolute_path,
        label_column,
        as_split,
        feature_types,
        balancing,
        os_level,
        import_file,
        scale,
        layer,
        model_type,
        loss,
        dropout,
        measure,
        scatter_method,
        augmentations,
        augment_methods,
        splice_option,
        search_strategy,
        optim_metric,
        flag_features,
        flag_none,
        flag_key,
    )
}


def check_table() -> None:
    """Every `via:` names a function here (a test calls it)."""
    for section in sections():
        for key, value in (table()[section] or {}).items():
            spec = _normal(value)
            if "via" in spec and spec["via"] not in VIA:
                raise SautiError(f"nkululeko_keys.yaml: {section}.{key}: no function {spec['via']}")


# --------------------------------------------------------------------------- docs page

DOC_HEADER = """# Coming from Nkululeko

Generated from `src/sauti/nkululeko_keys.yaml` by `sauti nkululeko-doc > docs/nkululeko.md`; do
not edit by hand (a test compares them).

sauti runs Nkululeko's experiment files unchanged: `sauti run exp.ini` (or
`sauti nkululeko --config exp.ini`, or `python -m sauti.nkululeko --config exp.ini`).
`sauti convert exp.ini` prints the file in sauti's own spelling (YAML), so you can see what each
key became. Every key of Nkululeko's INI reference is one of:

- **honoured**: the same key with the same meaning;
- **translated**: the same meaning under sauti's spelling (the table says which key);
- **acknowledged**: sauti does it another way or not at all; one warning line names the key
  and why, and the run goes on;
- **not supported yet**: a key whose absence would change the results (a feature extractor or
  model sauti lacks); the run stops with one line saying so. Written with its "off" value
  (`False`, or the value given) it is only acknowledged.

Keys are case-insensitive, as in Nkululeko (`c_val` is `C_val`); `False` for a key that takes a
value means "not set". A typo still gets "did you mean".

## Commands

| Nkululeko | sauti | builds |
|---|---|---|
| `python -m nkululeko.nkululeko --config exp.ini` | `sauti nkululeko --config exp.ini` (= `sauti run exp.ini`) | the whole experiment |
| `python -m nkululeko.explore` | `sauti explore --config exp.ini` | the explore stage only (and the data and features it reads) |
| `python -m nkululeko.augment` | `sauti augment --config exp.ini` | the augmented audio only |
| `python -m nkululeko.aug_train` | `sauti aug_train --config exp.ini` | the experiment with AUGMENT |
| `python -m nkululeko.predict` | `sauti predict --config exp.ini` | the PREDICT columns only |
| `python -m nkululeko.segment` | `sauti segment --config exp.ini` | the segments only |
| `python -m nkululeko.resample` | `sauti resample --config exp.ini` | 16 kHz mono copies and their table (see RESAMPLE) |
| `python -m nkululeko.test` | `sauti test --config exp.ini` | the trained model on DATA.tests |
| `python -m nkululeko.demo` | `sauti demo --config exp.ini --file x.wav` | predictions for new audio |
| `python -m nkululeko.ensemble` | `sauti ensemble --config a.ini b.ini --method ...` | the ensemble |
| `python -m nkululeko.multidb` | `sauti multidb --config exp.ini` | the cross-database matrix |
| `python -m nkululeko.flags` | `sauti flags --config exp.ini` | one experiment per FLAGS combination (a GRID) |
| `python -m nkululeko.optim` | `sauti optim --config exp.ini` | the hyper-parameter search only |

Each is also `python -m sauti.<module> --config exp.ini`. They are Snakemake targets of one DAG:
what `sauti explore` built, a later `sauti nkululeko` finds cached. Snakemake options follow
(`-j4`, `-n`).

## Paths

Database paths, `EXP.root` and `audio_path` are relative to the working directory, as in
Nkululeko. A CSV's relative file names are resolved against `audio_path`, else the CSV's folder,
and where no file is there, against the working directory (Nkululeko's reading with its default
`absolute_path = True`);
with `absolute_path = False` and a relative `audio_path`, Nkululeko's
`<CSV folder>/<audio_path>/<file>` is kept. `EXP.name = results/my_exp` names the experiment
`my_exp` and puts it under `<root>/results/`, the folder Nkululeko writes to.

## audformat databases

As Nkululeko reads them: the tables named by `files_tables`, `target_tables` and
`train_tables`/`dev_tables`/`test_tables` (every table when none is named), each column with
the fields of its scheme (emodb's `speaker` column brings `gender` and `age` from the speaker
scheme), and the columns of the database's other file tables. With `split_strategy =
specified` the train/dev/test tables are the split; otherwise a table's `split_id` marks its
split. `config/examples/demo_audformat.ini` is Nkululeko's emodb hello world on a database in
emodb's structure (`resources/demo/build_audformat_db.py` builds it from the demo corpus).

## RESAMPLE: when you need it

sauti's readers resample every file to 16 kHz mono on load, so experiments never need
`sauti resample`. Use it to share a database or to feed tools that expect 16 kHz files: it
writes the experiment's audio (EXP.sample_selection) as 16 kHz mono wavs into a keyed stage,
the table of them to `<root>/<name>/<RESAMPLE.target>` (a CSV database), and with
`RESAMPLE.replace = True` writes the 16 kHz version over each original file.
"""


def render_doc() -> str:
    """docs/nkululeko.md: the commands, then every section's keys from the table."""
    out = [DOC_HEADER, "## Keys\n"]
    for section in sections():
        title = "DATA: per-database options (`<db>.<option>`)" if section == "DATABASE" else section
        out.append(f"### [{title}]\n")
        out.append("| key | sauti | note |\n|---|---|---|")
        for key, value in table()[section].items():
            spec = _normal(value)
            out.append(f"| `{key}` | {_what(section, spec, key)} | {_cell(spec.get('doc', ''))} |")
        out.append("")
    ft = table()["feature_types"]
    out.append("## Feature types (`FEATS.type`)\n")
    out.append("| Nkululeko | sauti |\n|---|---|")
    for prefix, org in ft["prefixes"].items():
        out.append(
            f"| `{prefix}-<name>` | `type: [{prefix}]`, `{prefix}.model: {org}/{prefix}-<name>` |"
        )
    for name, model in ft["bare"].items():
        out.append(
            f"| `{name}` | `type: [{name}]`, `{name}.model: {model}` (Nkululeko's default) |"
        )
    for name, spec in ft["named"].items():
        out.append(
            f"| `{name}` | `type: [{spec['type']}]`, `{spec['type']}.model: {spec['model']}` |"
        )
    for name, why in ft["unsupported"].items():
        out.append(f"| `{name}` | not supported yet ({why}) |")
    out.append(
        "\nos, praat, mfcc, import, spectra, wav2vec2, hubert, wavlm, whisper, ast, clap and"
    )
    out.append("spkrec are sauti's own types (see config/README.md). praat gives Nkululeko's 45")
    out.append("columns with its names and values (`FEATS.praat.definitions: nkululeko`, the")
    out.append("default; docs/benchmarks.md compares them).\n")
    mt = table()["model_types"]
    out.append("## Model types (`MODEL.type`)\n")
    out.append("| Nkululeko | sauti |\n|---|---|")
    for name, sauti_name in mt["named"].items():
        out.append(f"| `{name}` | `{sauti_name}` |")
    for name, why in mt["unsupported"].items():
        out.append(f"| `{name}` | not supported yet ({why}) |")
    out.append("\nEvery other Nkululeko model type has the same name in sauti.\n")
    return "\n".join(out)


def _what(section: str, spec: dict, key: str) -> str:
    kind_ = kind(spec)
    if kind_ == "honoured":
        return "honoured"
    if kind_ == "translated":
        to = spec.get("to")
        if to and to.startswith("DATABASE."):
            to = "<db>." + to.split(".", 1)[1]
        return f"translated to `{to}`" if to else "translated"
    if kind_ == "acknowledged":
        return f"acknowledged: {_cell(spec['warn'])}"
    return f"not supported yet: {_cell(spec['stop'])}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
