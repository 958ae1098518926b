"""config/README.md generated from the JSON-Schema, so documentation and defaults never drift.

`sauti schema-doc > config/README.md` writes it; tests/test_config.py fails when the committed
file differs from what this renders.
"""

from __future__ import annotations

import json

from sauti.config.schema import schema

HEADER = """# sauti configuration keys

Generated from `workflow/schemas/config.schema.yaml` by `sauti schema-doc > config/README.md`;
do not edit by hand (a test compares them).

An experiment file has the sections below, as an INI file (Nkululeko style: values are Python
literals, e.g. `type = ['os']`, `C_val = 10`, `labels = ['female', 'male']`) or as YAML with the
same sections as mappings (`MODEL: {type: svm, C_val: 10}`). `sauti convert exp.ini` prints the
YAML form. Unknown sections or keys, wrong types and missing required keys stop the run before
any job starts, with a one-line message naming the file, section and key.

Relative paths are resolved against the directory you run `snakemake`/`sauti` from.
"""


def render() -> str:
    spec = schema()
    out = [HEADER]
    for section, body in spec["properties"].items():
        if section.startswith("_"):
            continue
        required = set(body.get("required", []))
        out.append(f"## [{section}]\n\n{_clean(body.get('description', ''))}\n")
        props = body.get("properties", {})
        if not props and isinstance(body.get("additionalProperties"), dict):
            props = {"<SECTION.key>": body["additionalProperties"]}  # a free-form mapping (GRID)
        out.append(_table(props, required))
        if section == "DATA":
            db = body["additionalProperties"]["oneOf"][1]
            out.append(
                "\n### Per-database options: `DATA.<db>` mapping, or `<db>.<option>` in INI files\n\n"
                "`<db>` is the path itself (a string) or a mapping with `path` and these options.\n"
            )
            out.append(_table(db["properties"], set(db.get("required", []))))
        out.append("")
    return "\n".join(out)


def _table(props: dict, required: set) -> str:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, spec in props.items():
        default = (
            "**required**"
            if key in required
            else f"`{json.dumps(spec['default'])}`"
            if "default" in spec
            else ""
        )
        rows.append(
            f"| `{key}` | {_type(spec)} | {default} | {_clean(spec.get('description', ''))} |"
        )
    return "\n".join(rows) + "\n"


def _type(spec: dict) -> str:
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"] if v is not None) + (
            " \\| null" if None in spec["enum"] else ""
        )
    if "oneOf" in spec:
        return " or ".join(_type(s) for s in spec["oneOf"])
    if "const" in spec:
        return f"`{spec['const']}`"
    kind = spec.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " \\| ".join(kinds)
    if "array" in kinds and "items" in spec and "enum" in spec["items"]:
        text = "list of " + _type(spec["items"])
    return text


def _clean(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
