"""DATA.tests at config time: the name each test database gets, which must be its own.

Why in config: an entry that names a database refers to its DATA key, any other entry is a
path named after its file stem, and two entries that end up with one name must stop
`sauti check`, not the planning of the test stages (sauti.stages.test, which reads
`test_databases` from here).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from sauti.config.schema import DB_NAME, ConfigError, database_properties


def test_entries(cfg: dict) -> list[tuple[str, dict]]:
    """DATA.tests as (name, database spec with defaults) pairs, in the listed order.

    An entry that looks like a database name refers to its DATA key (validated by
    sauti.config.resolve); any other entry is a path, named after its file stem.
    """
    data = cfg["DATA"]
    out: list[tuple[str, dict]] = []
    for item in data.get("tests") or []:
        if DB_NAME.fullmatch(item) and isinstance(data.get(item), dict):
            name, spec = item, data[item]
        else:
            name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(item.rstrip("/")).stem) or "test"
            if not name[0].isalpha():
                name = f"test_{name}"
            spec = {"path": item}
            for key, keyspec in database_properties().items():
                if "default" in keyspec:
                    spec.setdefault(key, copy.deepcopy(keyspec["default"]))
        out.append((name, spec))
    return out


def test_databases(cfg: dict) -> dict[str, dict]:
    """DATA.tests as {name: database spec with defaults}, in the listed order (the names are
    unique: check_config)."""
    return dict(test_entries(cfg))


def check_config(cfg: dict, source: str) -> None:
    """Two DATA.tests entries must not get one name."""
    seen: set[str] = set()
    for name, _ in test_entries(cfg):
        if name in seen:
            raise ConfigError(
                f"{source}: [DATA] tests holds two databases named '{name}'",
                hint="define them in DATA under different names and list those names",
            )
        seen.add(name)
